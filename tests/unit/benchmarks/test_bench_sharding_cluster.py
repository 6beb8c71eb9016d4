"""The sharding benchmark's answer comparison: what makes a row say "equal" or "DIFFER"."""

from __future__ import annotations

from benchmarks.bench_sharding_cluster import answer_of, same_answer


def _doc(series: dict[str, list[list[object]]]) -> dict:
    return {"data": {"resultType": "matrix", "result": [
        {"metric": {"job": job}, "values": pts} for job, pts in series.items()]}}


def test_equal_up_to_float_rounding_only() -> None:
    a = answer_of(_doc({"a": [[60, "0.3"], [120, "NaN"]], "b": [[60, "1"]]}))
    b = answer_of(_doc({"b": [[60, "1"]], "a": [[60, str(0.1 + 0.2)], [120, "NaN"]]}))
    assert same_answer(a, b)
    assert not same_answer(a, answer_of(_doc({"a": [[60, "0.31"], [120, "NaN"]],
                                              "b": [[60, "1"]]})))
    assert not same_answer(a, answer_of(_doc({"a": [[60, "0.3"], [180, "NaN"]],
                                              "b": [[60, "1"]]})))
    assert not same_answer(a, answer_of(_doc({"a": [[60, "0.3"], [120, "NaN"]]})))
