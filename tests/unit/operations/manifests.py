"""Shared checks for rendered deployment manifests (Jsonnet and Helm).

Each rendered object is validated offline against the Kubernetes OpenAPI schemas
(``kubernetes-validate``, strict: unknown fields fail), and the Tidewell config the
manifests carry (the ConfigMap's ``tidewell.yaml`` plus each container's flags) is
loaded by Tidewell's own loader, which rejects unknown YAML keys and flags.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate

from tidewell.config import Config, load

K8S_VERSION = "1.33.0"


def flatten(node: Any) -> list[dict[str, Any]]:
    """Every Kubernetes object in a rendered tree (nested objects, lists, nulls skipped)."""
    if isinstance(node, dict):
        if "apiVersion" in node and "kind" in node:
            return [node]
        return [o for v in node.values() for o in flatten(v)]
    if isinstance(node, list):
        return [o for v in node for o in flatten(v)]
    return []


def validate_all(objects: list[dict[str, Any]]) -> None:
    """Schemas, plus what they cannot see: every mounted volume is declared in its pod."""
    assert objects
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    for name, w in workloads(objects).items():
        pod = w["spec"]["template"]["spec"]
        declared = {v["name"] for v in pod.get("volumes", [])} | {
            t["metadata"]["name"] for t in w["spec"].get("volumeClaimTemplates", [])}
        for c in pod["containers"]:
            mounts = [m["name"] for m in c.get("volumeMounts", [])]
            assert set(mounts) <= declared, (name, mounts, declared)
            assert len(mounts) == len(set(mounts)), (name, mounts)


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def workloads(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {**by_kind(objects, "Deployment"), **by_kind(objects, "StatefulSet")}


def tidewell_containers(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Workload name → its ``tidewell`` container."""
    out = {}
    for name, w in workloads(objects).items():
        for c in w["spec"]["template"]["spec"]["containers"]:
            if c["name"] == "tidewell":
                out[name] = c
    return out


def load_configs(objects: list[dict[str, Any]], tmp_path: Path) -> dict[str, Config]:
    """Each Tidewell workload's effective config, loaded as its container would load it."""
    (cm,) = [o for o in by_kind(objects, "ConfigMap").values() if "tidewell.yaml" in o["data"]]
    config_file = tmp_path / "tidewell.yaml"
    config_file.write_text(cm["data"]["tidewell.yaml"])
    out = {}
    for name, c in tidewell_containers(objects).items():
        args = [a.replace("-config.file=/etc/tidewell/tidewell.yaml", f"-config.file={config_file}")
                .replace("$(POD_NAME)", f"{name}-0") for a in c["args"]]
        out[name] = load(args).config
    return out
