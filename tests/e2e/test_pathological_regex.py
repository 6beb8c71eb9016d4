"""A catastrophic-backtracking regex neither freezes the process nor starves other requests.

On a backtracking engine ``(x+x+)+y`` against 40 ``x`` takes longer than the age
of the universe; with RE2 it is linear. Pushes and ``/ready`` run beside the
queries through the real HTTP server and must keep their normal latency.
"""

from __future__ import annotations

import threading
import time

import httpx
import numpy as np

from tests.e2e.conftest import TidewellProcess
from tidewell.model import Labels, SampleBatch
from tidewell.protocol import encode_write_request, snappy_compress

TENANT = {"X-Scope-OrgID": "regex-team"}
EVIL = "(x+x+)+y"


def push(url: str, values: dict[str, str], ts_ms: int) -> httpx.Response:
    labels = [Labels(sorted(v.items())) for v in values.values()]
    n = len(labels)
    batch = SampleBatch(
        labels=labels,
        series_index=np.arange(n, dtype=np.int32),
        timestamps=np.full(n, ts_ms, dtype=np.int64),
        values=np.ones(n),
    )
    return httpx.post(
        f"{url}/api/v1/push",
        content=bytes(snappy_compress(encode_write_request(batch))),
        headers={"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
                 "X-Prometheus-Remote-Write-Version": "0.1.0", **TENANT},
        timeout=60,  # the first push may compile kernels on a loaded machine
    )


def series(job: str) -> dict[str, str]:
    return {"__name__": "up", "job": job}


def test_backtracking_regex_answers_fast_while_pushes_and_ready_continue(
    tidewell: TidewellProcess,
) -> None:
    tidewell.start()
    url = tidewell.url
    now = int(time.time() * 1000)
    jobs = {f"x{n}": "x" * n for n in range(26, 41)} | {"hit": "x" * 40 + "y"}
    assert push(url, {k: series(v) for k, v in jobs.items()}, now).status_code == 200
    deadline = time.monotonic() + 30
    while True:
        r = httpx.get(f"{url}/prometheus/api/v1/query", params={"query": "count(up)"},
                      headers=TENANT)
        if r.status_code == 200 and r.json()["data"]["result"]:
            assert r.json()["data"]["result"][0]["value"][1] == str(len(jobs))
            break
        assert time.monotonic() < deadline, r.text
        time.sleep(0.2)

    answers: list[tuple[float, httpx.Response]] = []

    def evil_queries() -> None:
        with httpx.Client(base_url=f"{url}/prometheus/api/v1", headers=TENANT,
                          timeout=60) as c:
            for path, params in [
                ("/query", {"query": f'up{{job=~"{EVIL}"}}'}),
                ("/query", {"query": f'up{{job!~"{EVIL}"}}'}),
                ("/series", {"match[]": f'up{{job=~"{EVIL}"}}'}),
                ("/label/job/values", {"match[]": f'up{{job=~"{EVIL}"}}'}),
            ]:
                t0 = time.monotonic()
                resp = c.get(path, params=params)
                answers.append((time.monotonic() - t0, resp))

    worker = threading.Thread(target=evil_queries)
    worker.start()
    ready_s: list[float] = []
    push_s: list[float] = []
    i = 0
    while worker.is_alive() or i < 10:
        t0 = time.monotonic()
        assert httpx.get(f"{url}/ready", timeout=10).status_code == 200
        ready_s.append(time.monotonic() - t0)
        t0 = time.monotonic()
        assert push(url, {"p": series("pusher")}, now + 1 + i).status_code == 200
        push_s.append(time.monotonic() - t0)
        i += 1
    worker.join()

    assert len(answers) == 4
    for took, resp in answers:
        assert resp.status_code == 200, resp.text
        assert took < 2.0, f"{resp.request.url} took {took:.2f}s"
    matched = answers[0][1].json()["data"]["result"]
    assert [s["metric"]["job"] for s in matched] == ["x" * 40 + "y"]
    # Every other job; "pusher" too when the loop's first push landed before the query.
    unmatched = {s["metric"]["job"] for s in answers[1][1].json()["data"]["result"]}
    assert unmatched - {"pusher"} == {v for k, v in jobs.items() if k != "hit"}, unmatched
    assert [s["job"] for s in answers[2][1].json()["data"]] == ["x" * 40 + "y"]
    assert answers[3][1].json()["data"] == ["x" * 40 + "y"]
    assert max(ready_s) < 1.0, ready_s
    assert max(push_s) < 2.0, push_s


def test_pattern_re2_refuses_is_a_400_that_says_why(tidewell: TidewellProcess) -> None:
    tidewell.start()
    for query, reason in [('up{job=~"(a)\\\\1"}', "invalid escape sequence"),
                          ('up{job=~"a{1001}"}', "invalid repetition size"),
                          ('up{job=~"(?=a)"}', "invalid perl operator")]:
        r = httpx.get(f"{tidewell.url}/prometheus/api/v1/query", params={"query": query},
                      headers=TENANT, timeout=10)
        assert r.status_code == 400, r.text
        body = r.json()
        assert body["errorType"] == "bad_data"
        assert "error parsing regexp" in body["error"] and reason in body["error"], body
