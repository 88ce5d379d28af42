"""Java Kafka client properties → kafka-python arguments."""

from __future__ import annotations

from flafka.kafka.client_config import consumer_args, legacy_args, producer_args


def test_consumer_properties_are_converted() -> None:
    out = consumer_args({"bootstrap.servers": "a:9092, b:9092", "max.poll.records": "500",
                         "auto.offset.reset": "smallest", "isolation.level": "read_committed",
                         "security.protocol": "sasl_ssl", "ssl.endpoint.identification.algorithm": ""})
    assert out.errors == []
    assert out.warnings == []
    assert out.args == {"bootstrap_servers": ["a:9092", "b:9092"], "max_poll_records": 500,
                        "auto_offset_reset": "earliest", "isolation_level": "read_committed",
                        "security_protocol": "SASL_SSL", "ssl_check_hostname": False, "enable_auto_commit": False,
                        "retry_backoff_ms": 10, "fetch_max_wait_ms": 50}


def test_auto_commit_is_forced_off_with_a_warning() -> None:
    out = consumer_args({"enable.auto.commit": "true"})
    assert out.args["enable_auto_commit"] is False
    assert out.warnings == [("kafka.consumer.enable.auto.commit",
                             "ignored: offsets are committed only after the channel transaction commits")]


def test_unknown_key_suggests_the_right_one_and_bad_values_are_errors() -> None:
    out = consumer_args({"max.pol.records": "5", "fetch.min.bytes": "lots"})
    assert out.warnings == [("kafka.consumer.max.pol.records", "not a Kafka client property flafka knows; ignored "
                             "(did you mean 'kafka.consumer.max.poll.records'?)")]
    assert out.errors == [("kafka.consumer.fetch.min.bytes", "expected a whole number, got 'lots'")]


def test_jks_is_refused_naming_pem_and_pem_stores_map_to_files() -> None:
    jks = consumer_args({"ssl.truststore.location": "/etc/kafka/truststore.jks"})
    assert jks.errors[0][0] == "kafka.consumer.ssl.truststore.location"
    assert "convert it to PEM and set ssl.truststore.type=PEM" in jks.errors[0][1]
    pem = producer_args({"ssl.truststore.location": "/ca.pem", "ssl.truststore.type": "PEM",
                         "ssl.keystore.location": "/me.pem", "ssl.keystore.type": "PEM", "ssl.key.password": "s"},
                        default_acks="all")
    assert pem.errors == []
    assert (pem.args["ssl_cafile"], pem.args["ssl_certfile"], pem.args["ssl_keyfile"], pem.args["ssl_password"]) == (
        "/ca.pem", "/me.pem", "/me.pem", "s")


def test_sasl_jaas_config_plain_and_scram_and_unsupported_module() -> None:
    plain = consumer_args({"sasl.mechanism": "plain", "sasl.jaas.config":
                           'org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" '
                           'password="s3 cret";'})
    assert (plain.args["sasl_mechanism"], plain.args["sasl_plain_username"], plain.args["sasl_plain_password"]) == (
        "PLAIN", "alice", "s3 cret")
    scram = consumer_args({"sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required "
                                               "username=bob password=pw;"})
    assert scram.args["sasl_plain_username"] == "bob"
    other = consumer_args({"sasl.jaas.config": "com.example.Custom required;"})
    assert other.errors == [("kafka.consumer.sasl.jaas.config", "login module 'com.example.Custom' is not "
                             "supported; use PlainLoginModule, ScramLoginModule or Krb5LoginModule")]


def test_producer_acks_0_or_1_turn_idempotence_off_explicitly() -> None:
    assert producer_args({"acks": "1"}).args == {"acks": 1, "enable_idempotence": False}
    assert producer_args({}, default_acks="all").args == {"acks": "all"}
    assert producer_args({"acks": "-1"}).args == {"acks": "all"}
    both = producer_args({"acks": "0", "enable.idempotence": "true"})
    assert both.errors == [("kafka.producer.enable.idempotence", "requires acks=all, but acks is 0")]


def test_producer_compression_and_java_only_settings() -> None:
    out = producer_args({"compression.type": "none", "linger.ms": "5", "interceptor.classes": "x.Y",
                         "value.serializer": "org.apache.kafka.common.serialization.ByteArraySerializer"})
    assert out.args == {"compression_type": None, "linger_ms": 5, "acks": 1, "enable_idempotence": False}
    assert [k for k, _ in out.warnings] == ["kafka.producer.interceptor.classes"]


def test_partition_assignment_strategy_maps_java_class_names() -> None:
    out = consumer_args({"partition.assignment.strategy": "org.apache.kafka.clients.consumer.RoundRobinAssignor"})
    assert [c.__name__ for c in out.args["partition_assignment_strategy"]] == ["RoundRobinPartitionAssignor"]
    cooperative = "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"
    bad = consumer_args({"partition.assignment.strategy": cooperative})
    assert "is not available in the Python client" in bad.errors[0][1]


def test_flume_16_keys_are_mapped_with_a_warning() -> None:
    producer = legacy_args({"request.required.acks": "-1", "producer.type": "sync"}, producer=True)
    assert producer.args == {"acks": "all"}
    assert producer.warnings == [
        ("kafka.request.required.acks", "is a Kafka 0.8 producer setting (Flume 1.6); used as kafka.producer.acks"),
        ("kafka.producer.type", "is a Kafka 0.8 producer setting with no effect on the modern client; ignored"),
    ]
    consumer = legacy_args({"auto.offset.reset": "smallest", "consumer.timeout.ms": "1000"}, producer=False)
    assert consumer.args == {"auto_offset_reset": "earliest", "enable_auto_commit": False, "retry_backoff_ms": 10,
                             "fetch_max_wait_ms": 50}


def test_consumers_retry_after_10_ms_and_fetch_wait_50_ms_unless_written() -> None:
    assert consumer_args({}).args["retry_backoff_ms"] == 10
    assert consumer_args({"retry.backoff.ms": "250"}).args["retry_backoff_ms"] == 250
    assert consumer_args({}).args["fetch_max_wait_ms"] == 50
    assert consumer_args({"fetch.max.wait.ms": "500"}).args["fetch_max_wait_ms"] == 500
    assert "retry_backoff_ms" not in producer_args({}).args


def test_numbers_are_read_as_every_configuration_number_is() -> None:
    # One reading of whole numbers for flafka's own keys and the Kafka client's: Python's int() alone took "1_000".
    out = producer_args({"linger.ms": "1_000", "retries": " 3 ", "batch.size": "nan"})
    assert out.errors == [("kafka.producer.linger.ms", "expected a whole number, got '1_000'"),
                          ("kafka.producer.batch.size", "expected a whole number, got 'nan'")]
    assert out.args["retries"] == 3
