"""Java Kafka client properties (what Flume users write) → kafka-python constructor arguments.

Users configure the Kafka components with the Java client's property names
(``kafka.consumer.max.poll.records``, ``kafka.producer.linger.ms``, ``security.protocol``, ``sasl.jaas.config``
…). This module maps them, table-driven, to ``KafkaConsumer``/``KafkaProducer`` arguments. What the Python
client cannot honour is an error naming the supported equivalent (a JKS keystore → PEM files), and
settings that only make sense in Java (serializer classes, interceptors) are warnings, not silent.

Flume 1.6 passed ``kafka.<key>`` to the Kafka 0.8 clients; those keys (``request.required.acks``,
``auto.offset.reset=smallest`` …) are mapped too, with a warning naming the modern key (Flume 1.7+
silently ignores them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor

from flafka.config.diagnostics import did_you_mean
from flafka.config.params import parse_int

Convert = Callable[[str], Any]

#: ``retry.backoff.ms`` for consumers unless written (Java's and kafka-python's default: 100).
#: kafka-python 3.0's ``poll`` can miss a fetch response that lands between draining its record buffer
#: and sending the next fetch; with nothing in flight it then sleeps ``retry.backoff.ms`` with the records
#: in its buffer. At 1,000 events/s that put about 1% of events ~100 ms late (the p99). 10 ms bounds the
#: stall; the cost is faster retries of failed requests (connection attempts keep their own back-off).
CONSUMER_RETRY_BACKOFF_MS = 10

#: ``fetch.max.wait.ms`` for consumers unless written (Java's and kafka-python's default: 500).
#: kafka-python sends one fetch per broker, for the partitions that have nothing buffered; while a fetch
#: for an idle partition waits out fetch.max.wait.ms at the broker, no fetch can go out for the busy
#: partitions on that broker once their buffers are drained. Measured on a 4-partition topic: with 500 ms,
#: runs fell into 110-130k and 160-170k events/s (the slow ones had 100 ms batches with nothing); with 50 ms,
#: 158-164k in every run. The cost is 20 fetch requests a second per idle consumer instead of 2.
CONSUMER_FETCH_MAX_WAIT_MS = 50


class _Bad(ValueError):
    """A value the mapping refuses; the message is shown to the user."""


def _int(text: str) -> int:
    try:
        return parse_int(text)  # one reading of numbers for every configuration value
    except ValueError as exc:
        raise _Bad(str(exc)) from None


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise _Bad(f"expected true or false, got {text!r}")


def _str(text: str) -> str:
    return text.strip()


def _servers(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def _choice(*allowed: str, aliases: Mapping[str, str] | None = None) -> Convert:
    table = {a.lower(): a for a in allowed}
    table.update({k.lower(): v for k, v in (aliases or {}).items()})

    def convert(text: str) -> str:
        hit = table.get(text.strip().lower())
        if hit is None:
            raise _Bad(f"must be one of {', '.join(allowed)}, got {text!r}")
        return hit

    return convert


def _acks(text: str) -> int | str:
    value = text.strip().lower()
    if value in ("all", "-1"):
        return "all"
    if value in ("0", "1"):
        return int(value)
    raise _Bad(f"must be 0, 1, all or -1, got {text!r}")


def _compression(text: str) -> str | None:
    value = _choice("none", "gzip", "snappy", "lz4", "zstd")(text)
    return None if value == "none" else value


_ASSIGNORS = {
    "org.apache.kafka.clients.consumer.rangeassignor": "range",
    "org.apache.kafka.clients.consumer.roundrobinassignor": "roundrobin",
    "org.apache.kafka.clients.consumer.stickyassignor": "sticky",
    "range": "range",
    "roundrobin": "roundrobin",
    "sticky": "sticky",
}


def _assignors(text: str) -> list[Any]:
    classes = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor,
               "sticky": StickyPartitionAssignor}
    out = []
    for name in (n.strip() for n in text.split(",") if n.strip()):
        key = _ASSIGNORS.get(name.lower())
        if key is None:
            raise _Bad(f"'{name}' is not available in the Python client; use RangeAssignor, RoundRobinAssignor "
                       "or StickyAssignor")
        out.append(classes[key])
    return out


@dataclass(frozen=True)
class _Rule:
    arg: str | None  # kafka-python argument; None: accepted, nothing to pass
    convert: Convert = _str
    note: str = ""  # when set, a warning with this text is given for the key


_COMMON: dict[str, _Rule] = {
    "bootstrap.servers": _Rule("bootstrap_servers", _servers),
    "client.id": _Rule("client_id"),
    "client.dns.lookup": _Rule("client_dns_lookup",
                               _choice("use_all_dns_ips", "resolve_canonical_bootstrap_servers_only")),
    "request.timeout.ms": _Rule("request_timeout_ms", _int),
    "retry.backoff.ms": _Rule("retry_backoff_ms", _int),
    "reconnect.backoff.ms": _Rule("reconnect_backoff_ms", _int),
    "reconnect.backoff.max.ms": _Rule("reconnect_backoff_max_ms", _int),
    "connections.max.idle.ms": _Rule("connections_max_idle_ms", _int),
    "metadata.max.age.ms": _Rule("metadata_max_age_ms", _int),
    "receive.buffer.bytes": _Rule("receive_buffer_bytes", _int),
    "send.buffer.bytes": _Rule("send_buffer_bytes", _int),
    "max.in.flight.requests.per.connection": _Rule("max_in_flight_requests_per_connection", _int),
    "security.protocol": _Rule("security_protocol", _choice("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")),
    "ssl.cafile": _Rule("ssl_cafile"),
    "ssl.certfile": _Rule("ssl_certfile"),
    "ssl.keyfile": _Rule("ssl_keyfile"),
    "ssl.crlfile": _Rule("ssl_crlfile"),
    "ssl.password": _Rule("ssl_password"),
    "ssl.key.password": _Rule("ssl_password"),
    "ssl.ciphers": _Rule("ssl_ciphers"),
    "ssl.check.hostname": _Rule("ssl_check_hostname", _bool),
    "ssl.endpoint.identification.algorithm": _Rule("ssl_check_hostname", lambda t: t.strip().lower() == "https"),
    "ssl.disableTLSHostnameVerification": _Rule("ssl_check_hostname", lambda t: not _bool(t)),
    "ssl.protocol": _Rule(None, note="ignored: Python negotiates the highest TLS version both sides support"),
    "ssl.enabled.protocols": _Rule(None, note="ignored: Python negotiates the highest TLS version both sides "
                                              "support"),
    "ssl.truststore.location": _Rule(None),  # checked with its type below
    "ssl.keystore.location": _Rule(None),
    "ssl.truststore.type": _Rule(None),
    "ssl.keystore.type": _Rule(None),
    "ssl.truststore.password": _Rule(None),
    "ssl.keystore.password": _Rule(None),
    "sasl.mechanism": _Rule("sasl_mechanism", _choice("PLAIN", "GSSAPI", "SCRAM-SHA-256", "SCRAM-SHA-512",
                                                      "OAUTHBEARER")),
    "sasl.kerberos.service.name": _Rule("sasl_kerberos_service_name"),
    "sasl.jaas.config": _Rule(None),  # parsed below
    "metric.reporters": _Rule(None, note="ignored: Java metric reporters do not apply; see flafka's metrics"),
    "interceptor.classes": _Rule(None, note="ignored: Java client interceptors cannot run in Python; use a "
                                            "flafka interceptor"),
}

_CONSUMER: dict[str, _Rule] = {
    **_COMMON,
    "group.id": _Rule("group_id"),
    "group.instance.id": _Rule("group_instance_id"),
    "client.rack": _Rule("client_rack"),
    "auto.offset.reset": _Rule("auto_offset_reset", _choice("earliest", "latest", aliases={
        "smallest": "earliest", "largest": "latest"})),
    "enable.auto.commit": _Rule(None, _bool, note="ignored: offsets are committed only after the channel "
                                                  "transaction commits"),
    "auto.commit.interval.ms": _Rule(None, _int, note="ignored: auto commit is always off"),
    "fetch.min.bytes": _Rule("fetch_min_bytes", _int),
    "fetch.max.bytes": _Rule("fetch_max_bytes", _int),
    "fetch.max.wait.ms": _Rule("fetch_max_wait_ms", _int),
    "max.partition.fetch.bytes": _Rule("max_partition_fetch_bytes", _int),
    "max.poll.records": _Rule("max_poll_records", _int),
    "max.poll.interval.ms": _Rule("max_poll_interval_ms", _int),
    "session.timeout.ms": _Rule("session_timeout_ms", _int),
    "heartbeat.interval.ms": _Rule("heartbeat_interval_ms", _int),
    "check.crcs": _Rule("check_crcs", _bool),
    "isolation.level": _Rule("isolation_level", _choice("read_uncommitted", "read_committed")),
    "exclude.internal.topics": _Rule("exclude_internal_topics", _bool),
    "allow.auto.create.topics": _Rule("allow_auto_create_topics", _bool),
    "partition.assignment.strategy": _Rule("partition_assignment_strategy", _assignors),
    "key.deserializer": _Rule(None),  # flafka reads raw bytes; the key is decoded as UTF-8 like Flume's
    "value.deserializer": _Rule(None),
    "default.api.timeout.ms": _Rule(None, _int, note="ignored: not a setting of the Python client"),
}

_PRODUCER: dict[str, _Rule] = {
    **_COMMON,
    "acks": _Rule("acks", _acks),
    "compression.type": _Rule("compression_type", _compression),
    "retries": _Rule("retries", _int),
    "batch.size": _Rule("batch_size", _int),
    "linger.ms": _Rule("linger_ms", _int),
    "max.block.ms": _Rule("max_block_ms", _int),
    "max.request.size": _Rule("max_request_size", _int),
    "delivery.timeout.ms": _Rule("delivery_timeout_ms", _int),
    "enable.idempotence": _Rule("enable_idempotence", _bool),
    "transactional.id": _Rule("transactional_id"),
    "transaction.timeout.ms": _Rule("transaction_timeout_ms", _int),
    "buffer.memory": _Rule(None, _int, note="ignored: the Python producer has no buffer.memory limit"),
    "partitioner.class": _Rule(None, note="ignored: the Python producer's default partitioner hashes keys "
                                          "with murmur2 like Java's"),
    "key.serializer": _Rule(None),
    "value.serializer": _Rule(None),
}

# Kafka 0.8 client keys a Flume 1.6 config passes as kafka.<key>: the modern key each becomes.
_LEGACY_CONSUMER = {
    "auto.offset.reset": "auto.offset.reset",
    "fetch.message.max.bytes": "max.partition.fetch.bytes",
    "socket.receive.buffer.bytes": "receive.buffer.bytes",
    "fetch.min.bytes": "fetch.min.bytes",
    "fetch.wait.max.ms": "fetch.max.wait.ms",
    "client.id": "client.id",
}
_LEGACY_CONSUMER_IGNORED = ("consumer.timeout.ms", "auto.commit.enable", "auto.commit.interval.ms",
                            "zookeeper.", "rebalance.", "queued.max.message.chunks", "socket.timeout.ms",
                            "refresh.leader.backoff.ms", "offsets.", "dual.commit.enabled",
                            "partition.assignment.strategy", "group.id")
_LEGACY_PRODUCER = {
    "request.required.acks": "acks",
    "compression.codec": "compression.type",
    "message.send.max.retries": "retries",
    "retry.backoff.ms": "retry.backoff.ms",
    "queue.buffering.max.ms": "linger.ms",
    "request.timeout.ms": "request.timeout.ms",
    "client.id": "client.id",
    "send.buffer.bytes": "send.buffer.bytes",
}
_LEGACY_PRODUCER_IGNORED = ("producer.type", "serializer.class", "key.serializer.class", "partitioner.class",
                            "batch.num.messages", "queue.buffering.max.messages", "queue.enqueue.timeout.ms",
                            "topic.metadata.refresh.interval.ms", "metadata.broker.list",
                            "compressed.topics")

_JAAS = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|(\S+?))(?=\s|;|$)')


@dataclass
class ClientArgs:
    """kafka-python arguments, and the problems found, keyed by the user's full property name."""

    args: dict[str, Any] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)


