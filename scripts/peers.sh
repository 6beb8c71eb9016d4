#!/usr/bin/env bash
# Installs the test and benchmark peers into a cache outside the repository,
# ${TIDEWELL_PEERS_DIR:-$HOME/.cache/tidewell-peers}:
#   bin/prometheus, bin/promtool   Prometheus 3.x        (Go module proxy, go install)
#   bin/victoria-metrics           VictoriaMetrics       (Go module proxy, go install)
#   bin/helm                       Helm 4                (Go module proxy, go install)
#   kafka/libs/*.jar               Apache Kafka 4.x      (Maven Central, peers/kafka/pom.xml)
#   kafka/cds/*.jsa                its JVMs' class archives (half the start time of a node)
# Versions are pinned here; a stamp file per peer (stamps/<peer>) records what
# is installed, so a second run skips it. TIDEWELL_PEERS="prometheus kafka"
# installs a subset (default: all). Called by scripts/setup.sh (make test) and
# by the benchmark harness (benchmarks/launch.py).
set -euo pipefail
cd "$(dirname "$0")/.."

PROMETHEUS_MODULE=github.com/prometheus/prometheus
PROMETHEUS_VERSION=v0.316.0
PROMETHEUS_RELEASE=3.16.0 # what module version v0.316.0 is
VM_MODULE=github.com/VictoriaMetrics/VictoriaMetrics
VM_VERSION=v1.151.0
HELM_MODULE=helm.sh/helm/v4
HELM_VERSION=v4.3.2
KAFKA_POM=peers/kafka/pom.xml
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM")

# The Go toolchain's usual home, for shells that do not have it on PATH.
command -v go >/dev/null || [ ! -x /usr/local/go/bin/go ] || PATH="/usr/local/go/bin:$PATH"

PEERS=${TIDEWELL_PEERS_DIR:-$HOME/.cache/tidewell-peers}
WANT=" ${TIDEWELL_PEERS-prometheus kafka victoria-metrics helm} "
mkdir -p "$PEERS/bin" "$PEERS/stamps" "$PEERS/logs"

wanted() { [[ "$WANT" == *" $1 "* ]]; }
# The stamp names the version and the files it installed; all must still be there.
installed() {
  local peer=$1 version=$2 f
  shift 2
  [ "$(cat "$PEERS/stamps/$peer" 2>/dev/null)" = "$version" ] || return 1
  for f in "$@"; do [ -e "$PEERS/$f" ] || return 1; done
}
fail() {
  echo "peers: FAILED: $1" >&2
  echo "peers: last lines of $2:" >&2
  tail -n 20 "$2" >&2
  exit 1
}

# go_peer NAME MODULE VERSION LDFLAGS PACKAGE... : go install each package into bin/.
# LDFLAGS stamp the version into the binary, as the projects' release builds do.
go_peer() {
  local name=$1 module=$2 version=$3 ldflags=$4 log start pkgs=()
  shift 4
  local bins=()
  for p in "$@"; do pkgs+=("$module/$p@$version"); bins+=("bin/$(basename "$p")"); done
  if installed "$name" "$version $ldflags" "${bins[@]}"; then
    echo "peers: $name $version already in $PEERS (skipped)"
    return
  fi
  command -v go >/dev/null || { echo "peers: FAILED: $name needs the Go toolchain (go)" >&2; exit 1; }
  log="$PEERS/logs/$name.log"
  start=$SECONDS
  echo "peers: building $name $version (go install $module from the Go module proxy) ..."
  CGO_ENABLED=0 GOBIN="$PEERS/bin" go install -ldflags "$ldflags" "${pkgs[@]}" >"$log" 2>&1 ||
    fail "go install of $module@$version from the Go module proxy" "$log"
  echo "$version $ldflags" >"$PEERS/stamps/$name"
  echo "peers: $name $version installed in $((SECONDS - start))s"
}

kafka_peer() {
  local dir="$PEERS/kafka" log="$PEERS/logs/kafka.log" start
  if installed kafka "$KAFKA_VERSION" "kafka/libs/kafka_2.13-$KAFKA_VERSION.jar"; then
    echo "peers: kafka $KAFKA_VERSION already in $PEERS (skipped)"
    return
  fi
  command -v mvn >/dev/null || { echo "peers: FAILED: kafka needs Maven (mvn)" >&2; exit 1; }
  command -v java >/dev/null || { echo "peers: FAILED: kafka needs Java 17+ (java)" >&2; exit 1; }
  start=$SECONDS
  echo "peers: fetching kafka $KAFKA_VERSION (org.apache.kafka:kafka_2.13 from Maven Central) ..."
  rm -rf "$dir/libs"
  mvn -B -q -f "$KAFKA_POM" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$dir/libs" >"$log" 2>&1 ||
    fail "Maven could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION (and its dependencies) from Maven Central" "$log"
  echo "$KAFKA_VERSION" >"$PEERS/stamps/kafka"
  rm -rf "$dir/cds" # recorded from the old jars
  echo "peers: kafka $KAFKA_VERSION installed in $((SECONDS - start))s"
}

# Class-data-sharing archives of the storage tool and the broker (tool/localcluster/kafka_broker.py).
kafka_cds() {
  local py=${TIDEWELL_PYTHON:-.venv/bin/python} log="$PEERS/logs/kafka-cds.log"
  if [ -f "$PEERS/kafka/cds/kafka.Kafka.jsa" ]; then return; fi
  [ -x "$py" ] || { echo "peers: kafka class archives skipped (no $py yet)"; return; }
  echo "peers: recording kafka's class archives ..."
  "$py" -m tidewell.tool.localcluster.kafka_broker >"$log" 2>&1 ||
    fail "recording kafka's class archives" "$log"
}

total=$SECONDS
PV=github.com/prometheus/common/version
wanted prometheus && go_peer prometheus "$PROMETHEUS_MODULE" "$PROMETHEUS_VERSION" \
  "-X $PV.Version=$PROMETHEUS_RELEASE -X $PV.Revision=$PROMETHEUS_VERSION -X $PV.Branch=HEAD" \
  cmd/prometheus cmd/promtool
wanted kafka && kafka_peer && kafka_cds
wanted victoria-metrics && go_peer victoria-metrics "$VM_MODULE" "$VM_VERSION" \
  "-X $VM_MODULE/lib/buildinfo.Version=victoria-metrics-$VM_VERSION" app/victoria-metrics
wanted helm && go_peer helm "$HELM_MODULE" "$HELM_VERSION" \
  "-X $HELM_MODULE/internal/version.version=$HELM_VERSION" cmd/helm
echo "peers: ready in $PEERS ($((SECONDS - total))s)"
