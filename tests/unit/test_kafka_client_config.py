"""Java Kafka client properties → librdkafka settings."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from pathlib import Path

import confluent_kafka
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from flafka.kafka import client_config
from flafka.kafka.client_config import (
    _RD_CONSUMER,
    _RD_PRODUCER,
    ClientConfig,
    consumer_config,
    gssapi_available,
    legacy_config,
    producer_config,
)


def test_numbers_are_read_as_every_configuration_number_is() -> None:
    # One reading of whole numbers for flafka's own keys and the Kafka client's: Python's int() alone took "1_000".
    out = producer_config({"linger.ms": "1_000", "retries": " 3 ", "batch.size": "nan"})
    assert [key for key, _ in out.errors] == ["kafka.producer.linger.ms", "kafka.producer.batch.size"]
    assert "expected a whole number, got '1_000'" in out.errors[0][1]
    assert out.conf["retries"] == 3


PLAIN_JAAS = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="s3 cret";'


def _consumer(conf: Mapping[str, object]) -> None:
    confluent_kafka.Consumer({"group.id": "g", **conf}).close()


def _producer(conf: Mapping[str, object]) -> None:
    confluent_kafka.Producer(dict(conf))


class _Pem:
    """A self-signed certificate (as CA file) and key stores holding it and its encrypted key."""

    def __init__(self, tmp_path: Path, password: bytes = b"keypass") -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "flafka-test")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now)
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))
        self.cert = cert.public_bytes(serialization.Encoding.PEM).decode()
        self.key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.BestAvailableEncryption(password)).decode()
        self.ca, self.keystore, self.p12 = tmp_path / "ca.pem", tmp_path / "client.pem", tmp_path / "client.p12"
        self.ca.write_text(self.cert)
        self.keystore.write_text(self.cert + self.key)
        self.p12.write_bytes(pkcs12.serialize_key_and_certificates(
            b"client", key, cert, None, serialization.BestAvailableEncryption(password)))


def _common_samples(pem: _Pem) -> list[dict[str, str]]:
    """Every common Java key with a valid value, spread over configs that can stand together."""
    files = {
        "bootstrap.servers": "127.0.0.1:9, 127.0.0.1:10", "client.id": "flafka-1",
        "client.dns.lookup": "use_all_dns_ips", "retry.backoff.ms": "100", "retry.backoff.max.ms": "1000",
        "reconnect.backoff.ms": "50", "reconnect.backoff.max.ms": "1000",
        "socket.connection.setup.timeout.ms": "10000", "connections.max.idle.ms": "540000",
        "metadata.max.age.ms": "300000", "receive.buffer.bytes": "-1", "send.buffer.bytes": "131072",
        "max.in.flight.requests.per.connection": "5", "security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN",
        "sasl.jaas.config": PLAIN_JAAS, "ssl.truststore.location": str(pem.ca), "ssl.truststore.type": "PEM",
        "ssl.truststore.password": "ignored", "ssl.keystore.location": str(pem.keystore), "ssl.keystore.type": "PEM",
        "ssl.keystore.password": "keypass", "ssl.key.password": "keypass", "ssl.crlfile": str(pem.ca),
        "ssl.ciphers": "ECDHE-ECDSA-AES256-GCM-SHA384", "ssl.endpoint.identification.algorithm": "https",
        "ssl.protocol": "TLSv1.3", "ssl.enabled.protocols": "TLSv1.2,TLSv1.3",
        "metric.reporters": "com.example.Reporter", "interceptor.classes": "com.example.Interceptor",
    }
    aliases = {  # flafka's own PEM file names, and the other spellings of the hostname check
        "ssl.cafile": str(pem.ca), "ssl.certfile": str(pem.keystore), "ssl.keyfile": str(pem.keystore),
        "ssl.password": "keypass", "ssl.check.hostname": "false", "ssl.disableTLSHostnameVerification": "true",
        "security.protocol": "SSL",
    }
    inline = {  # PEM text instead of files, and a PKCS#12 key store
        "ssl.truststore.certificates": pem.cert, "ssl.keystore.certificate.chain": pem.cert,
        "ssl.keystore.key": pem.key, "ssl.key.password": "keypass", "security.protocol": "SSL",
    }
    pkcs = {"ssl.keystore.location": str(pem.p12), "ssl.keystore.type": "PKCS12", "ssl.keystore.password": "keypass",
            "security.protocol": "SSL", "sasl.kerberos.service.name": "kafka"}
    return [files, aliases, inline, pkcs]


def _samples(kind: str, pem: _Pem) -> list[dict[str, str]]:
    common = _common_samples(pem)
    if kind == "consumer":
        own = {
            "request.timeout.ms": "30000", "group.id": "flume", "group.instance.id": "flume-1", "client.rack": "r1",
            "auto.offset.reset": "earliest", "enable.auto.commit": "false", "auto.commit.interval.ms": "5000",
            "fetch.min.bytes": "1", "fetch.max.bytes": "52428800", "fetch.max.wait.ms": "500",
            "max.partition.fetch.bytes": "1048576", "max.poll.records": "500", "max.poll.interval.ms": "300000",
            "session.timeout.ms": "45000", "heartbeat.interval.ms": "3000", "check.crcs": "true",
            "isolation.level": "read_committed", "exclude.internal.topics": "true", "allow.auto.create.topics": "false",
            "partition.assignment.strategy": "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
            "key.deserializer": "org.apache.kafka.common.serialization.StringDeserializer",
            "value.deserializer": "org.apache.kafka.common.serialization.ByteArrayDeserializer",
            "default.api.timeout.ms": "60000",
        }
    else:
        own = {
            "request.timeout.ms": "30000", "acks": "all", "compression.type": "zstd", "retries": "2147483647",
            "batch.size": "16384", "linger.ms": "5", "max.block.ms": "60000", "max.request.size": "1048576",
            "delivery.timeout.ms": "120000", "enable.idempotence": "true", "transactional.id": "tx-1",
            "transaction.timeout.ms": "120000", "buffer.memory": "33554432",
            "partitioner.class": "org.apache.kafka.clients.producer.internals.DefaultPartitioner",
            "key.serializer": "org.apache.kafka.common.serialization.StringSerializer",
            "value.serializer": "org.apache.kafka.common.serialization.ByteArraySerializer",
        }
    return [{**common[0], **own}, *common[1:]]


@pytest.mark.parametrize(("kind", "convert", "rows", "client"), [
    ("consumer", consumer_config, _RD_CONSUMER, _consumer),
    ("producer", producer_config, _RD_PRODUCER, _producer),
])
def test_librdkafka_accepts_every_name_and_value_the_table_gives(
        tmp_path: Path, kind: str, convert: Callable[[Mapping[str, str]], ClientConfig], rows: Mapping[str, object],
        client: Callable[[Mapping[str, object]], None]) -> None:
    # The test that catches a wrong librdkafka name: every Java key, set to a valid value, and the client built.
    samples = _samples(kind, _Pem(tmp_path))
    assert set().union(*samples) == set(rows)  # a new row needs a sample here
    for props in samples:
        out = convert(props)
        assert out.errors == []
        client(out.conf)  # builds the client: checks every name and value, loads the PEM files, no broker needed


@pytest.mark.parametrize(("rows", "client"), [(_RD_CONSUMER, _consumer), (_RD_PRODUCER, _producer)])
def test_the_ranges_checked_are_librdkafkas(rows: Mapping[str, client_config._Row],
                                            client: Callable[[Mapping[str, object]], None]) -> None:
    # librdkafka reads a number past 2^31 as a wrapped int instead of refusing it, so the table checks ranges
    # itself; librdkafka names its range when it refuses -1.
    spans = {row.name: row.span for row in rows.values() if row.span is not None}
    assert len(spans) > 15
    for name, (low, high) in spans.items():
        assert name is not None
        with pytest.raises(confluent_kafka.KafkaException, match=rf"allowed range {low}\.\.{high}\b"):
            client({name: -1})


def test_a_number_librdkafka_would_wrap_around_is_an_error_keyed_by_the_property() -> None:
    out = producer_config({"delivery.timeout.ms": str(2**32 + 1000), "linger.ms": "900000"})
    assert out.errors == [("kafka.producer.delivery.timeout.ms", "(4294968296) must be between 0 and 2147483647 for "
                                                                 "librdkafka, flafka's Kafka client")]
    assert out.conf["linger.ms"] == 900000
    out = consumer_config({"fetch.max.wait.ms": "300001"}, prefix="kafka.channel.consumer.")
    assert [key for key, _ in out.errors] == ["kafka.channel.consumer.fetch.max.wait.ms"]


@pytest.mark.parametrize(("convert", "key", "text", "name", "value"), [
    # Java -1 is "the OS default", librdkafka's 0
    (consumer_config, "receive.buffer.bytes", "-1", "socket.receive.buffer.bytes", 0),
    (producer_config, "send.buffer.bytes", "-1", "socket.send.buffer.bytes", 0),
    (producer_config, "max.request.size", "2097152", "message.max.bytes", 2097152),
    (consumer_config, "fetch.max.wait.ms", "50", "fetch.wait.max.ms", 50),
    (consumer_config, "request.timeout.ms", "20000", "socket.timeout.ms", 20000),  # librdkafka's is producer-only
    (producer_config, "request.timeout.ms", "20000", "request.timeout.ms", 20000),
    (producer_config, "buffer.memory", "33554432", "queue.buffering.max.kbytes", 32768),
    (producer_config, "buffer.memory", "1", "queue.buffering.max.kbytes", 1),  # rounded up, never 0
    (producer_config, "acks", "-1", "acks", "all"),
    (producer_config, "compression.type", "NONE", "compression.type", "none"),
    (consumer_config, "auto.offset.reset", "smallest", "auto.offset.reset", "earliest"),  # Kafka 0.8 spellings
    (consumer_config, "auto.offset.reset", "largest", "auto.offset.reset", "latest"),
    (consumer_config, "auto.offset.reset", "none", "auto.offset.reset", "error"),
    (consumer_config, "security.protocol", "SASL_SSL", "security.protocol", "sasl_ssl"),
    (consumer_config, "ssl.endpoint.identification.algorithm", "", "ssl.endpoint.identification.algorithm", "none"),
    (consumer_config, "ssl.endpoint.identification.algorithm", "HTTPS", "ssl.endpoint.identification.algorithm",
     "https"),
    (consumer_config, "ssl.check.hostname", "false", "ssl.endpoint.identification.algorithm", "none"),
    (consumer_config, "ssl.disableTLSHostnameVerification", "true", "ssl.endpoint.identification.algorithm", "none"),
    (consumer_config, "ssl.cafile", "/ca.pem", "ssl.ca.location", "/ca.pem"),
    (consumer_config, "exclude.internal.topics", "false", "topic.blacklist", ""),
    (consumer_config, "partition.assignment.strategy",
     "org.apache.kafka.clients.consumer.RangeAssignor, org.apache.kafka.clients.consumer.RoundRobinAssignor",
     "partition.assignment.strategy", "range,roundrobin"),
    (consumer_config, "partition.assignment.strategy", "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
     "partition.assignment.strategy", "cooperative-sticky"),
])
def test_java_values_librdkafka_spells_differently(convert: Callable[[Mapping[str, str]], ClientConfig], key: str,
                                                   text: str, name: str, value: object) -> None:
    out = convert({key: text, "sasl.mechanism": "PLAIN"})  # SASL without a mechanism would mean GSSAPI
    assert (out.errors, out.warnings) == ([], [])
    assert out.conf[name] == value
    assert type(out.conf[name]) is type(value)


def test_consumer_offsets_are_flafkas_to_store_and_commit() -> None:
    out = consumer_config({"enable.auto.commit": "true", "auto.commit.interval.ms": "1000"})
    assert (out.conf["enable.auto.commit"], out.conf["enable.auto.offset.store"]) == (False, False)
    assert out.warnings == [
        ("kafka.consumer.enable.auto.commit", "ignored: offsets are committed only after the channel transaction "
                                              "commits"),
        ("kafka.consumer.auto.commit.interval.ms", "ignored: auto commit is always off")]


def test_internal_topics_are_left_out_of_pattern_subscriptions_as_in_java() -> None:
    assert consumer_config({}).conf["topic.blacklist"] == "^__consumer_offsets$,^__transaction_state$," \
                                                          "^__share_group_state$"


def test_settings_librdkafka_lacks_are_accepted_with_a_note() -> None:
    out = consumer_config({"max.poll.records": "100", "default.api.timeout.ms": "60000"})
    assert out.conf == consumer_config({}).conf
    assert out.warnings == [
        ("kafka.consumer.max.poll.records", "ignored: librdkafka has no such setting; the component's batch size "
                                            "bounds each batch"),
        ("kafka.consumer.default.api.timeout.ms", "ignored: librdkafka has no such setting")]
    assert producer_config({"max.poll.records": "1"}).warnings[0][1].startswith("not a Kafka client property")
    assert consumer_config({"max.poll.records": "lots"}).errors == [
        ("kafka.consumer.max.poll.records", "expected a whole number, got 'lots'")]


def test_unknown_keys_get_a_suggestion_with_the_full_name() -> None:
    out = consumer_config({"fetch.max.wait.msec": "5"}, prefix="kafka.channel.consumer.")
    assert out.warnings == [("kafka.channel.consumer.fetch.max.wait.msec", "not a Kafka client property flafka "
                             "knows; ignored (did you mean 'kafka.channel.consumer.fetch.max.wait.ms'?)")]
    assert consumer_config({"timeout.ms": "100"}).warnings == [  # Flume 1.6's kafka.consumer.timeout.ms
        ("kafka.consumer.timeout.ms", "is a Kafka 0.8 consumer setting (Flume 1.6) with no effect on the modern "
                                      "client; ignored")]


def test_assignors_librdkafka_cannot_run_are_errors_naming_what_works() -> None:
    sticky = consumer_config({"partition.assignment.strategy": "org.apache.kafka.clients.consumer.StickyAssignor"})
    assert sticky.errors == [("kafka.consumer.partition.assignment.strategy",
                              "'org.apache.kafka.clients.consumer.StickyAssignor' is not available in librdkafka "
                              "(librdkafka has no eager sticky assignor); use CooperativeStickyAssignor, RangeAssignor "
                              "or RoundRobinAssignor")]
    # Java 3's default list mixes both kinds to migrate a group; librdkafka refuses to build such a consumer.
    mixed = ("org.apache.kafka.clients.consumer.RangeAssignor,"
             "org.apache.kafka.clients.consumer.CooperativeStickyAssignor")
    with pytest.raises(confluent_kafka.KafkaException, match="same protocol type"):
        _consumer({"partition.assignment.strategy": "range,cooperative-sticky"})
    assert "mixes CooperativeStickyAssignor with eager assignors" in consumer_config(
        {"partition.assignment.strategy": mixed}).errors[0][1]


def test_settings_librdkafka_refuses_together_are_errors() -> None:
    out = consumer_config({"max.poll.interval.ms": "10000"})
    assert out.errors == [("kafka.consumer.max.poll.interval.ms", "max.poll.interval.ms (10000) must be at least "
                                                                  "session.timeout.ms (45000) for librdkafka")]
    with pytest.raises(confluent_kafka.KafkaException, match=r"max\.poll\.interval\.ms"):
        _consumer(consumer_config({"max.poll.interval.ms": "10000"}).conf)
    # librdkafka wants fetch.max.bytes >= message.max.bytes: a consumer's largest request comes down to meet it.
    small = consumer_config({"fetch.max.bytes": "500000"})
    assert (small.errors, small.conf["message.max.bytes"]) == ([], 500000)
    _consumer(small.conf)
    assert [key for key, _ in consumer_config({"fetch.max.bytes": "999"}).errors] == ["kafka.consumer.fetch.max.bytes"]


def test_key_stores_jks_is_an_error_naming_pem_pkcs12_key_store_is_passed() -> None:
    jks = consumer_config({"ssl.truststore.location": "/etc/kafka/truststore.jks"})
    assert jks.errors == [("kafka.consumer.ssl.truststore.location",
                           "JKS truststores cannot be read by librdkafka; convert it to PEM and set "
                           "ssl.truststore.type=PEM (or use kafka.consumer.ssl.cafile / ssl.certfile / ssl.keyfile)")]
    p12 = producer_config({"ssl.keystore.location": "/k.p12", "ssl.keystore.type": "pkcs12",
                           "ssl.keystore.password": "pw", "ssl.truststore.location": "/t.p12",
                           "ssl.truststore.type": "PKCS12"})
    assert [key for key, _ in p12.errors] == ["kafka.producer.ssl.truststore.location"]  # no PKCS#12 CA store
    assert (p12.conf["ssl.keystore.location"], p12.conf["ssl.keystore.password"]) == ("/k.p12", "pw")
    pem = producer_config({"ssl.keystore.location": "/me.pem", "ssl.keystore.type": "PEM",
                           "ssl.keystore.password": "s", "ssl.truststore.location": "/ca.pem",
                           "ssl.truststore.type": "PEM"})
    assert pem.errors == []
    assert [pem.conf[n] for n in ("ssl.ca.location", "ssl.certificate.location", "ssl.key.location",
                                  "ssl.key.password")] == ["/ca.pem", "/me.pem", "/me.pem", "s"]
    assert consumer_config({"ssl.keystore.type": "BCFKS"}).errors == [
        ("kafka.consumer.ssl.keystore.type", "must be one of JKS, PKCS12, PEM, got 'BCFKS'")]


def test_sasl_jaas_config_login_modules() -> None:
    plain = consumer_config({"sasl.mechanism": "plain", "sasl.jaas.config": PLAIN_JAAS})
    assert [plain.conf[n] for n in ("sasl.mechanism", "sasl.username", "sasl.password")] == [
        "PLAIN", "alice", "s3 cret"]
    scram = producer_config({"sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required "
                                                 "username=bob password=pw;"})
    assert (scram.conf["sasl.username"], scram.conf["sasl.password"]) == ("bob", "pw")
    # librdkafka renews the ticket from a keytab itself: no longer a warning, as it was with kafka-python.
    krb = consumer_config({"sasl.jaas.config": 'com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true '
                                               'keyTab="/etc/flume.keytab" principal="flume/h@EXAMPLE.COM" '
                                               'serviceName="kafka";'})
    assert (krb.errors, krb.warnings) == ([], [])
    assert [krb.conf[n] for n in ("sasl.kerberos.keytab", "sasl.kerberos.principal", "sasl.kerberos.service.name")] \
        == ["/etc/flume.keytab", "flume/h@EXAMPLE.COM", "kafka"]
    no_tab = consumer_config({"sasl.jaas.config": "com.sun.security.auth.module.Krb5LoginModule required "
                                                  "useKeyTab=true;"})
    assert no_tab.errors == [("kafka.consumer.sasl.jaas.config", 'useKeyTab=true needs keyTab="<path>"')]
    other = consumer_config({"sasl.jaas.config": "com.example.Custom required;"})
    assert other.errors == [("kafka.consumer.sasl.jaas.config", "login module 'com.example.Custom' is not "
                             "supported; use PlainLoginModule, ScramLoginModule or Krb5LoginModule")]


def test_gssapi_availability_is_librdkafkas_own_answer() -> None:
    conf = {"security.protocol": "sasl_plaintext", "sasl.mechanism": "GSSAPI"}
    if gssapi_available():
        _producer(conf)
    else:  # the PyPI wheels: built without libsasl2
        with pytest.raises(confluent_kafka.KafkaException, match="GSSAPI"):
            _producer(conf)


def test_gssapi_without_it_in_librdkafka_is_an_error_where_it_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_config, "gssapi_available", lambda: False)
    explicit = producer_config({"security.protocol": "SASL_SSL", "sasl.mechanism": "GSSAPI"})
    assert [key for key, _ in explicit.errors] == ["kafka.producer.sasl.mechanism"]
    assert explicit.errors[0][1].startswith("GSSAPI (Kerberos) is not available: this confluent-kafka's librdkafka "
                                            "is built without it (the PyPI wheels are). Use SCRAM or PLAIN")
    implied = consumer_config({"security.protocol": "SASL_PLAINTEXT"})  # Java's and librdkafka's default mechanism
    assert [key for key, _ in implied.errors] == ["kafka.consumer.security.protocol"]
    assert implied.errors[0][1].startswith("SASL without kafka.consumer.sasl.mechanism means GSSAPI, and GSSAPI")
    assert consumer_config({"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512"}).errors == []
    monkeypatch.setattr(client_config, "gssapi_available", lambda: True)
    assert producer_config({"security.protocol": "SASL_SSL", "sasl.mechanism": "GSSAPI"}).errors == []


@pytest.mark.parametrize(("props", "default_acks", "idempotent"), [
    ({}, "1", False),
    ({}, "all", True),
    ({"acks": "-1"}, "1", True),
    ({"acks": "0"}, "all", False),
    ({"acks": "all", "enable.idempotence": "false"}, "1", False),
    # Java 3.x leaves idempotence off, unless written, when another setting conflicts with it
    ({"acks": "all", "max.in.flight.requests.per.connection": "6"}, "1", False),
    ({"acks": "all", "retries": "0"}, "1", False),
])
def test_idempotence_is_on_unless_written_when_acks_is_all(props: dict[str, str], default_acks: str,
                                                           idempotent: bool) -> None:
    out = producer_config(props, default_acks=default_acks)
    assert out.errors == []
    assert out.conf["enable.idempotence"] is idempotent
    _producer(out.conf)


def test_idempotence_written_with_settings_that_conflict_is_an_error() -> None:
    out = producer_config({"acks": "0", "enable.idempotence": "true"})
    assert out.errors == [("kafka.producer.enable.idempotence", "requires acks=all, but acks is 0")]
    out = producer_config({"acks": "all", "enable.idempotence": "true", "max.in.flight.requests.per.connection": "6",
                           "retries": "0"})
    assert out.errors == [("kafka.producer.enable.idempotence", "requires max.in.flight.requests.per.connection of at "
                           "most 5, but it is 6; and retries of at least 1, but retries is 0")]
    assert producer_config({"acks": "1", "transactional.id": "t"}).errors == [
        ("kafka.producer.transactional.id", "transactions require acks=all")]


def test_keyed_records_go_where_javas_partitioner_puts_them() -> None:
    assert producer_config({}).conf["partitioner"] == "murmur2_random"  # librdkafka's own default is CRC32


def test_flume_16_keys_become_librdkafka_settings_with_a_warning() -> None:
    producer = legacy_config({"request.required.acks": "-1", "compression.codec": "snappy", "producer.type": "sync",
                              "queue.buffering.max.ms": "50"}, producer=True)
    assert (producer.conf["acks"], producer.conf["compression.type"], producer.conf["linger.ms"]) == (
        "all", "snappy", 50)
    assert producer.warnings == [
        ("kafka.request.required.acks", "is a Kafka 0.8 producer setting (Flume 1.6); used as kafka.producer.acks"),
        ("kafka.compression.codec", "is a Kafka 0.8 producer setting (Flume 1.6); used as "
                                    "kafka.producer.compression.type"),
        ("kafka.producer.type", "is a Kafka 0.8 producer setting with no effect on the modern client; ignored"),
        ("kafka.queue.buffering.max.ms", "is a Kafka 0.8 producer setting (Flume 1.6); used as "
                                         "kafka.producer.linger.ms"),
    ]
    consumer = legacy_config({"auto.offset.reset": "smallest", "fetch.wait.max.ms": "100",
                              "consumer.timeout.ms": "1000", "zookeeper.connect": "zk:2181"}, producer=False)
    assert (consumer.conf["auto.offset.reset"], consumer.conf["fetch.wait.max.ms"]) == ("earliest", 100)
    assert consumer.conf["enable.auto.commit"] is False
    assert [key for key, _ in consumer.warnings] == ["kafka.auto.offset.reset", "kafka.fetch.wait.max.ms",
                                                     "kafka.consumer.timeout.ms", "kafka.zookeeper.connect"]
    # A bad value is reported against the key the user wrote, not the modern one it stands for.
    assert legacy_config({"request.required.acks": "2"}, producer=True).errors == [
        ("kafka.request.required.acks", "must be 0, 1, all or -1, got '2'")]


def test_merged_takes_the_second_settings_and_both_problems() -> None:
    first = ClientConfig({"acks": "1", "linger.ms": 5}, [("a", "bad")], [("w1", "note")])
    second = ClientConfig({"acks": "all"}, [("b", "worse")], [("w2", "note")])
    both = first.merged(second)
    assert both == ClientConfig({"acks": "all", "linger.ms": 5}, [("a", "bad"), ("b", "worse")],
                                [("w1", "note"), ("w2", "note")])
    assert first.conf == {"acks": "1", "linger.ms": 5}  # neither is changed


def test_realistic_sasl_ssl_producer_is_accepted_by_librdkafka(tmp_path: Path) -> None:
    pem = _Pem(tmp_path)
    out = producer_config({
        "bootstrap.servers": "127.0.0.1:9",
        "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.jaas.config": 'org.apache.kafka.common.security.scram.ScramLoginModule required '
                            'username="flume" password="s3cret";',
        "ssl.truststore.location": str(pem.ca), "ssl.truststore.type": "PEM",
        "ssl.keystore.location": str(pem.keystore), "ssl.keystore.type": "PEM", "ssl.key.password": "keypass",
        "ssl.endpoint.identification.algorithm": "https",
        "compression.type": "zstd", "acks": "all", "linger.ms": "5", "batch.size": "65536",
        "max.request.size": "2097152", "delivery.timeout.ms": "120000", "request.timeout.ms": "30000",
        "retries": "2147483647", "max.in.flight.requests.per.connection": "5", "client.id": "flafka-sink",
        "max.block.ms": "60000",
    })
    assert out.errors == []
    assert out.conf["enable.idempotence"] is True
    assert out.conf["ssl.key.location"] == str(pem.keystore)
    _producer(out.conf)