def _map(props: Mapping[str, str], rules: Mapping[str, _Rule], prefix: str, out: ClientArgs) -> None:
    for key, text in props.items():
        full = prefix + key
        rule = rules.get(key)
        if rule is None and prefix.endswith("consumer.") and f"consumer.{key}" in _LEGACY_CONSUMER_IGNORED:
            # Flume 1.6's kafka.consumer.timeout.ms is the 0.8 consumer's "consumer.timeout.ms"
            out.warnings.append((full, "is a Kafka 0.8 consumer setting (Flume 1.6) with no effect on the modern "
                                       "client; ignored"))
            continue
        if rule is None:
            out.warnings.append((full, "not a Kafka client property flafka knows; ignored"
                                 + did_you_mean(key, rules).replace("'", "'" + prefix, 1)))
            continue
        try:
            value = rule.convert(text)
        except _Bad as exc:
            out.errors.append((full, str(exc)))
            continue
        if rule.note:
            out.warnings.append((full, rule.note))
        if rule.arg is not None:
            out.args[rule.arg] = value
    _security(props, prefix, out)


def _security(props: Mapping[str, str], prefix: str, out: ClientArgs) -> None:
    for kind, arg in (("truststore", "ssl_cafile"), ("keystore", "ssl_certfile")):
        location = props.get(f"ssl.{kind}.location")
        if location is None:
            continue
        store_type = props.get(f"ssl.{kind}.type", "JKS").strip().upper()
        if store_type != "PEM":
            out.errors.append((f"{prefix}ssl.{kind}.location",
                               f"{store_type} {kind}s cannot be read by the Python client; convert it to PEM and "
                               f"set ssl.{kind}.type=PEM (or use {prefix}ssl.cafile / ssl.certfile / ssl.keyfile)"))
            continue
        out.args[arg] = location.strip()
        if kind == "keystore":
            out.args.setdefault("ssl_keyfile", location.strip())  # a PEM keystore holds the key too
            password = props.get("ssl.key.password") or props.get("ssl.keystore.password")
            if password:
                out.args["ssl_password"] = password
    jaas = props.get("sasl.jaas.config")
    if jaas is not None:
        _jaas(jaas, prefix, out)


