"""The Jsonnet library (operations/tidewell) rendered with the ``jsonnet`` package, both
layouts, every manifest validated offline, its Tidewell config loaded by our parser."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import _jsonnet
import pytest

from tests.unit.operations.manifests import (
    by_kind,
    flatten,
    load_configs,
    tidewell_containers,
    validate_all,
    workloads,
)

ROOT = Path(__file__).resolve().parents[3]


@functools.cache
def _evaluate(config: str) -> str:
    snippet = f"(import 'operations/tidewell/tidewell.libsonnet') + {{ _config+:: {config} }}"
    return _jsonnet.evaluate_snippet("test", snippet, jpathdir=[str(ROOT)])


def render(config: str) -> list[dict[str, Any]]:
    """The Kubernetes objects of the library with ``_config+:: config`` (a fresh copy)."""
    return flatten(json.loads(_evaluate(config)))


@pytest.fixture(scope="module")
def ingest_storage() -> list[dict[str, Any]]:
    return render("{ namespace: 'metrics', ingest_storage_enabled: true }")


@pytest.fixture(scope="module")
def single_process() -> list[dict[str, Any]]:
    return render("{ namespace: 'metrics', ingest_storage_enabled: false }")


def test_manifests_are_valid_kubernetes(ingest_storage: list, single_process: list) -> None:
    validate_all(ingest_storage)
    validate_all(single_process)


def test_ingest_storage_layout(ingest_storage: list, tmp_path: Path) -> None:
    names = set(workloads(ingest_storage))
    assert names == {"distributor", "ingester-zone-a", "ingester-zone-b", "store-gateway",
                     "querier", "query-frontend", "compactor", "etcd"}
    configs = load_configs(ingest_storage, tmp_path)
    assert {n: c.target for n, c in configs.items()} == {
        "distributor": ["distributor"], "ingester-zone-a": ["ingester"],
        "ingester-zone-b": ["ingester"], "store-gateway": ["store-gateway"],
        "querier": ["querier"], "query-frontend": ["query-frontend"],
        "compactor": ["compactor"]}
    ing = configs["ingester-zone-a"]
    kafka = ing.ingest_storage.kafka
    # The guide's defaults: kafka.<namespace>.svc.<cluster_domain>:9092, topic ingest.
    assert kafka.address == "kafka.metrics.svc.cluster.local:9092"
    assert kafka.consume_endpoint == kafka.address
    assert configs["distributor"].ingest_storage.kafka.produce_endpoint == kafka.address
    assert kafka.topic == "ingest" and kafka.auto_create_topic_default_partitions == 1000
    assert ing.ingest_storage.backend == "kafka"
    assert ing.ingester.ring.instance_id == "ingester-zone-a-0"  # ordinal = partition
    assert ing.ingester.ring.instance_availability_zone == "zone-a"
    assert ing.ingester.partition_ring.kvstore.store == "etcd"
    assert ing.ingester.partition_ring.kvstore.etcd.endpoints == [
        "etcd.metrics.svc.cluster.local:2379"]
    assert ing.blocks_storage.backend == "s3"
    assert configs["query-frontend"].frontend.downstream_url == \
        "http://querier.metrics.svc.cluster.local:8080"


def test_ingesters_are_one_statefulset_per_zone(ingest_storage: list) -> None:
    sets = by_kind(ingest_storage, "StatefulSet")
    for zone in ("zone-a", "zone-b"):
        s = sets[f"ingester-{zone}"]["spec"]
        assert s["replicas"] == 3 and s["podManagementPolicy"] == "Parallel"
        pod = s["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] >= 600  # room for the head snapshot
        assert s["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    (pdb,) = [p for p in by_kind(ingest_storage, "PodDisruptionBudget").values()
              if p["metadata"]["name"] == "ingester"]
    assert pdb["spec"]["maxUnavailable"] == 1  # across zones, never two copies at once


def test_every_tidewell_container_is_ready_on_ready(ingest_storage: list,
                                                    single_process: list) -> None:
    for objects in (ingest_storage, single_process):
        for name, c in tidewell_containers(objects).items():
            assert c["readinessProbe"]["httpGet"]["path"] == "/ready", name
            assert c["resources"]["requests"], name
            assert c["securityContext"]["runAsNonRoot"] is True
        pdbs = {p["spec"]["selector"]["matchLabels"].get("name")
                for p in by_kind(objects, "PodDisruptionBudget").values()}
        assert pdbs


def test_single_process_layout(single_process: list, tmp_path: Path) -> None:
    assert set(workloads(single_process)) == {"tidewell"}
    (config,) = load_configs(single_process, tmp_path).values()
    assert config.target == ["all"]
    assert config.ingest_storage.backend == "embedded"
    assert config.blocks_storage.backend == "filesystem"
    assert str(config.data_dir) == "/data"


def test_overrides_reach_the_config(tmp_path: Path) -> None:
    objects = render("{ namespace: 'm', ingest_storage_enabled: true, kafka_topic: 'mimir-ingest',"
                     " kafka_address: 'redpanda:9092', kafka_auto_create_topic_default_partitions:"
                     " 64, ingester_zones: ['zone-a', 'zone-b', 'zone-c'], etcd_enabled: false }")
    validate_all(objects)
    configs = load_configs(objects, tmp_path)
    assert "etcd" not in workloads(objects)
    assert {"ingester-zone-a", "ingester-zone-b", "ingester-zone-c"} <= set(configs)
    kafka = configs["ingester-zone-c"].ingest_storage.kafka
    assert (kafka.address, kafka.topic, kafka.auto_create_topic_default_partitions) == (
        "redpanda:9092", "mimir-ingest", 64)
