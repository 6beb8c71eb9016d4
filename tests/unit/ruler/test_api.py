"""Mimir's rule configuration API over a real bucket: YAML in and out, clear 400s, limits."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tidewell.api.server import build_app
from tidewell.distributor.limits import Limits
from tidewell.objstore.filesystem import FilesystemBucket
from tidewell.ruler.api import ruler_routes
from tidewell.ruler.store import BucketRuleStore, encode_name

GROUP = """name: my-group
interval: 1m
rules:
  - record: job:up:sum
    expr: sum by (job) (up)
  - alert: Down
    expr: up == 0
    for: 5m
    labels: {severity: page}
    annotations: {summary: "{{ $labels.instance }} down"}
"""


@pytest.fixture
def env(tmp_path: Path):
    bucket = FilesystemBucket(tmp_path)
    store = BucketRuleStore(bucket)
    limits = Limits(ruler_max_rules_per_rule_group=3, ruler_max_rule_groups_per_tenant=2)
    app = build_app(ruler_routes(store, lambda t: limits, lambda t: {}),
                    multitenancy_enabled=True)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                               headers={"X-Scope-OrgID": "team-a"})
    return client, tmp_path


BASE = "/prometheus/config/v1/rules"


def run(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test body on a fresh event loop (the suite has no async plugin)."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))
    return wrapper


@run
async def test_post_get_delete_round_trip_in_mimirs_layout(env) -> None:
    client, root = env
    r = await client.post(f"{BASE}/my ns", content=GROUP,
                          headers={"Content-Type": "application/yaml"})
    assert r.status_code == 202, r.text
    key = root / "rules" / "team-a" / encode_name("my ns") / encode_name("my-group")
    assert key.is_file()
    r = await client.get(BASE)
    assert r.status_code == 200
    doc = yaml.safe_load(r.text)
    assert list(doc) == ["my ns"] and doc["my ns"][0]["name"] == "my-group"
    assert doc["my ns"][0]["rules"][1]["for"] == "5m"
    r = await client.get(f"{BASE}/my ns/my-group")
    assert yaml.safe_load(r.text)["interval"] == "1m"
    r = await client.get(f"{BASE}/my ns/my-group", headers={"X-Scope-OrgID": "other"})
    assert r.status_code == 404
    assert (await client.delete(f"{BASE}/my ns/my-group")).status_code == 202
    assert (await client.get(BASE)).status_code == 404
    assert (await client.delete(f"{BASE}/my ns/my-group")).status_code == 404


@pytest.mark.parametrize(("body", "why"), [
    ("name: g\nrules: [\n", "yaml: line"),
    ("name: g\nrules:\n  - record: a\n    expr: up\n    bogus: x\n",
     "line 5: field bogus not found in type rulefmt.Rule"),
    ("name: g\nrules:\n  - record: a\n    expr: sum(up\n",
     '4:11: group "g", rule 1, "a": could not parse expression'),
    ("name: g\nrules:\n  - record: a\n    expr: up\n    for: 1m\n",
     "invalid field 'for' in recording rule"),
    ("", "empty rule group"),
])
@run
async def test_bad_groups_are_400s_naming_the_problem(env, body: str, why: str) -> None:
    client, _ = env
    r = await client.post(f"{BASE}/ns", content=body)
    assert r.status_code == 400
    assert r.json()["errorType"] == "bad_data"
    assert why in r.json()["error"]


@run
async def test_limits_per_tenant(env) -> None:
    client, _ = env
    many = "name: big\nrules:\n" + "".join(f"  - record: r{i}\n    expr: up\n" for i in range(4))
    r = await client.post(f"{BASE}/ns", content=many)
    assert r.status_code == 400
    assert r.json()["error"] == ("per-user rules per rule group limit (limit: 3 actual: 4) "
                                 "exceeded")
    for name in ("a", "b"):
        assert (await client.post(f"{BASE}/ns", content=f"name: {name}\nrules: []\n")
                ).status_code == 202
    # Replacing an existing group is allowed; a third group is not.
    assert (await client.post(f"{BASE}/ns", content="name: a\nrules: []\n")).status_code == 202
    r = await client.post(f"{BASE}/other", content="name: c\nrules: []\n")
    assert r.status_code == 400
    assert r.json()["error"] == "per-user rule groups limit (limit: 2 actual: 3) exceeded"


@run
async def test_read_api_lists_stored_groups_in_prometheus_json(env) -> None:
    client, _ = env
    await client.post(f"{BASE}/ns", content=GROUP)
    body = (await client.get("/prometheus/api/v1/rules")).json()
    [group] = body["data"]["groups"]
    assert (group["name"], group["file"], group["interval"]) == ("my-group", "ns", 60)
    rec, alert = group["rules"]
    assert rec["type"] == "recording" and rec["health"] == "unknown"
    assert alert["type"] == "alerting" and alert["duration"] == 300 and alert["alerts"] == []
    only = (await client.get("/prometheus/api/v1/rules?type=alert")).json()
    assert [r["name"] for r in only["data"]["groups"][0]["rules"]] == ["Down"]
    assert (await client.get("/prometheus/api/v1/alerts")).json() == {
        "status": "success", "data": {"alerts": []}}


def test_limits_dataclass_has_mimirs_defaults() -> None:
    names = {f.name: f.default for f in dataclasses.fields(Limits)}
    assert names["ruler_max_rules_per_rule_group"] == 20
    assert names["ruler_max_rule_groups_per_tenant"] == 70