def _jaas(text: str, prefix: str, out: ClientArgs) -> None:
    module = text.strip().split(None, 1)[0] if text.strip() else ""
    options = {m.group(1): m.group(2) if m.group(2) is not None else m.group(3) for m in _JAAS.finditer(text)}
    key = prefix + "sasl.jaas.config"
    if module.endswith(("PlainLoginModule", "ScramLoginModule")):
        if "username" not in options or "password" not in options:
            out.errors.append((key, "needs username=\"…\" and password=\"…\""))
            return
        out.args["sasl_plain_username"] = options["username"]
        out.args["sasl_plain_password"] = options["password"]
    elif module.endswith("Krb5LoginModule"):
        if "serviceName" in options:
            out.args["sasl_kerberos_service_name"] = options["serviceName"]
        if options.get("useKeyTab", "").lower() == "true":
            out.warnings.append((key, "the Python client uses the Kerberos ticket cache, not a keytab: keep a "
                                      "ticket with kinit -kt <keytab> <principal> (e.g. via k5start)"))
    else:
        out.errors.append((key, f"login module '{module}' is not supported; use PlainLoginModule, ScramLoginModule "
                                "or Krb5LoginModule"))


def consumer_args(props: Mapping[str, str], prefix: str = "kafka.consumer.") -> ClientArgs:
    """Map Java consumer properties (prefix already removed from the keys) to KafkaConsumer arguments."""
    out = ClientArgs()
    _map(props, _CONSUMER, prefix, out)
    out.args["enable_auto_commit"] = False
    out.args.setdefault("retry_backoff_ms", CONSUMER_RETRY_BACKOFF_MS)
    out.args.setdefault("fetch_max_wait_ms", CONSUMER_FETCH_MAX_WAIT_MS)
    return out


