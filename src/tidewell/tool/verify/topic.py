"""The guide's sizing rule: the topic has at least as many partitions as ingesters per zone.

Asked of the broker (topic metadata), compared with the partition ring: every
ACTIVE partition must exist in the topic, or its writes fail.
"""

from __future__ import annotations

import asyncio

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from tidewell.ingest.config import KafkaConfig
from tidewell.ingest.kafka import client_config
from tidewell.tool.verify.report import CheckResult, Status

__all__ = ["check_topic", "judge_topic", "topic_partitions"]

CHECK = "consume"


def _count(cfg: KafkaConfig, timeout_s: float) -> int | None:
    # All topics: asking for one by name makes some brokers create it.
    md = AdminClient(client_config(cfg, cfg.consume_address(), "verify")).list_topics(
        timeout=timeout_s)
    meta = md.topics.get(cfg.topic)
    if meta is None or meta.error is not None:
        return None
    return len(meta.partitions)


async def topic_partitions(cfg: KafkaConfig, timeout_s: float = 10.0) -> int | None:
    """The topic's partition count from the broker; None when the topic does not exist."""
    return await asyncio.to_thread(_count, cfg, timeout_s)


def judge_topic(topic: str, partitions: int | None, active: list[int],
                ingesters_per_zone: dict[str, int]) -> CheckResult:
    subject = f"topic {topic}"
    most = max(ingesters_per_zone.values(), default=0)
    if partitions is None:
        return CheckResult(CHECK, subject, Status.FAIL,
                           "the topic does not exist on the broker")
    missing = [p for p in active if p >= partitions]
    if missing:
        return CheckResult(CHECK, subject, Status.FAIL,
                           f"{partitions} partitions, but ACTIVE partition(s) "
                           f"{', '.join(map(str, missing))} are not in the topic: their writes "
                           "fail")
    if partitions < most:
        return CheckResult(CHECK, subject, Status.FAIL,
                           f"{partitions} partitions for {most} ingesters per zone: the guide "
                           "needs at least one partition per ingester")
    return CheckResult(CHECK, subject, Status.PASS,
                       f"{partitions} partitions, {len(active)} ACTIVE, at most {most} "
                       "ingesters per zone")


async def check_topic(cfg: KafkaConfig, active: list[int],
                      ingesters_per_zone: dict[str, int]) -> CheckResult:
    try:
        partitions = await topic_partitions(cfg)
    except KafkaException as exc:
        return CheckResult(CHECK, f"topic {cfg.topic}", Status.FAIL,
                           f"cannot read topic metadata from the broker: {exc}")
    return judge_topic(cfg.topic, partitions, active, ingesters_per_zone)
