"""A large push decodes off the event loop: ``/ready`` keeps answering meanwhile.

The body expands from a few MB of snappy to ~50 MB: decompression, the RW 2.0 →
1.0 conversion of many series and the distributor's scan and validation all run
on worker threads, in calls that release the GIL. Before, they ran on the event
loop and ``/ready`` waited for all of it. Every series carries a label value
over the length limit, so the request ends in a 400 naming them and nothing
reaches the ingester: what is measured is the decoding alone.
"""

from __future__ import annotations

import time

from tests.e2e.conftest import TidewellProcess
from tests.support.large_push import big_rw2_body, probe_ready_during_push

SERIES = 16_000
PAD = 3000  # over -validation.max-length-label-value (2048)


def test_ready_answers_while_a_large_push_decodes(tidewell: TidewellProcess) -> None:
    tidewell.args = ["-distributor.max-recv-msg-size=209715200"]
    tidewell.start()
    body, decoded = big_rw2_body(SERIES, PAD, int(time.time() * 1000))
    assert decoded > 45 * 2**20
    got = probe_ready_during_push(tidewell.url, "/api/v1/push", body, {
        "Content-Encoding": "snappy", "X-Scope-OrgID": "big",
        "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request",
        "X-Prometheus-Remote-Write-Version": "2.0.0"})
    print(got)
    assert got.status == 400, got
    assert len(got.latencies) >= 5, got  # the push took a while
    # Before: one /ready waited for the whole decode (2.8 s on the loaded 2-core machine),
    # then up to 345 ms while single GIL-holding calls ran (upb parse and serialize, a copy
    # of the decompressed body). Snappy into a buffer and the compiled RW 2.0 transcoder
    # release the GIL: max 25-63 ms at load ~10 (the old code: 345-395 ms).
    assert got.quantile(0.9) < 0.25, got.latencies[-10:]
    # A loop blocked by the decode makes one /ready wait for most of the push, a call
    # holding the GIL on the whole body for a few hundred ms.
    assert got.latencies[-1] < min(0.2, 0.5 * got.seconds), got
