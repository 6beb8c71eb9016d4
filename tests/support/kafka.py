"""A real Apache Kafka 4.x broker for tests: KRaft, single node, on loopback.

The jars come from Maven Central (scripts/peers.sh, peers/kafka/pom.xml). The
broker's log lives in a temp directory on local disk; ``message.max.bytes`` is
16,000,000 as Mimir's ingest storage requires. It is started like the Kafka
distribution's scripts do: ``kafka.tools.StorageTool format`` then ``kafka.Kafka``.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.peers import kafka_libs
from tests.support.ports import free_port

# JVM flags for a quick start on a small machine: class-data sharing, no C2
# warm-up pause for a short test, a heap that fits beside the rest of the suite.
JVM_FLAGS = ["-Xms128m", "-Xmx768m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
             "-Xshare:auto", "-Djava.awt.headless=true"]

LOG4J2 = """\
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = ERR
logger.kafka.name = kafka
logger.kafka.level = INFO
appender.err.type = Console
appender.err.name = ERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
"""


def server_properties(port: int, controller_port: int, log_dir: Path) -> dict[str, str]:
    """One node that is broker and KRaft controller, tuned to start and react fast."""
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
        "auto.create.topics.enable": "false",
        "log.flush.interval.messages": "9223372036854775807",
    }


def _cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


@dataclass
class ApacheKafka:
    """An Apache Kafka broker (KRaft) in ``workdir``; same surface as tests.support.tansu.Tansu."""

    workdir: Path
    port: int = field(default_factory=free_port)
    controller_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    start_timeout_s: float = 90.0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "kafka.log"

    def _java(self, main: str, *args: str) -> list[str]:
        log4j = f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.properties'}"
        return ["java", *JVM_FLAGS, log4j, "-cp", f"{kafka_libs()}/*", main, *args]

    def _format(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "log4j2.properties").write_text(LOG4J2)
        props = self.workdir / "server.properties"
        conf = server_properties(self.port, self.controller_port, self.workdir / "data")
        props.write_text("".join(f"{k}={v}\n" for k, v in conf.items()))
        if not (self.workdir / "data" / "meta.properties").exists():
            out = subprocess.run(
                self._java("kafka.tools.StorageTool", "format", "-t", _cluster_id(),
                           "-c", str(props)),
                capture_output=True, text=True, timeout=120,
            )
            if out.returncode != 0:
                raise AssertionError(f"kafka storage format failed:\n{out.stdout}\n{out.stderr}")
        return props

    def start(self) -> None:
        """Format (first time) and start; returns once the broker accepts connections."""
        props = self._format()
        with open(self.log_path, "ab") as out:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(self._java("kafka.Kafka", str(props)),
                                         stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"kafka exited: {self.log_path.read_text()[-4000:]}")
            if self._started():
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"kafka not up in {self.start_timeout_s}s: {self.log_path.read_text()[-4000:]}"
                )
            time.sleep(0.1)

    def _started(self) -> bool:
        """Listening and past startup (the broker opens its port before it is ready)."""
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
        except OSError:
            return False
        return "Kafka Server started" in self.log_path.read_text(errors="replace")

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): connections stay open, nothing is answered."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Kill the broker; its log stays on disk, so start() brings it back with the data."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(20)
        self.proc = None
