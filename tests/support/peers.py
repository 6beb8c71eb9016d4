"""Where scripts/peers.sh installed the test peers, and a loud failure when one is absent.

A test that needs a peer fails (never skips) when it is missing: skipping would
count a feature as tested when nothing ran.
"""

from __future__ import annotations

import os
import shutil

from tidewell.tool.kafka_broker import peers_dir

__all__ = ["alertmanager_binary", "helm_binary", "peers_dir", "prometheus3_binary",
           "promtool3_binary", "victoria_metrics_binary"]

SETUP_HINT = "run scripts/peers.sh (make test does) to install it"


def _binary(name: str, what: str) -> str:
    path = peers_dir() / "bin" / name
    if not os.access(path, os.X_OK):
        raise AssertionError(f"{what} is missing: no executable {path}; {SETUP_HINT}")
    return str(path)


def prometheus3_binary() -> str:
    """Prometheus 3.x, built from the Go module proxy."""
    return _binary("prometheus", "Prometheus 3")


def promtool3_binary() -> str:
    """promtool 3.x (dumps native histograms, which Debian's 2.42 cannot)."""
    return _binary("promtool", "promtool 3")


def victoria_metrics_binary() -> str:
    return _binary("victoria-metrics", "VictoriaMetrics")


def helm_binary() -> str:
    return _binary("helm", "Helm 4")


def alertmanager_binary() -> str:
    """Debian's Alertmanager (scripts/setup.sh installs it): the ruler's notification target."""
    path = shutil.which("prometheus-alertmanager")
    if path is None:
        raise AssertionError("Alertmanager is missing: no prometheus-alertmanager on PATH; "
                             "scripts/setup.sh installs Debian's package")
    return path

