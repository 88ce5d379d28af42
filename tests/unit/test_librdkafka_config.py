"""kafka-python producer arguments → confluent_kafka.Producer configuration."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import confluent_kafka
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from flafka.kafka.client_config import _COMMON, _PRODUCER, producer_args
from flafka.kafka.librdkafka_config import _KNOWN, librdkafka_producer_config

MAPPINGS: list[tuple[str, Any, str, Any]] = [
    ("bootstrap_servers", ["a:9092", "b:9093"], "bootstrap.servers", "a:9092,b:9093"),
    ("client_id", "flafka-1", "client.id", "flafka-1"),
    ("client_dns_lookup", "use_all_dns_ips", "client.dns.lookup", "use_all_dns_ips"),
    ("request_timeout_ms", 30000, "request.timeout.ms", 30000),
    ("retry_backoff_ms", 100, "retry.backoff.ms", 100),
    ("reconnect_backoff_ms", 50, "reconnect.backoff.ms", 50),
    ("reconnect_backoff_max_ms", 1000, "reconnect.backoff.max.ms", 1000),
    ("connections_max_idle_ms", 540000, "connections.max.idle.ms", 540000),
    ("metadata_max_age_ms", 300000, "metadata.max.age.ms", 300000),
    ("receive_buffer_bytes", 65536, "socket.receive.buffer.bytes", 65536),
    ("receive_buffer_bytes", -1, "socket.receive.buffer.bytes", 0),
    ("send_buffer_bytes", 131072, "socket.send.buffer.bytes", 131072),
    ("send_buffer_bytes", -1, "socket.send.buffer.bytes", 0),
    ("max_in_flight_requests_per_connection", 5, "max.in.flight.requests.per.connection", 5),
    ("security_protocol", "SASL_SSL", "security.protocol", "sasl_ssl"),
    ("ssl_cafile", "/etc/ca.pem", "ssl.ca.location", "/etc/ca.pem"),
    ("ssl_certfile", "/etc/cert.pem", "ssl.certificate.location", "/etc/cert.pem"),
    ("ssl_keyfile", "/etc/key.pem", "ssl.key.location", "/etc/key.pem"),
    ("ssl_crlfile", "/etc/crl.pem", "ssl.crl.location", "/etc/crl.pem"),
    ("ssl_password", "secret", "ssl.key.password", "secret"),
    ("ssl_ciphers", "ECDHE-RSA-AES256-GCM-SHA384", "ssl.cipher.suites", "ECDHE-RSA-AES256-GCM-SHA384"),
    ("ssl_check_hostname", True, "ssl.endpoint.identification.algorithm", "https"),
    ("ssl_check_hostname", False, "ssl.endpoint.identification.algorithm", "none"),
    ("sasl_mechanism", "SCRAM-SHA-512", "sasl.mechanism", "SCRAM-SHA-512"),
    ("sasl_kerberos_service_name", "kafka", "sasl.kerberos.service.name", "kafka"),
    ("sasl_plain_username", "alice", "sasl.username", "alice"),
    ("sasl_plain_password", "pw", "sasl.password", "pw"),
    ("acks", "all", "acks", "all"),
    ("acks", 0, "acks", "0"),
    ("acks", 1, "acks", "1"),
    ("compression_type", None, "compression.type", "none"),
    ("compression_type", "zstd", "compression.type", "zstd"),
    ("retries", 2147483647, "retries", 2147483647),
    ("batch_size", 16384, "batch.size", 16384),
    ("linger_ms", 0, "linger.ms", 0),
    ("max_request_size", 1048576, "message.max.bytes", 1048576),
    ("delivery_timeout_ms", 120000, "delivery.timeout.ms", 120000),
    ("enable_idempotence", True, "enable.idempotence", True),
    ("enable_idempotence", False, "enable.idempotence", False),
]


@pytest.mark.parametrize(("arg", "value", "name", "expected"), MAPPINGS)
def test_each_argument_maps_to_its_librdkafka_property(arg: str, value: Any, name: str, expected: Any) -> None:
    conf = librdkafka_producer_config({arg: value, "enable_idempotence": False} if arg != "enable_idempotence"
                                      else {arg: value})
    assert conf[name] == expected
    assert type(conf[name]) is type(expected)


@pytest.mark.parametrize("arg", ["max_block_ms", "bootstrap_timeout_ms", "transaction_timeout_ms"])
def test_arguments_without_a_librdkafka_equivalent_are_not_passed(arg: str) -> None:
    assert librdkafka_producer_config({arg: 1000, "enable_idempotence": False}) == {"enable.idempotence": False}


def test_absent_linger_is_left_to_the_caller() -> None:
    assert "linger.ms" not in librdkafka_producer_config({"acks": 1})


def test_every_client_config_rule_is_known() -> None:
    args = {rule.arg for rule in (*_COMMON.values(), *_PRODUCER.values()) if rule.arg is not None}
    # transactional_id is refused on purpose, not forgotten.
    assert args - _KNOWN == {"transactional_id"}


def test_security_and_jaas_arguments_are_known() -> None:
    plain = producer_args({
        "ssl.keystore.location": "/k.pem", "ssl.keystore.type": "PEM", "ssl.keystore.password": "pw",
        "ssl.truststore.location": "/t.pem", "ssl.truststore.type": "PEM",
        "sasl.jaas.config": 'org.apache.kafka.common.security.plain.PlainLoginModule required '
                            'username="u" password="p";'}).args
    krb = producer_args({"sasl.jaas.config": 'com.sun.security.auth.module.Krb5LoginModule required '
                                             'serviceName="kafka";'}).args
    assert {"ssl_cafile", "ssl_certfile", "ssl_keyfile", "ssl_password", "sasl_plain_username",
            "sasl_plain_password", "sasl_kerberos_service_name"} <= set(plain) | set(krb)
    assert set(plain) | set(krb) <= _KNOWN


def test_unknown_argument_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="value_serializer"):
        librdkafka_producer_config({"acks": 1, "value_serializer": str})


def test_transactional_id_is_refused() -> None:
    with pytest.raises(ValueError, match="transactional_id"):
        librdkafka_producer_config({"acks": "all", "transactional_id": "tx-1"})


@pytest.mark.parametrize(("acks", "idempotent"), [("all", True), (-1, True), (1, False), (0, False)])
def test_idempotence_default_follows_acks(acks: Any, idempotent: bool) -> None:
    assert librdkafka_producer_config({"acks": acks})["enable.idempotence"] is idempotent


def test_absent_acks_means_kafka_python_default_all_and_idempotent() -> None:
    assert librdkafka_producer_config({}) == {"enable.idempotence": True}


def test_explicit_idempotence_is_kept() -> None:
    assert librdkafka_producer_config({"acks": "all", "enable_idempotence": False})["enable.idempotence"] is False


def _pem_files(tmp_path: Path, password: bytes) -> tuple[Path, Path]:
    """A self-signed certificate (as CA file) and a PEM keystore holding it and its encrypted key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "flafka-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.BestAvailableEncryption(password))
    ca, keystore = tmp_path / "ca.pem", tmp_path / "client.pem"
    ca.write_bytes(cert_pem)
    keystore.write_bytes(cert_pem + key_pem)
    return ca, keystore


