"""kafka-python producer arguments → a ``confluent_kafka.Producer`` (librdkafka) configuration.

Users keep writing Java client property names; :func:`flafka.kafka.client_config.producer_args` validates
them and turns them into kafka-python arguments. This module is the second, mechanical step for the
librdkafka-based sink: one table row per kafka-python argument, so every rule in ``client_config`` has
exactly one librdkafka counterpart (or an explicit "not passed") and a new rule there fails loudly here
instead of being dropped.

Differences between the clients that the table does not hide:

* ``batch.size`` is bytes in both; ``linger.ms`` defaults to 5 ms in librdkafka but 0 in Java and
  kafka-python. An absent ``linger_ms`` is left absent: the sink decides which default it wants.
* ``enable.idempotence`` defaults to false in librdkafka but to true with ``acks=all`` in Java 3.x and
  kafka-python 3, so when it is absent it is set from ``acks``.
* librdkafka's value ranges are narrower than Java's in places (``request.timeout.ms`` ≤ 900000,
  ``message.max.bytes`` ≥ 1000, ``retry.backoff.ms`` ≥ 1); those are reported by ``Producer()`` itself,
  naming the property, so they are not duplicated here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Value = str | int | bool
_Convert = Callable[[Any], Value]

# kafka-python arguments librdkafka has no setting for, on purpose: produce() never blocks (so
# max_block_ms and bootstrap_timeout_ms are bounded by the sink's own waits), and the sink does not use
# transactions (transaction_timeout_ms only matters with a transactional.id).
_NOT_PASSED = frozenset({"max_block_ms", "bootstrap_timeout_ms", "transaction_timeout_ms"})


def _same(value: Any) -> Value:
    if isinstance(value, bool | int | str):
        return value
    raise ValueError(f"unexpected value {value!r}")


def _join(value: Any) -> Value:
    if isinstance(value, str):
        return value
    return ",".join(str(v) for v in value)


def _socket_buffer(value: Any) -> Value:
    # Java documents -1 as "use the OS default"; librdkafka spells that 0 and rejects negatives.
    return 0 if int(value) < 0 else int(value)


def _lower(value: Any) -> Value:
    return str(value).lower()


def _hostname_check(value: Any) -> Value:
    return "https" if value else "none"


def _acks(value: Any) -> Value:
    # kafka-python also accepts -1 for "all" (its own default); librdkafka wants a string either way.
    return "all" if value in ("all", -1, "-1") else str(int(value))


def _compression(value: Any) -> Value:
    # client_config turns "none" into None because that is how kafka-python spells it.
    return "none" if value is None else str(value)


_TABLE: dict[str, tuple[str, _Convert]] = {
    "bootstrap_servers": ("bootstrap.servers", _join),
    "client_id": ("client.id", _same),
    "client_dns_lookup": ("client.dns.lookup", _same),
    "request_timeout_ms": ("request.timeout.ms", _same),
    "retry_backoff_ms": ("retry.backoff.ms", _same),
    "reconnect_backoff_ms": ("reconnect.backoff.ms", _same),
    "reconnect_backoff_max_ms": ("reconnect.backoff.max.ms", _same),
    "connections_max_idle_ms": ("connections.max.idle.ms", _same),
    "metadata_max_age_ms": ("metadata.max.age.ms", _same),
    "receive_buffer_bytes": ("socket.receive.buffer.bytes", _socket_buffer),
    "send_buffer_bytes": ("socket.send.buffer.bytes", _socket_buffer),
    "max_in_flight_requests_per_connection": ("max.in.flight.requests.per.connection", _same),
    "security_protocol": ("security.protocol", _lower),
    "ssl_cafile": ("ssl.ca.location", _same),
    "ssl_certfile": ("ssl.certificate.location", _same),
    "ssl_keyfile": ("ssl.key.location", _same),
    "ssl_crlfile": ("ssl.crl.location", _same),
    "ssl_password": ("ssl.key.password", _same),
    "ssl_ciphers": ("ssl.cipher.suites", _same),
    "ssl_check_hostname": ("ssl.endpoint.identification.algorithm", _hostname_check),
    "sasl_mechanism": ("sasl.mechanism", _same),
    "sasl_kerberos_service_name": ("sasl.kerberos.service.name", _same),
    "sasl_plain_username": ("sasl.username", _same),
    "sasl_plain_password": ("sasl.password", _same),
    "acks": ("acks", _acks),
    "compression_type": ("compression.type", _compression),
    "retries": ("retries", _same),
    "batch_size": ("batch.size", _same),
    "linger_ms": ("linger.ms", _same),
    "max_request_size": ("message.max.bytes", _same),
    "delivery_timeout_ms": ("delivery.timeout.ms", _same),
    "enable_idempotence": ("enable.idempotence", _same),
}

_KNOWN = frozenset(_TABLE) | _NOT_PASSED


def librdkafka_producer_config(args: Mapping[str, Any]) -> dict[str, Value]:
    """kafka-python producer arguments (as producer_args made them) → a confluent_kafka.Producer config.

    Raises ValueError for ``transactional_id`` (the sink refuses transactions before this point) and for
    any argument the table does not know, so a rule added to ``client_config`` cannot be silently lost.
    """
    if "transactional_id" in args:
        raise ValueError("transactional_id is not supported by the Kafka sink and must not reach the producer")
    unknown = sorted(set(args) - _KNOWN)
    if unknown:
        raise ValueError(f"no librdkafka mapping for kafka-python argument(s): {', '.join(unknown)}")
    conf: dict[str, Value] = {}
    for arg, value in args.items():
        if arg in _NOT_PASSED:
            continue
        name, convert = _TABLE[arg]
        conf[name] = convert(value)
    if "enable_idempotence" not in args:
        # Absent acks means kafka-python's default, which is "all" in kafka-python 3 (and librdkafka).
        conf["enable.idempotence"] = _acks(args.get("acks", "all")) == "all"
    return conf
