"""ConsumerLag: librdkafka's statistics → lag per (topic, partition); its Prometheus gauge."""

from __future__ import annotations

import json

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from flafka.kafka.lag import ConsumerLag
from flafka.monitoring.http import FlumeCollector

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


def test_the_gauge_has_one_sample_per_partition() -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FlumeCollector("a1", dict, lag=lambda: {"SOURCE.r1": {("t1", 0): 900, ("t2", 3): 0}}))
    families = {f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())}
    samples = sorted((s.labels["topic"], s.labels["partition"], s.value)
                     for s in families["flafka_kafka_consumer_lag"].samples)
    assert samples == [("t1", "0", 900.0), ("t2", "3", 0.0)]
    assert {s.labels["component"] for s in families["flafka_kafka_consumer_lag"].samples} == {"r1"}
