// Command histchunk_peer encodes histogram sequences with Prometheus's own chunk
// appenders, for tests/integration/tsdb/test_histogram_chunks_prometheus.py.
package main

// Reads JSON lines: {"integer":bool,"samples":[{"t":..,"schema":..,"zt":..,"zc":..,"count":..,"sum":..,
// "ps":[[off,len]..],"pb":[abs..],"ns":..,"nb":..,"hint":..,"cv":[..],"stale":bool}]}
// and prints, per line, the chunks Prometheus's appender makes: "enc hex" separated by spaces.
import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

type S struct {
	T      int64      `json:"t"`
	Schema int32      `json:"schema"`
	ZT     float64    `json:"zt"`
	ZC     float64    `json:"zc"`
	Count  float64    `json:"count"`
	Sum    float64    `json:"sum"`
	PS     [][2]int64 `json:"ps"`
	PB     []float64  `json:"pb"`
	NS     [][2]int64 `json:"ns"`
	NB     []float64  `json:"nb"`
	Hint   int        `json:"hint"`
	CV     []float64  `json:"cv"`
	Stale  bool       `json:"stale"`
}

type L struct {
	Name    string `json:"name"`
	Integer bool   `json:"integer"`
	Samples []S    `json:"samples"`
}

func spans(x [][2]int64) []histogram.Span {
	var out []histogram.Span
	for _, s := range x {
		out = append(out, histogram.Span{Offset: int32(s[0]), Length: uint32(s[1])})
	}
	return out
}

func deltas(abs []float64) []int64 {
	var out []int64
	var prev int64
	for _, a := range abs {
		out = append(out, int64(a)-prev)
		prev = int64(a)
	}
	return out
}

func customValues(cv []float64) []float64 {
	if len(cv) == 0 {
		return nil // the head refuses an empty non-nil slice on exponential schemas
	}
	return cv
}

func toHistogram(s S) *histogram.Histogram {
	if s.Stale {
		return &histogram.Histogram{Sum: math.Float64frombits(value.StaleNaN)}
	}
	return &histogram.Histogram{Schema: s.Schema, ZeroThreshold: s.ZT, ZeroCount: uint64(s.ZC),
		Count: uint64(s.Count), Sum: s.Sum, PositiveSpans: spans(s.PS), PositiveBuckets: deltas(s.PB),
		NegativeSpans: spans(s.NS), NegativeBuckets: deltas(s.NB),
		CounterResetHint: histogram.CounterResetHint(s.Hint), CustomValues: customValues(s.CV)}
}

func toFloatHistogram(s S) *histogram.FloatHistogram {
	if s.Stale {
		return &histogram.FloatHistogram{Sum: math.Float64frombits(value.StaleNaN)}
	}
	return &histogram.FloatHistogram{Schema: s.Schema, ZeroThreshold: s.ZT, ZeroCount: s.ZC,
		Count: s.Count, Sum: s.Sum, PositiveSpans: spans(s.PS), PositiveBuckets: s.PB,
		NegativeSpans: spans(s.NS), NegativeBuckets: s.NB,
		CounterResetHint: histogram.CounterResetHint(s.Hint), CustomValues: customValues(s.CV)}
}

// headChunks appends one series, sample by sample, to a real Prometheus head
// (2h chunk range) and returns the head's chunks of it.
func headChunks(l L) []string {
	dir, err := os.MkdirTemp("", "histchunk-head")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	opts := tsdb.DefaultHeadOptions()
	opts.ChunkDirRoot = dir
	h, err := tsdb.NewHead(nil, nil, nil, nil, opts, nil)
	if err != nil {
		panic(err)
	}
	defer h.Close()
	lbls := labels.FromStrings("__name__", "h")
	for _, s := range l.Samples {
		app := h.Appender(context.Background())
		if l.Integer {
			_, err = app.AppendHistogram(0, lbls, s.T, toHistogram(s), nil)
		} else {
			_, err = app.AppendHistogram(0, lbls, s.T, nil, toFloatHistogram(s))
		}
		if err != nil {
			panic(err)
		}
		if err := app.Commit(); err != nil {
			panic(err)
		}
	}
	q, err := tsdb.NewBlockChunkQuerier(tsdb.NewRangeHead(h, math.MinInt64, math.MaxInt64), math.MinInt64, math.MaxInt64)
	if err != nil {
		panic(err)
	}
	defer q.Close()
	ss := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "h"))
	var parts []string
	for ss.Next() {
		it := ss.At().Iterator(nil)
		for it.Next() {
			m := it.At()
			parts = append(parts, fmt.Sprintf("%d:%s", m.Chunk.Encoding(), hex.EncodeToString(m.Chunk.Bytes())))
		}
	}
	return parts
}

