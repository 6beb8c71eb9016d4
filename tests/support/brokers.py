"""Both real Kafka-protocol brokers the Kafka backend is tested on, behind one surface.

``BROKERS`` names them for ``pytest.mark.parametrize``; ``start_broker`` starts one in a
directory. Both have ``address``, ``start()``, ``pause()`` (SIGSTOP), ``resume()`` and
``stop()`` (SIGKILL). Apache Kafka keeps its log on disk across stop/start; tansu here
runs on memory storage and loses it.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.kafka import ApacheKafka
from tests.support.ports import free_port
from tests.support.tansu import Tansu

BROKERS = ["tansu", "kafka"]

Broker = Tansu | ApacheKafka


def new_broker(kind: str, workdir: Path) -> Broker:
    """A broker of ``kind`` ("tansu" or "kafka") that keeps its files in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    if kind == "tansu":
        return Tansu(free_port(), workdir / "tansu.log")
    if kind == "kafka":
        return ApacheKafka(workdir)
    raise ValueError(f"unknown broker {kind!r}; expected one of {BROKERS}")


def start_broker(kind: str, workdir: Path) -> Broker:
    broker = new_broker(kind, workdir)
    broker.start()
    return broker
