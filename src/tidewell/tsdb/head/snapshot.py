"""A head's complete state as a few flat arrays, and back: what snapshots persist.

Restoring gives a head equal to the one saved (same series refs, closed and
open chunks, staged samples), so replaying the WAL after it yields exactly the
head that never stopped.

Version 4 adds native histograms: closed and open histogram chunks as bytes
(``hchunk_*``) and, as JSON, each series' open-chunk end time and its
out-of-order histograms. Versions 2 and 3
load as heads without histograms.

Each series' ``ooo_max_ts`` (the newest sample it took below the appendable
minimum) is saved as ``ooo_max_ts``, so a late backlog that goes on after a
restart keeps the columnar path of ``old_samples``; a snapshot without it (written
before) loads with the bound unknown (``INT64_MAX``: every late sample inside a
series' span takes the per-sample path until the next truncation).

Version 3 stores the open chunks (``open_chunks``): their arena and per-ref
state arrays, prefixed ``open_``. Version 2 (before open chunks) still loads:
its closed chunks and staged samples are installed as they are and its
``cut_maxt`` becomes the in-order frontier, so the next cut moves the staged
samples into open chunks; the samples are the same, only where later chunks
end may differ from the head that never stopped.
"""

from __future__ import annotations

import json
from typing import IO

import numpy as np

from tidewell.model.labels import Labels
from tidewell.tsdb.head.head import INT64_MAX, Head
from tidewell.tsdb.head.hist_chunks import HistChunk
from tidewell.tsdb.head.staging import Staging

__all__ = ["load_head", "save_head"]

FORMAT_VERSION = 4
_READABLE = (2, 3, 4)


def save_head(head: Head, out: IO[bytes]) -> None:
    """Write ``head`` to ``out`` (an open binary file) as an uncompressed ``.npz``."""
    with head.lock:
        n = head.num_series
        chunk_ref: list[int] = []
        chunk_mint: list[int] = []
        chunk_maxt: list[int] = []
        chunk_len: list[int] = []
        blobs: list[bytes] = []
        for ref, chunks in enumerate(head.chunks):
            for mint, maxt, data in chunks or ():
                chunk_ref.append(ref)
                chunk_mint.append(mint)
                chunk_maxt.append(maxt)
                chunk_len.append(len(data))
                blobs.append(data)
        hc: dict[str, list[int]] = {"ref": [], "mint": [], "maxt": [], "enc": [], "len": [],
                                    "open": []}
        hblobs: list[bytes] = []
        hopen: dict[str, object] = {}
        for ref, hs in head.hists.items():
            oc = hs.builder.open_chunk()
            for c, is_open in [*((c, 0) for c in hs.closed), *([(oc, 1)] if oc else [])]:
                for k, v in zip(("ref", "mint", "maxt", "enc", "len", "open"),
                                (ref, c.mint, c.maxt, c.encoding, len(c.data), is_open),
                                strict=True):
                    hc[k].append(v)
                hblobs.append(c.data)
            hopen[str(ref)] = hs.open_state()
        sr, st, sv = head.staging.sorted_view()
        meta = {
            "version": FORMAT_VERSION,
            "block_range_ms": head.block_range_ms,
            "min_time": head.min_time,
            "max_time": head.max_time,
            "min_valid_time": head.min_valid_time,
        }
        symbols: dict[str, int] = {}
        flat: list[int] = []
        counts: list[int] = []
        for ls in head.labels:
            counts.append(len(ls))
            for name, value in ls:
                flat.append(symbols.setdefault(name, len(symbols)))
                flat.append(symbols.setdefault(value, len(symbols)))
        symbols_blob = json.dumps(list(symbols), separators=(",", ":"))
        np.savez(
            out,
            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            symbols=np.frombuffer(symbols_blob.encode(), dtype=np.uint8),
            label_counts=np.array(counts, dtype=np.int32),
            label_syms=np.array(flat, dtype=np.int32),
            first_ts=head.first_ts[:n],
            last_ts=head.last_ts[:n],
            last_bits=head.last_bits[:n],
            ooo_max_ts=head.ooo_max_ts[:n],
            **{f"open_{k}": a for k, a in head.open.state(n).items()},
            chunk_ref=np.array(chunk_ref, dtype=np.int32),
            chunk_mint=np.array(chunk_mint, dtype=np.int64),
            chunk_maxt=np.array(chunk_maxt, dtype=np.int64),
            chunk_len=np.array(chunk_len, dtype=np.int64),
            chunk_blob=np.frombuffer(b"".join(blobs), dtype=np.uint8),
            stage_ref=sr,
            stage_ts=st,
            stage_val=sv,
            hchunk_ref=np.array(hc["ref"], dtype=np.int32),
            hchunk_mint=np.array(hc["mint"], dtype=np.int64),
            hchunk_maxt=np.array(hc["maxt"], dtype=np.int64),
            hchunk_enc=np.array(hc["enc"], dtype=np.uint8),
            hchunk_len=np.array(hc["len"], dtype=np.int64),
            hchunk_open=np.array(hc["open"], dtype=np.uint8),
            hchunk_blob=np.frombuffer(b"".join(hblobs), dtype=np.uint8),
            hist_open=np.frombuffer(json.dumps(hopen).encode(), dtype=np.uint8),
        )


