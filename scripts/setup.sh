#!/usr/bin/env bash
# Installs everything Tidewell and its tests need on a fresh Debian machine:
# the Prometheus binary (tests use it as remote-write client and PromQL reference)
# a virtualenv in .venv with Tidewell and its test dependencies, and the peers of
# scripts/peers.sh (TIDEWELL_SETUP_PEERS=0 leaves them out).
set -euo pipefail
cd "$(dirname "$0")/.."

want_debian=${TIDEWELL_SETUP_DEBIAN:-1}
# Test peers from Debian: prometheus (+promtool), memcached (results cache), etcd (rings),
# Alertmanager (the ruler's notification target), chromium + chromium-driver (the UI's
# browser tests drive a real headless Chromium over WebDriver); podman, runc, mmdebstrap (the image test).
missing=()
command -v prometheus >/dev/null && command -v promtool >/dev/null || missing+=(prometheus)
command -v memcached >/dev/null || missing+=(memcached)
command -v etcd >/dev/null || missing+=(etcd-server)
command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
# The container image test (make test-image): podman with runc, a root filesystem by mmdebstrap.
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
if [ "$want_debian" = 1 ] && [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
extras=${TIDEWELL_SETUP_EXTRAS-test}
target="."
[ -z "$extras" ] || target=".[${extras}]"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e "$target"
# Peers built from the Go module proxy and Maven Central (Prometheus 3, Apache Kafka,
# VictoriaMetrics, Helm) into a cache outside the repository: see scripts/peers.sh.
[ "${TIDEWELL_SETUP_PEERS:-1}" = 0 ] || ./scripts/peers.sh
echo "setup: done"