// writeBlock appends every series to one Prometheus head and compacts the head
// into a block under dir (Prometheus's own block writer); prints the block's ULID.
func writeBlock(dir string, series []L) {
	opts := tsdb.DefaultHeadOptions()
	opts.ChunkDirRoot = dir
	h, err := tsdb.NewHead(nil, nil, nil, nil, opts, nil)
	if err != nil {
		panic(err)
	}
	defer h.Close()
	mint, maxt := int64(math.MaxInt64), int64(math.MinInt64)
	for _, l := range series {
		lbls := labels.FromStrings("__name__", l.Name)
		for _, s := range l.Samples {
			app := h.Appender(context.Background())
			if l.Integer {
				_, err = app.AppendHistogram(0, lbls, s.T, toHistogram(s), nil)
			} else {
				_, err = app.AppendHistogram(0, lbls, s.T, nil, toFloatHistogram(s))
			}
			if err != nil {
				panic(err)
			}
			if err := app.Commit(); err != nil {
				panic(err)
			}
			mint, maxt = min(mint, s.T), max(maxt, s.T)
		}
	}
	c, err := tsdb.NewLeveledCompactor(context.Background(), nil, nil, []int64{opts.ChunkRange}, nil, nil)
	if err != nil {
		panic(err)
	}
	ids, err := c.Write(dir, tsdb.NewRangeHead(h, mint, maxt), mint, maxt+1, nil)
	if err != nil {
		panic(err)
	}
	for _, id := range ids {
		fmt.Println(id.String())
	}
}

func main() {
	if len(os.Args) > 2 && os.Args[1] == "block" {
		var series []L
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(make([]byte, 1<<20), 1<<26)
		for sc.Scan() {
			var l L
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				panic(err)
			}
			series = append(series, l)
		}
		writeBlock(os.Args[2], series)
		return
	}
	head := len(os.Args) > 1 && os.Args[1] == "head"
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var l L
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			panic(err)
		}
		if head {
			fmt.Println(strings.Join(headChunks(l), " "))
			continue
		}
		var chunks []chunkenc.Chunk
		var c chunkenc.Chunk
		var app chunkenc.Appender
		if l.Integer {
			c = chunkenc.NewHistogramChunk()
		} else {
			c = chunkenc.NewFloatHistogramChunk()
		}
		app, _ = c.Appender()
		for _, s := range l.Samples {
			var nc chunkenc.Chunk
			var err error
			if l.Integer {
				nc, _, app, err = app.AppendHistogram(nil, 0, s.T, toHistogram(s), false)
			} else {
				nc, _, app, err = app.AppendFloatHistogram(nil, 0, s.T, toFloatHistogram(s), false)
			}
			if err != nil {
				panic(err)
			}
			if nc != nil {
				// AppendHistogram returns either a recoded chunk (replacing c) or a new one.
				if isNew(c, nc) {
					chunks = append(chunks, c)
				}
				c = nc
			}
		}
		chunks = append(chunks, c)
		var parts []string
		for _, ch := range chunks {
			parts = append(parts, fmt.Sprintf("%d:%s", ch.Encoding(), hex.EncodeToString(ch.Bytes())))
		}
		fmt.Println(strings.Join(parts, " "))
	}
}

// isNew: a new chunk holds exactly one sample; a recoded one holds the old ones too.
func isNew(old, nc chunkenc.Chunk) bool {
	return nc.NumSamples() == 1 && old.NumSamples() >= 1
}
