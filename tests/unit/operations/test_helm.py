"""The Helm chart (operations/helm/tidewell) with the real ``helm`` (tests/support/peers.py):
lint, template with the guide's values and without, every manifest validated offline, the
Tidewell config loaded by our parser, and the same objects and config as the Jsonnet library."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.peers import helm_binary
from tests.unit.operations.manifests import (
    by_kind,
    load_configs,
    tidewell_containers,
    validate_all,
    workloads,
)
from tests.unit.operations.test_jsonnet import render as render_jsonnet

CHART = Path(__file__).resolve().parents[3] / "operations" / "helm" / "tidewell"
GUIDE_VALUES = CHART / "ci" / "ingest-storage-values.yaml"


def helm(*args: str) -> str:
    proc = subprocess.run([helm_binary(), *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc.stdout


def template(*args: str) -> list[dict[str, Any]]:
    out = helm("template", "tidewell", str(CHART), "--namespace", "metrics", *args)
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.fixture(scope="module")
def guide() -> list[dict[str, Any]]:
    return template("-f", str(GUIDE_VALUES))


@pytest.fixture(scope="module")
def defaults() -> list[dict[str, Any]]:
    return template()


def test_lint() -> None:
    for values in ([], ["-f", str(GUIDE_VALUES)]):
        out = helm("lint", "--strict", str(CHART), *values)
        assert "0 chart(s) failed" in out


def test_manifests_are_valid_kubernetes(guide: list, defaults: list) -> None:
    validate_all(guide)
    validate_all(defaults)


def test_guide_values_deploy_ingest_storage(guide: list, tmp_path: Path) -> None:
    configs = load_configs(guide, tmp_path)
    assert set(configs) == {"distributor", "ingester-zone-a", "ingester-zone-b",
                            "store-gateway", "querier", "query-frontend", "compactor"}
    kafka = configs["ingester-zone-b"].ingest_storage.kafka
    assert (kafka.address, kafka.topic, kafka.auto_create_topic_default_partitions) == (
        "kafka.metrics.svc.cluster.local:9092", "ingest", 1000)
    assert configs["ingester-zone-b"].ingester.ring.instance_id == "ingester-zone-b-0"
    assert configs["distributor"].ingest_storage.kafka.produce_endpoint == kafka.address


def test_mimir_spelling_of_the_switch(tmp_path: Path) -> None:
    objects = template("-f", str(CHART / "ci" / "mimir-spelling-values.yaml"))
    assert "ingester-zone-a" in workloads(objects)


def test_without_values_one_process(defaults: list, tmp_path: Path) -> None:
    (config,) = load_configs(defaults, tmp_path).values()
    assert config.target == ["all"] and config.ingest_storage.backend == "embedded"


def _shape(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """What must agree between Helm and Jsonnet: objects, flags, config, probes, volumes."""
    (cm,) = by_kind(objects, "ConfigMap").values()
    return {
        "objects": sorted((o["kind"], o["metadata"]["name"]) for o in objects),
        "config": yaml.safe_load(cm["data"]["tidewell.yaml"]),
        "containers": {n: {k: c.get(k) for k in ("args", "env", "readinessProbe", "resources",
                                                  "volumeMounts", "securityContext")}
                       for n, c in tidewell_containers(objects).items()},
        "pods": {n: {k: w["spec"]["template"]["spec"].get(k)
                     for k in ("terminationGracePeriodSeconds", "securityContext", "volumes")}
                 for n, w in workloads(objects).items()},
        "replicas": {n: w["spec"]["replicas"] for n, w in workloads(objects).items()},
        "pdbs": {n: p["spec"] for n, p in by_kind(objects, "PodDisruptionBudget").items()},
    }


@pytest.mark.parametrize("enabled", [True, False])
def test_same_deployment_as_the_jsonnet(enabled: bool, guide: list, defaults: list) -> None:
    jsonnet = render_jsonnet(f"{{ namespace: 'metrics', ingest_storage_enabled: "
                             f"{str(enabled).lower()} }}")
    assert _shape(guide if enabled else defaults) == _shape(jsonnet)
