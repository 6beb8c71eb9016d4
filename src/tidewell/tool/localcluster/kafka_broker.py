"""How to run Apache Kafka 4.x (KRaft, one node that is broker and controller) on loopback.

The jars are not ours: ``scripts/peers.sh`` fetches ``org.apache.kafka:kafka_2.13`` and
its dependencies from Maven Central into ``$TIDEWELL_PEERS_DIR/kafka/libs``. This
module writes the node's ``server.properties``, formats its log directory (what the
distribution's ``kafka-storage.sh format`` does) and builds the ``java`` command line;
the local cluster (``tool/localcluster/supervisor.py``) and the tests' launcher both use it.
"""

from __future__ import annotations

import base64
import os
import subprocess
import uuid
from pathlib import Path

from tidewell.model.errors import TidewellError

__all__ = [
    "KafkaMissingError",
    "broker_started",
    "java_command",
    "kafka_libs",
    "peers_dir",
    "prepare",
    "server_properties",
]

# A quick start on a small machine: class-data sharing, the C1 compiler only (no
# C2 warm-up pauses), a heap that fits beside the rest of a test run.
JVM_FLAGS = ("-Xms128m", "-Xmx768m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
             "-Xshare:auto", "-Djava.awt.headless=true")

LOG4J2 = """\
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = ERR
logger.kafka.name = kafka
logger.kafka.level = INFO
appender.err.type = Console
appender.err.name = ERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] [pid %pid] %p %m (%c)%n
"""

STARTED_LINE = "Kafka Server started"  # logged once the broker serves requests


class KafkaMissingError(TidewellError):
    """The Kafka jars are not installed; the message says how to install them."""


def peers_dir() -> Path:
    """The peers cache of scripts/peers.sh: $TIDEWELL_PEERS_DIR, else ~/.cache/tidewell-peers."""
    env = os.environ.get("TIDEWELL_PEERS_DIR")
    return Path(env) if env else Path.home() / ".cache" / "tidewell-peers"


def kafka_libs() -> Path:
    libs = peers_dir() / "kafka" / "libs"
    if not any(libs.glob("kafka_2.13-*.jar")):
        raise KafkaMissingError(
            f"Apache Kafka is missing: no {libs}/kafka_2.13-*.jar; run scripts/peers.sh "
            "(make setup does) to fetch it from Maven Central"
        )
    return libs


def server_properties(port: int, controller_port: int, log_dir: Path) -> dict[str, str]:
    """One node, loopback only; ``message.max.bytes`` 16,000,000 as Mimir requires."""
    return {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": "1",
        "default.replication.factor": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "message.max.bytes": "16000000",
        "replica.fetch.max.bytes": "16000000",
        # Tidewell creates its topic itself (-ingest-storage.kafka.auto-create-topic-*).
        "auto.create.topics.enable": "false",
    }


def java_command(workdir: Path, main: str, *args: str) -> list[str]:
    log4j = f"-Dlog4j2.configurationFile={workdir / 'log4j2.properties'}"
    return ["java", *JVM_FLAGS, log4j, "-cp", f"{kafka_libs()}/*", main, *args]


def prepare(workdir: Path, port: int, controller_port: int) -> list[str]:
    """Write the config, format ``workdir/data`` once; return the command that runs the node.

    The log stays in ``workdir/data``: a node started again on it keeps every record.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "log4j2.properties").write_text(LOG4J2)
    props = workdir / "server.properties"
    conf = server_properties(port, controller_port, workdir / "data")
    props.write_text("".join(f"{k}={v}\n" for k, v in conf.items()))
    if not (workdir / "data" / "meta.properties").exists():
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        out = subprocess.run(
            # "--cluster-id=<id>": a base64url ID may start with "-", which the tool's
            # argument parser would take for an option when passed as a separate word.
            java_command(workdir, "kafka.tools.StorageTool", "format",
                         f"--cluster-id={cluster_id}", "--config", str(props)),
            capture_output=True, text=True, timeout=120,
        )
        if out.returncode != 0:
            raise RuntimeError(f"kafka storage format failed:\n{out.stdout}\n{out.stderr}")
    return java_command(workdir, "kafka.Kafka", str(props))


def broker_started(log: Path, pid: int) -> bool:
    """True once process ``pid`` logged that it serves requests (it listens before that).

    Lines carry the pid, so a restarted node's log, appended to, is not fooled by
    the previous run's line.
    """
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return False
    return any(STARTED_LINE in line for line in text.splitlines() if f"[pid {pid}]" in line)
