"""ConsumerLag: librdkafka's statistics → lag per (topic, partition); merging several consumers' reports (the Kafka
channel's); its Prometheus gauge."""

from __future__ import annotations

import json
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from flafka.channels.kafka import KafkaChannel
from flafka.config.plan import AgentPlan
from flafka.kafka.lag import ConsumerLag, ReportsLag, merged_lag
from flafka.monitoring.health import Health
from flafka.monitoring.http import AgentCollector
from flafka.monitoring.registry import MetricsRegistry
from flafka.testing import parse_config
from tests.unit.channels.test_kafka_channel_takes import TOPIC, FakeBroker, FakeConsumer, take

STATS = {"topics": {"t1": {"partitions": {
    "0": {"consumer_lag": 900, "hi_offset": 1000, "committed_offset": 100},
    "1": {"consumer_lag": -1},  # committed offset not known yet
    "-1": {"consumer_lag": 5},  # librdkafka's internal unassigned partition
}}, "t2": {"partitions": {"3": {"consumer_lag": 0}}}}}


def test_known_lags_are_kept_and_unknown_ones_left_out() -> None:
    lag = ConsumerLag(1000)
    lag.update(json.dumps(STATS))
    assert lag.snapshot() == {("t1", 0): 900, ("t2", 3): 0}


def test_a_report_replaces_the_last_and_a_broken_one_changes_nothing() -> None:
    lag = ConsumerLag(1000)
    lag.update(json.dumps(STATS))
    lag.update("{not json")
    lag.update(json.dumps({"topics": "unexpected"}))
    assert lag.snapshot() == {("t1", 0): 900, ("t2", 3): 0}
    lag.update(json.dumps({"topics": {}}))
    assert lag.snapshot() == {}


def test_interval_zero_turns_the_reports_off() -> None:
    assert ConsumerLag(0).settings() == {}
    settings = ConsumerLag(250).settings()
    assert settings["statistics.interval.ms"] == 250
    assert callable(settings["stats_cb"])


class LaggingAgent:
    """What the collector reads of an agent: no counters, no components, one source's lag."""

    name = "a1"
    metrics = MetricsRegistry()
    plan = AgentPlan("a1")

    def health(self) -> Health:
        return Health({})

    def kafka_lag(self) -> dict[str, dict[tuple[str, int], int]]:
        return {"SOURCE.r1": {("t1", 0): 900, ("t2", 3): 0}}

    def counters(self) -> dict[str, dict[str, str]]:
        return {}


def test_the_gauge_has_one_sample_per_partition() -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(LaggingAgent()))
    families = {f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())}
    samples = sorted((s.labels["topic"], s.labels["partition"], s.value)
                     for s in families["flafka_kafka_consumer_lag"].samples)
    assert samples == [("t1", "0", 900.0), ("t2", "3", 0.0)]
    assert {s.labels["component"] for s in families["flafka_kafka_consumer_lag"].samples} == {"r1"}


def _report(lag: ConsumerLag, values: dict[tuple[str, int], int]) -> None:
    topics: dict[str, dict[str, dict[str, dict[str, int]]]] = {}
    for (topic, partition), value in values.items():
        topics.setdefault(topic, {"partitions": {}})["partitions"][str(partition)] = {"consumer_lag": value}
    lag.update(json.dumps({"topics": topics}))


def test_merged_lag_takes_each_partition_from_a_consumer_it_is_assigned_to_the_newest_report_first() -> None:
    old, new = ConsumerLag(1000), ConsumerLag(1000)
    _report(old, {("t", 0): 50, ("t", 1): 60})
    _report(new, {("t", 1): 10, ("t", 2): 70})  # reported after old's
    # t-1 is assigned to both (a rebalance under way): the newer report wins, whichever comes first
    assert merged_lag([(new, {("t", 1), ("t", 2)}), (old, {("t", 0), ("t", 1)})]) == \
        {("t", 0): 50, ("t", 1): 10, ("t", 2): 70}
    # a consumer's value for a partition it gave up is left out, however new
    assert merged_lag([(old, {("t", 0), ("t", 1)}), (new, {("t", 2)})]) == {("t", 0): 50, ("t", 1): 60, ("t", 2): 70}
    assert merged_lag([(old, set()), (new, set())]) == {}


def test_the_kafka_channel_reports_the_lag_of_its_consumers_partitions() -> None:
    broker = FakeBroker(partitions=2)
    made: list[FakeConsumer] = []

    def factory(conf: dict[str, Any]) -> FakeConsumer:
        made.append(FakeConsumer(conf, broker))
        return made[-1]

    props = {"kafka.bootstrap.servers": "b:1", "kafka.topic": TOPIC, "kafka.consumer.group.id": "g",
             "kafka.pollTimeout": "50", "consumerLagIntervalMs": "250"}
    channel = KafkaChannel("c1", parse_config(KafkaChannel, props, "c1"), consumer_factory=factory)
    assert isinstance(channel, ReportsLag)
    channel.start()
    try:
        assert channel.consumer_lag() == {}  # no taking thread, no consumer yet
        broker.fill(0, 3)
        take(channel, 10)
        (consumer,) = made
        assert consumer.conf["statistics.interval.ms"] == 250
        consumer.conf["stats_cb"](json.dumps({"topics": {TOPIC: {"partitions": {
            "0": {"consumer_lag": 4}, "1": {"consumer_lag": 9}}}}}))  # librdkafka calls it inside consume()
        assert channel.consumer_lag() == {(TOPIC, 0): 4, (TOPIC, 1): 9}
        consumer.revoke(1)
        take(channel, 10)  # partition 1 is revoked inside this take's consume(), and not given back
        assert channel.consumer_lag() == {(TOPIC, 0): 4}
    finally:
        channel.stop_within(5.0)
    assert channel.consumer_lag() == {}  # a closed consumer reports nothing