def load_head(src: IO[bytes] | str) -> Head:
    """Rebuild a head written by ``save_head``."""
    with np.load(src, allow_pickle=False) as z:
        meta = json.loads(z["meta"].tobytes())
        version = meta.get("version")
        if version not in _READABLE:
            raise ValueError(f"unsupported head snapshot version {version}")
        head = Head(block_range_ms=meta["block_range_ms"])
        _install_labels(head, json.loads(z["symbols"].tobytes()), z["label_counts"],
                        z["label_syms"])
        n = head.num_series
        head.first_ts[:n] = z["first_ts"]
        head.last_ts[:n] = z["last_ts"]
        head.last_bits[:n] = z["last_bits"]
        head.ooo_max_ts[:n] = z["ooo_max_ts"] if "ooo_max_ts" in z.files else INT64_MAX
        if version == 2:
            head.open.maxt[:n] = z["cut_maxt"]
        else:
            head.open.load({k[len("open_"):]: z[k] for k in z.files if k.startswith("open_")})
        blob = z["chunk_blob"].tobytes()
        ends = np.cumsum(z["chunk_len"]).tolist()
        pos = 0
        per_series: dict[int, list[tuple[int, int, bytes]]] = {}
        for ref, mint, maxt, end in zip(
            z["chunk_ref"].tolist(), z["chunk_mint"].tolist(), z["chunk_maxt"].tolist(), ends,
            strict=True,
        ):
            per_series.setdefault(ref, []).append((mint, maxt, blob[pos:end]))
            pos = end
        for ref, lst in per_series.items():
            head.chunks[ref] = tuple(lst)
        staging = Staging()
        staging.replace(z["stage_ref"], z["stage_ts"], z["stage_val"])
        head.staging = staging
        head.min_time = int(meta["min_time"])
        head.max_time = int(meta["max_time"])
        head.min_valid_time = int(meta["min_valid_time"])
        if version >= 4:
            _load_histograms(head, z)
        return head


def _load_histograms(head: Head, z: np.lib.npyio.NpzFile) -> None:
    blob = z["hchunk_blob"].tobytes()
    pos = 0
    open_chunks: dict[int, HistChunk] = {}
    for ref, mint, maxt, enc, end, is_open in zip(
        z["hchunk_ref"].tolist(), z["hchunk_mint"].tolist(), z["hchunk_maxt"].tolist(),
        z["hchunk_enc"].tolist(), np.cumsum(z["hchunk_len"]).tolist(),
        z["hchunk_open"].tolist(), strict=True,
    ):
        c = HistChunk(mint, maxt, enc, blob[pos:end])
        if is_open:
            open_chunks[ref] = c
        else:
            head.hists.get_or_create(ref).closed.append(c)
        pos = end
    for ref, st in json.loads(z["hist_open"].tobytes()).items():
        head.hists.get_or_create(int(ref)).load_open_state(st, open_chunks.get(int(ref)))


def _install_labels(
    head: Head, symbols: list[str], counts: np.ndarray, flat: np.ndarray
) -> None:
    """Rebuild label sets and postings from the symbol table, vectorised where it pays."""
    n = int(counts.shape[0])
    pair_ids = flat.reshape(-1, 2).astype(np.int64)
    keys = (pair_ids[:, 0] << 32) | pair_ids[:, 1]
    uniq, inv = np.unique(keys, return_inverse=True)
    inv = inv.reshape(-1)
    pairs = [(symbols[k >> 32], symbols[k & 0xFFFFFFFF]) for k in uniq.tolist()]
    ends = np.cumsum(counts).tolist()
    inv_list = inv.tolist()
    get = pairs.__getitem__
    labels: list[Labels] = []
    start = 0
    for end in ends:
        labels.append(Labels.from_sorted(tuple(map(get, inv_list[start:end]))))
        start = end
    refs = np.repeat(np.arange(n, dtype=np.int32), counts)
    order = np.argsort(inv, kind="stable")
    grouped = refs[order]
    bounds = np.searchsorted(inv[order], np.arange(len(pairs) + 1)).tolist()
    pair_refs = [grouped[bounds[i] : bounds[i + 1]] for i in range(len(pairs))]
    head.install_series(labels, pairs, pair_refs)
