"""A real Apache Kafka 4.x broker for tests: KRaft, single node, on loopback.

The node's config, format step and command line come from
``tidewell.tool.localcluster.kafka_broker`` (shared with ``tidewell tool local-cluster``); its log
lives in a temp directory on local disk and survives ``stop()``/``start()``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.ports import free_port
from tests.support.processes import Freezable, listening
from tidewell.tool.localcluster import kafka_broker


@dataclass
class ApacheKafka(Freezable):
    """An Apache Kafka node in ``workdir``; same surface as tests.support.tansu.Tansu."""

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

    def start(self) -> None:
        """Format (first time) and start; returns once the broker serves requests."""
        try:
            argv = kafka_broker.prepare(self.workdir, self.port, self.controller_port)
        except kafka_broker.KafkaMissingError as e:
            raise AssertionError(str(e)) from None
        with open(self.log_path, "ab") as out:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.start_timeout_s
        pid = self.proc.pid
        while not (listening(self.port) and kafka_broker.broker_started(self.log_path, pid)):
            if self.proc.poll() is not None:
                raise AssertionError(f"kafka exited: {self.log_path.read_text()[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"kafka not up in {self.start_timeout_s}s: {self.log_path.read_text()[-4000:]}"
                )
            time.sleep(0.1)

    def stop(self) -> None:
        """Kill the broker (SIGKILL); its log stays on disk for the next start()."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(20)
        self.proc = None