def producer_args(props: Mapping[str, str], prefix: str = "kafka.producer.",
                  default_acks: int | str = 1) -> ClientArgs:
    """Map Java producer properties to KafkaProducer arguments.

    kafka-python 3 turns idempotence on by default, which requires ``acks=all``: with acks 0 or 1 it is
    set off explicitly, and asking for both is an error.
    """
    out = ClientArgs()
    _map(props, _PRODUCER, prefix, out)
    acks = out.args.setdefault("acks", default_acks)
    if acks != "all":
        if out.args.get("enable_idempotence") is True:
            out.errors.append((prefix + "enable.idempotence", f"requires acks=all, but acks is {acks}"))
        out.args["enable_idempotence"] = False
    if "transactional_id" in out.args and acks != "all":
        out.errors.append((prefix + "transactional.id", "transactions require acks=all"))
    return out


def legacy_args(props: Mapping[str, str], *, producer: bool, prefix: str = "kafka.") -> ClientArgs:
    """Map Flume 1.6 ``kafka.<key>`` (Kafka 0.8 client) properties, with a warning per key."""
    table, ignored = (_LEGACY_PRODUCER, _LEGACY_PRODUCER_IGNORED) if producer else (
        _LEGACY_CONSUMER, _LEGACY_CONSUMER_IGNORED)
    modern: dict[str, str] = {}
    out = ClientArgs()
    kind = "producer" if producer else "consumer"
    for key, text in props.items():
        if key in table:
            modern[table[key]] = text
            out.warnings.append((prefix + key, f"is a Kafka 0.8 {kind} setting (Flume 1.6); used as "
                                               f"kafka.{kind}.{table[key]}"))
        elif key.startswith(ignored):
            out.warnings.append((prefix + key, f"is a Kafka 0.8 {kind} setting with no effect on the modern "
                                               "client; ignored"))
        else:
            out.warnings.append((prefix + key, f"is not a Kafka 0.8 {kind} setting flafka knows; ignored (use "
                                               f"kafka.{kind}.<property>)"))
    mapped = producer_args(modern, prefix=f"kafka.{kind}.") if producer else consumer_args(
        modern, prefix=f"kafka.{kind}.")
    out.args = mapped.args
    out.errors += mapped.errors
    out.warnings += [w for w in mapped.warnings if w[0] not in {f"kafka.{kind}.{k}" for k in modern}]
    return out
