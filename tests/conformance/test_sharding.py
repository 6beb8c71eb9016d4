"""Query sharding gives the unsharded answers on the conformance scripts' data.

Every eval whose query the frontend shards runs through a query-frontend with
three shards and straight to the querier, both over the real storage
(``sharding.py``); the answers must agree. The differences listed in ``KNOWN``
are arithmetic, inherent to summing partial results (Mimir's sharding has them
too), and are asserted to still be the only ones.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

sys.path.insert(0, str(Path(__file__).parent))

from promqltest import conformance_dir
from sharding import SHARDS, run_sharded

KNOWN = {
    # avg = sum / count over shards: the sum overflows to ±Inf where Prometheus's avg
    # switches to an incremental mean.
    ("aggregators.test", 'avg(data{test="big"})'),
    ("aggregators.test", 'avg(data{test="-big"})'),
    ("aggregators.test", 'avg(data{test="bigzero"})'),
    ("native_histograms.test", "avg(histogram_avg_incremental)"),
    # 1e100 + 10 - 1e100: each shard's Kahan compensation is lost in its float answer.
    ("aggregators.test", 'sum(data{test="ten"})'),
    ("aggregators.test", 'avg(data{test="ten"})'),
}


def _sharded_total() -> float:
    return REGISTRY.get_sample_value("cortex_frontend_sharded_queries_total") or 0.0


@pytest.mark.timeout(300)
def test_sharded_answers_equal_unsharded_ones(tmp_path: Path) -> None:
    d = conformance_dir()
    files = [f for f in sorted(d.glob("*.test")) if f.name != "start_timestamps.test"] \
        if d.is_dir() else []
    if not files:
        pytest.fail(f"PromQL conformance scripts not found in {d}; set TIDEWELL_CONFORMANCE_DIR")
    before = _sharded_total()
    differing, sharded_evals = set(), 0
    messages = []
    for f in files:
        outs, n = run_sharded(f, tmp_path / f.stem)
        sharded_evals += n
        for o in outs:
            if not o.ok:
                differing.add((o.file, o.expr))
                if (o.file, o.expr) not in KNOWN:
                    messages.append(f"{o.file}:{o.line} {o.expr}: {o.message[:300]}")
    assert sharded_evals > 250
    # They really ran sharded (native histograms too: the shards send them in full).
    assert _sharded_total() - before > 250 * SHARDS
    assert messages == [], "\n".join(messages)
    assert differing == KNOWN
