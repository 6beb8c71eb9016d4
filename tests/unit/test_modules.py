"""Targets resolve to modules in dependency order; impossible combinations fail clearly."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tidewell.config import load
from tidewell.modules import build, resolve
from tidewell.util.config_tree import ConfigError


def test_all_runs_every_available_component_dependencies_first() -> None:
    order = resolve(["all"])
    assert set(order) >= {"distributor", "ingester", "querier", "query-frontend", "ingest-log"}
    for before, after in [("ingest-log", "distributor"), ("partition-ring", "ingester"),
                          ("ingester", "querier"), ("querier", "query-frontend"),
                          ("overrides", "distributor")]:
        assert order.index(before) < order.index(after)


def test_frontend_is_built_after_an_in_process_querier() -> None:
    order = resolve(["query-frontend", "querier"])
    assert order.index("querier") < order.index("query-frontend")


def test_comma_separated_targets_union() -> None:
    assert set(resolve(["distributor", "ingester"])) == set(resolve(["write"]))


def test_separate_distributor_on_embedded_log_is_refused(tmp_path: Path) -> None:
    config = load([f"-common.storage.path={tmp_path}", "-target=distributor"]).config
    with pytest.raises(ConfigError, match=r"needs -ingest-storage\.kafka\.address"):
        asyncio.run(build(config))


def test_exemplar_and_metadata_limits_follow_per_tenant_overrides() -> None:
    from tidewell.distributor import Overrides
    from tidewell.ingester import TenantRegistry
    from tidewell.ingester.limits import LocalLimits
    from tidewell.model import Exemplar, Labels, MetricMetadata
    from tidewell.modules import OverridesLimits

    overrides = Overrides()
    overrides.set_tenant_overrides({"small": {"max_global_exemplars_per_user": 2,
                                              "max_global_metadata_per_user": 1}})
    reg = TenantRegistry(7_200_000, LocalLimits(OverridesLimits(overrides), lambda: 1))
    series = Labels.from_dict({"__name__": "m"})
    many = [Exemplar(Labels(), 1.0, t) for t in range(5)]
    small, _ = reg.get_or_create("small")
    default, _ = reg.get_or_create("default")
    small.exemplars.add(series, many)
    default.exemplars.add(series, many)
    assert len(small.exemplars) == 2 and len(default.exemplars) == 5
    families = [MetricMetadata("a"), MetricMetadata("b")]
    assert small.metadata.add(families).per_user_limited == 1
    assert default.metadata.add(families).created == 2
    overrides.set_tenant_overrides({})  # runtime config changed: the default applies live
    small.exemplars.add(series, [Exemplar(Labels(), 1.0, 9)])
    assert len(small.exemplars) == 3


LAZY_ON_EMBEDDED_DEFAULTS = ("obstore", "opentelemetry")
"""Loaded only by what uses them (cloud or memory buckets; OTLP requests): BENCHMARKS.md
"Memory (issue 15)"."""


def test_all_on_embedded_defaults_leaves_optional_heavy_modules_unloaded(tmp_path: Path) -> None:
    import subprocess
    import sys
    import textwrap

    from tidewell.util.ports import free_port

    code = textwrap.dedent(f"""
        import asyncio, sys
        from tidewell.config import load
        from tidewell.modules import build

        async def main():
            config = load(["-common.storage.path={tmp_path}",
                           "-server.http-listen-port={free_port()}",
                           "-server.http-listen-address=127.0.0.1"]).config
            app = await build(config)
            await app.manager.start_all()
            await app.manager.stop_all(timeout_s=10)

        asyncio.run(main())
        print(",".join(m for m in {LAZY_ON_EMBEDDED_DEFAULTS!r} if m in sys.modules))
        import tidewell.objstore, tidewell.distributor.otlp_http
        assert tidewell.objstore.ObstoreBucket.__name__ == "ObstoreBucket"
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "", f"loaded at startup: {done.stdout.strip()}"
