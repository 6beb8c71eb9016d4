// Command histchunk_peer encodes histogram sequences with Prometheus's own chunk
// appenders, for tests/integration/tsdb/test_histogram_chunks_prometheus.py.
package main

// Reads JSON lines: {"integer":bool,"samples":[{"t":..,"schema":..,"zt":..,"zc":..,"count":..,"sum":..,
// "ps":[[off,len]..],"pb":[abs..],"ns":..,"nb":..,"hint":..,"cv":[..],"stale":bool}]}
// and prints, per line, the chunks Prometheus's appender makes: "enc hex" separated by spaces.
import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/value"
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
	Integer bool `json:"integer"`
	Samples []S  `json:"samples"`
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

func main() {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var l L
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			panic(err)
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
				h := &histogram.Histogram{Schema: s.Schema, ZeroThreshold: s.ZT, ZeroCount: uint64(s.ZC),
					Count: uint64(s.Count), Sum: s.Sum, PositiveSpans: spans(s.PS), PositiveBuckets: deltas(s.PB),
					NegativeSpans: spans(s.NS), NegativeBuckets: deltas(s.NB),
					CounterResetHint: histogram.CounterResetHint(s.Hint), CustomValues: s.CV}
				if s.Stale {
					h = &histogram.Histogram{Sum: math.Float64frombits(value.StaleNaN)}
				}
				nc, _, app, err = app.AppendHistogram(nil, 0, s.T, h, false)
			} else {
				h := &histogram.FloatHistogram{Schema: s.Schema, ZeroThreshold: s.ZT, ZeroCount: s.ZC,
					Count: s.Count, Sum: s.Sum, PositiveSpans: spans(s.PS), PositiveBuckets: s.PB,
					NegativeSpans: spans(s.NS), NegativeBuckets: s.NB,
					CounterResetHint: histogram.CounterResetHint(s.Hint), CustomValues: s.CV}
				if s.Stale {
					h = &histogram.FloatHistogram{Sum: math.Float64frombits(value.StaleNaN)}
				}
				nc, _, app, err = app.AppendFloatHistogram(nil, 0, s.T, h, false)
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
