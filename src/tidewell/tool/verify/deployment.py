"""What to verify: the deployment's config and where its distributors answer.

Ingesters and partitions come from the rings in the KV store, Kafka and the
bucket from the config. Distributors are not in a ring, so they are named:
from a local cluster's ``cluster.json`` (``--cluster``), or as URLs, where
``dns+HOST:PORT`` stands for every address HOST resolves to (a Kubernetes
headless service), as in Mimir's service discovery.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from pathlib import Path

from tidewell.config import Config, load
from tidewell.model.errors import TidewellError

__all__ = ["Deployment", "DeploymentError", "from_cluster", "from_flags", "resolve_urls"]


class DeploymentError(TidewellError):
    """The deployment to verify cannot be found or its config cannot be loaded."""


@dataclass
class Deployment:
    config: Config
    distributors: dict[str, str] = field(default_factory=dict)  # name -> base URL


def resolve_urls(specs: list[str]) -> dict[str, str]:
    """Name → URL for each spec (comma-separated lists allowed; ``dns+`` expands)."""
    out: dict[str, str] = {}
    for spec in (s.strip() for item in specs for s in item.split(",")):
        if not spec:
            continue
        if spec.startswith("dns+"):
            hostport = spec.removeprefix("dns+").removeprefix("http://")
            host, _, port = hostport.rpartition(":")
            if not host or not port.isdigit():
                raise DeploymentError(f"{spec!r}: expected dns+HOST:PORT")
            try:
                infos = socket.getaddrinfo(host, int(port), proto=socket.IPPROTO_TCP)
            except OSError as exc:
                raise DeploymentError(f"cannot resolve {host!r}: {exc}") from None
            for addr in sorted({i[4][0] for i in infos}):
                shown = f"[{addr}]" if ":" in addr else addr
                out[f"{host}/{addr}"] = f"http://{shown}:{port}"
        else:
            url = spec if "://" in spec else f"http://{spec}"
            out[spec] = url.rstrip("/")
    return out


def from_flags(flags: list[str], distributor_specs: list[str]) -> Deployment:
    """Load ``-config.file`` and any Tidewell flags exactly as a component would."""
    from tidewell.util.config_tree import ConfigError

    try:
        config = load(flags).config
    except ConfigError as exc:
        raise DeploymentError(str(exc)) from None
    return Deployment(config, resolve_urls(distributor_specs))


def from_cluster(path: str, flags: list[str], distributor_specs: list[str]) -> Deployment:
    """A ``tidewell tool local-cluster`` deployment: its shared config and its distributors."""
    state_file = Path(path)
    if state_file.is_dir():
        state_file = state_file / "cluster.json"
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError) as exc:
        raise DeploymentError(f"no local cluster recorded in {state_file}: {exc}") from None
    deployment = from_flags([f"-config.file={state['config_file']}", *flags], distributor_specs)
    for proc in state.get("processes", []):
        if proc.get("target") == "distributor":
            deployment.distributors.setdefault(proc["name"], proc["url"])
    return deployment