def test_realistic_sasl_ssl_config_is_accepted_by_librdkafka(tmp_path: Path) -> None:
    ca, keystore = _pem_files(tmp_path, b"keypass")
    out = producer_args({
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.jaas.config": 'org.apache.kafka.common.security.scram.ScramLoginModule required '
                            'username="flume" password="s3cret";',
        "ssl.truststore.location": str(ca), "ssl.truststore.type": "PEM",
        "ssl.keystore.location": str(keystore), "ssl.keystore.type": "PEM", "ssl.key.password": "keypass",
        "ssl.endpoint.identification.algorithm": "https",
        "compression.type": "zstd", "acks": "all", "linger.ms": "5", "batch.size": "65536",
        "max.request.size": "2097152", "delivery.timeout.ms": "120000", "request.timeout.ms": "30000",
        "retries": "2147483647", "max.in.flight.requests.per.connection": "5", "client.id": "flafka-sink",
        "max.block.ms": "60000",
    })
    assert out.errors == []
    args = {**out.args, "bootstrap_servers": ["127.0.0.1:9"], "bootstrap_timeout_ms": 2000}
    conf = librdkafka_producer_config(args)
    assert conf["enable.idempotence"] is True
    assert conf["ssl.key.location"] == str(keystore)
    # Construction validates every name and value (and loads the PEM files) without waiting on a broker.
    confluent_kafka.Producer(conf)
