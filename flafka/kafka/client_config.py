"""Java Kafka client properties (what Flume users write) → Kafka client settings.

Users configure the Kafka components with the Java client's property names
(``kafka.consumer.max.poll.records``, ``kafka.producer.linger.ms``, ``security.protocol``, ``sasl.jaas.config``
…). This module maps them, table-driven, to the client's settings. What the client cannot honour is an error
naming the supported equivalent (a JKS keystore → PEM files), and settings that only make sense in Java
(serializer classes, interceptors) are warnings, not silent.

Flume 1.6 passed ``kafka.<key>`` to the Kafka 0.8 clients; those keys (``request.required.acks``,
``auto.offset.reset=smallest`` …) are mapped too, with a warning naming the modern key (Flume 1.7+
silently ignores them).

:func:`consumer_config`, :func:`producer_config` and :func:`legacy_config` give librdkafka (confluent-kafka)
settings, from one table per client kind.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import confluent_kafka

from flafka.config.diagnostics import did_you_mean
from flafka.config.params import parse_int

Convert = Callable[[str], Any]


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


# -- librdkafka (confluent-kafka) ----------------------------------------------------------------------------------

Value = str | int | bool
_ToValue = Callable[[str], Value]

# Kafka's internal topics. Java's consumer leaves them out of pattern subscriptions (exclude.internal.topics,
# true by default); librdkafka matches a pattern against every topic except those in topic.blacklist.
_INTERNAL_TOPICS = "^__consumer_offsets$,^__transaction_state$,^__share_group_state$"
# librdkafka's values that the checks below compare a written setting with (its defaults, and one minimum).
_RD_SESSION_TIMEOUT_MS = 45_000
_RD_MAX_POLL_INTERVAL_MS = 300_000
_RD_MESSAGE_MAX_BYTES = 1_000_000
_RD_MESSAGE_MAX_BYTES_MIN = 1000
_IDEMPOTENT_MAX_IN_FLIGHT = 5  # Java and librdkafka: more in-flight requests could reorder retried batches


#: Consumer fetch settings of every flafka consumer unless written. librdkafka's defaults fetch 1 MiB per
#: partition; 4 MiB took the raw read rate from ~220k to ~1.3M records/s of 100 B on the development machine
#: (servers-from-maven.md). fetch.wait.max.ms bounds how long an idle fetch waits at the broker: the latency of
#: the first record after a quiet spell. Each component adds its own local queue bounds.
CONSUMER_FETCH_DEFAULTS: Mapping[str, Value] = {
    "fetch.wait.max.ms": 10,
    "max.partition.fetch.bytes": 4 * 1024 * 1024,
    "fetch.max.bytes": 64 * 1024 * 1024,
}

@dataclass
class ClientConfig:
    """librdkafka settings, and the problems found, keyed by the user's full property name."""

    conf: dict[str, Value] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)

    def merged(self, other: ClientConfig) -> ClientConfig:
        """Both together: ``other``'s setting wins where both have one; the problems of both, self's first."""
        return ClientConfig({**self.conf, **other.conf}, self.errors + other.errors, self.warnings + other.warnings)


@dataclass(frozen=True)
class _Row:
    """How one Java property reaches librdkafka."""

    name: str | None  # librdkafka property; None: accepted (its value checked), nothing to pass
    convert: _ToValue = _str
    note: str = ""  # when set, a warning with this text is given for the key
    # librdkafka's range for the converted number. It must be checked here: librdkafka reads a number past
    # 2^31 as a wrapped-around int (a Java-sized delivery.timeout.ms of 2^32 + 1000 would become 1000 ms).
    span: tuple[int, int] | None = None


def _number(name: str, low: int, high: int) -> _Row:
    return _Row(name, _int, span=(low, high))


def _csv(text: str) -> str:
    return ",".join(_servers(text))


def _socket_buffer(text: str) -> int:
    # Java documents -1 as "the OS default"; librdkafka spells that 0 and refuses negatives.
    value = _int(text)
    return 0 if value == -1 else value


def _kbytes(text: str) -> int:
    # buffer.memory is bytes, queue.buffering.max.kbytes KiB (at least 1): rounded up, never less room than asked.
    value = _int(text)
    if value < 0:
        raise _Bad(f"must be at least 0, got {value}")
    return max(1, -(-value // 1024))


def _lowered(convert: Convert) -> _ToValue:
    return lambda text: str(convert(text)).lower()


def _hostname_algorithm(text: str) -> str:
    # Java: "https" checks the broker's name against its certificate, empty does not; librdkafka spells that "none".
    value = text.strip().lower() or "none"
    if value not in ("https", "none"):
        raise _Bad(f"must be https or empty, got {text!r}")
    return value


def _check_hostname(text: str) -> str:
    return "https" if _bool(text) else "none"


def _skip_hostname_check(text: str) -> str:
    return "none" if _bool(text) else "https"


def _internal_topics(text: str) -> str:
    return _INTERNAL_TOPICS if _bool(text) else ""


def _acks_text(text: str) -> str:
    return str(_acks(text))  # "all", "0" or "1"; librdkafka reads "all" as -1


_offset_reset = _choice("earliest", "latest", "none", aliases={"smallest": "earliest", "largest": "latest"})


def _auto_offset_reset(text: str) -> str:
    # Java's "none" (fail when there is no committed offset) is librdkafka's "error".
    value = _offset_reset(text)
    return "error" if value == "none" else value


# Java assignor classes (and librdkafka's own names) → librdkafka's names.
_RD_ASSIGNORS = {
    "org.apache.kafka.clients.consumer.rangeassignor": "range",
    "org.apache.kafka.clients.consumer.roundrobinassignor": "roundrobin",
    "org.apache.kafka.clients.consumer.cooperativestickyassignor": "cooperative-sticky",
    "range": "range",
    "roundrobin": "roundrobin",
    "cooperative-sticky": "cooperative-sticky",
}
_EAGER_STICKY = ("org.apache.kafka.clients.consumer.stickyassignor", "sticky")


def _assignor_names(text: str) -> str:
    names: list[str] = []
    for name in (n.strip() for n in text.split(",") if n.strip()):
        hit = _RD_ASSIGNORS.get(name.lower())
        if hit is None:
            why = " (librdkafka has no eager sticky assignor)" if name.lower() in _EAGER_STICKY else ""
            raise _Bad(f"'{name}' is not available in librdkafka{why}; use CooperativeStickyAssignor, RangeAssignor "
                       "or RoundRobinAssignor")
        names.append(hit)
    if not names:
        raise _Bad("names no assignor")
    if "cooperative-sticky" in names and len(set(names)) > 1:
        # Java's 3.x default list "RangeAssignor, CooperativeStickyAssignor" exists to migrate a group from one
        # to the other; librdkafka refuses the mix outright.
        raise _Bad("mixes CooperativeStickyAssignor with eager assignors (range, roundrobin); librdkafka runs only "
                   "one kind in a group: list CooperativeStickyAssignor alone, or the eager ones")
    return ",".join(dict.fromkeys(names))


_NOT_IN_LIBRDKAFKA = "ignored: librdkafka has no such setting"
_TLS_VERSIONS = "ignored: OpenSSL negotiates the highest TLS version both sides support"

_RD_COMMON: dict[str, _Row] = {
    "bootstrap.servers": _Row("bootstrap.servers", _csv),
    "client.id": _Row("client.id"),
    "client.dns.lookup": _Row("client.dns.lookup",
                              _choice("use_all_dns_ips", "resolve_canonical_bootstrap_servers_only")),
    "retry.backoff.ms": _number("retry.backoff.ms", 1, 300_000),
    "retry.backoff.max.ms": _number("retry.backoff.max.ms", 1, 300_000),
    "reconnect.backoff.ms": _number("reconnect.backoff.ms", 0, 3_600_000),
    "reconnect.backoff.max.ms": _number("reconnect.backoff.max.ms", 0, 3_600_000),
    "socket.connection.setup.timeout.ms": _number("socket.connection.setup.timeout.ms", 1000, 2_147_483_647),
    "connections.max.idle.ms": _number("connections.max.idle.ms", 0, 2_147_483_647),
    "metadata.max.age.ms": _number("metadata.max.age.ms", 1, 86_400_000),
    "receive.buffer.bytes": _Row("socket.receive.buffer.bytes", _socket_buffer, span=(0, 100_000_000)),
    "send.buffer.bytes": _Row("socket.send.buffer.bytes", _socket_buffer, span=(0, 100_000_000)),
    "max.in.flight.requests.per.connection": _number("max.in.flight.requests.per.connection", 1, 1_000_000),
    "security.protocol": _Row("security.protocol",
                              _lowered(_choice("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"))),
    # ssl.cafile … ssl.ciphers: flafka's own names for PEM files (kafka-python's), kept for existing configs.
    "ssl.cafile": _Row("ssl.ca.location"),
    "ssl.certfile": _Row("ssl.certificate.location"),
    "ssl.keyfile": _Row("ssl.key.location"),
    "ssl.crlfile": _Row("ssl.crl.location"),
    "ssl.password": _Row("ssl.key.password"),
    "ssl.ciphers": _Row("ssl.cipher.suites"),
    "ssl.check.hostname": _Row("ssl.endpoint.identification.algorithm", _check_hostname),
    "ssl.key.password": _Row("ssl.key.password"),
    "ssl.endpoint.identification.algorithm": _Row("ssl.endpoint.identification.algorithm", _hostname_algorithm),
    "ssl.disableTLSHostnameVerification": _Row("ssl.endpoint.identification.algorithm", _skip_hostname_check),
    "ssl.protocol": _Row(None, note=_TLS_VERSIONS),
    "ssl.enabled.protocols": _Row(None, note=_TLS_VERSIONS),
    "ssl.truststore.location": _Row(None),  # with its type, below
    "ssl.truststore.type": _Row(None, _choice("JKS", "PKCS12", "PEM")),
    "ssl.truststore.password": _Row(None),  # a PEM trust store has none
    "ssl.truststore.certificates": _Row("ssl.ca.pem"),
    "ssl.keystore.location": _Row(None),  # with its type, below
    "ssl.keystore.type": _Row(None, _choice("JKS", "PKCS12", "PEM")),
    "ssl.keystore.password": _Row(None),  # below
    "ssl.keystore.certificate.chain": _Row("ssl.certificate.pem"),
    "ssl.keystore.key": _Row("ssl.key.pem"),
    "sasl.mechanism": _Row("sasl.mechanism", _choice("PLAIN", "GSSAPI", "SCRAM-SHA-256", "SCRAM-SHA-512",
                                                     "OAUTHBEARER")),
    "sasl.kerberos.service.name": _Row("sasl.kerberos.service.name"),
    "sasl.jaas.config": _Row(None),  # parsed below
    "metric.reporters": _Row(None, note="ignored: Java metric reporters do not apply; see flafka's metrics"),
    "interceptor.classes": _Row(None, note="ignored: Java client interceptors cannot run in Python; use a flafka "
                                           "interceptor"),
}

_RD_CONSUMER: dict[str, _Row] = {
    **_RD_COMMON,
    # librdkafka's request.timeout.ms is the producer's only; socket.timeout.ms bounds a consumer's requests.
    "request.timeout.ms": _Row("socket.timeout.ms", _int, span=(10, 300_000)),
    "group.id": _Row("group.id"),
    "group.instance.id": _Row("group.instance.id"),
    "client.rack": _Row("client.rack"),
    "auto.offset.reset": _Row("auto.offset.reset", _auto_offset_reset),
    "enable.auto.commit": _Row(None, _bool, note="ignored: offsets are committed only after the channel "
                                                 "transaction commits"),
    "auto.commit.interval.ms": _Row(None, _int, note="ignored: auto commit is always off"),
    "fetch.min.bytes": _number("fetch.min.bytes", 0, 2_147_483_647),
    "fetch.max.bytes": _number("fetch.max.bytes", 0, 2_147_483_135),
    "fetch.max.wait.ms": _Row("fetch.wait.max.ms", _int, span=(0, 300_000)),
    "max.partition.fetch.bytes": _number("max.partition.fetch.bytes", 1, 1_000_000_000),
    "max.poll.records": _Row(None, _int, note="ignored: librdkafka has no such setting; the component's batch "
                                              "size bounds each batch"),
    "max.poll.interval.ms": _number("max.poll.interval.ms", 1, 86_400_000),
    "session.timeout.ms": _number("session.timeout.ms", 1, 3_600_000),
    "heartbeat.interval.ms": _number("heartbeat.interval.ms", 1, 3_600_000),
    "check.crcs": _Row("check.crcs", _bool),
    "isolation.level": _Row("isolation.level", _choice("read_uncommitted", "read_committed")),
    "exclude.internal.topics": _Row("topic.blacklist", _internal_topics),
    "allow.auto.create.topics": _Row("allow.auto.create.topics", _bool),
    "partition.assignment.strategy": _Row("partition.assignment.strategy", _assignor_names),
    "key.deserializer": _Row(None),  # flafka reads raw bytes; the key is decoded as UTF-8 like Flume's
    "value.deserializer": _Row(None),
    "default.api.timeout.ms": _Row(None, _int, note=_NOT_IN_LIBRDKAFKA),
}

_RD_PRODUCER: dict[str, _Row] = {
    **_RD_COMMON,
    "request.timeout.ms": _number("request.timeout.ms", 1, 900_000),
    "acks": _Row("acks", _acks_text),
    "compression.type": _Row("compression.type", _choice("none", "gzip", "snappy", "lz4", "zstd")),
    "retries": _number("retries", 0, 2_147_483_647),
    "batch.size": _number("batch.size", 1, 2_147_483_647),
    "linger.ms": _number("linger.ms", 0, 900_000),
    # produce() never blocks in librdkafka (a full queue raises BufferError); a component may honour it itself.
    "max.block.ms": _Row(None, _int, note=_NOT_IN_LIBRDKAFKA),
    "max.request.size": _Row("message.max.bytes", _int, span=(1000, 1_000_000_000)),
    "delivery.timeout.ms": _number("delivery.timeout.ms", 0, 2_147_483_647),
    "enable.idempotence": _Row("enable.idempotence", _bool),
    "transactional.id": _Row("transactional.id"),
    "transaction.timeout.ms": _number("transaction.timeout.ms", 1000, 2_147_483_647),
    "buffer.memory": _Row("queue.buffering.max.kbytes", _kbytes, span=(1, 2_147_483_647)),
    "partitioner.class": _Row(None, note="ignored: keyed records are partitioned by murmur2 of the key, like "
                                         "Java's default partitioner"),
    "key.serializer": _Row(None),
    "value.serializer": _Row(None),
}


@functools.cache
def gssapi_available() -> bool:
    """Whether this librdkafka can do Kerberos: the PyPI wheels' cannot (built without libsasl2)."""
    try:
        # Setting builtin.features fails at once, before any client exists, when a feature is missing.
        confluent_kafka.Producer({"builtin.features": "sasl_gssapi", "log_level": 3})
    except confluent_kafka.KafkaException:
        return False
    return True


def _rd_map(props: Mapping[str, str], rows: Mapping[str, _Row], prefix: str) -> ClientConfig:
    out = ClientConfig()
    for key, text in props.items():
        full = prefix + key
        row = rows.get(key)
        if row is None and prefix.endswith("consumer.") and f"consumer.{key}" in _LEGACY_CONSUMER_IGNORED:
            # Flume 1.6's kafka.consumer.timeout.ms is the 0.8 consumer's "consumer.timeout.ms"
            out.warnings.append((full, "is a Kafka 0.8 consumer setting (Flume 1.6) with no effect on the modern "
                                       "client; ignored"))
            continue
        if row is None:
            out.warnings.append((full, "not a Kafka client property flafka knows; ignored"
                                 + did_you_mean(key, rows).replace("'", "'" + prefix, 1)))
            continue
        try:
            value = row.convert(text)
        except _Bad as exc:
            out.errors.append((full, str(exc)))
            continue
        if row.span is not None and isinstance(value, int) and not row.span[0] <= value <= row.span[1]:
            out.errors.append((full, f"({value}) must be between {row.span[0]} and {row.span[1]} for librdkafka, "
                                     "flafka's Kafka client"))
            continue
        if row.note:
            out.warnings.append((full, row.note))
        if row.name is not None:
            out.conf[row.name] = value
    _rd_stores(props, prefix, out)
    jaas = props.get("sasl.jaas.config")
    if jaas is not None:
        _rd_jaas(jaas, prefix, out)
    _rd_gssapi(props, prefix, out)
    return out


def _rd_stores(props: Mapping[str, str], prefix: str, out: ClientConfig) -> None:
    for kind in ("truststore", "keystore"):
        location = props.get(f"ssl.{kind}.location")
        store_type = props.get(f"ssl.{kind}.type", "JKS").strip().upper()  # Java's default type
        if location is None or store_type not in ("JKS", "PKCS12", "PEM"):  # a bad type is already an error
            continue
        location = location.strip()
        if store_type == "PEM" and kind == "truststore":
            out.conf["ssl.ca.location"] = location
        elif store_type == "PEM":
            # A PEM key store holds the certificate chain and the key: librdkafka reads each from the same file.
            out.conf["ssl.certificate.location"] = location
            out.conf["ssl.key.location"] = location
            password = props.get("ssl.key.password") or props.get("ssl.keystore.password")
            if password:
                out.conf["ssl.key.password"] = password
        elif store_type == "PKCS12" and kind == "keystore":
            out.conf["ssl.keystore.location"] = location
            if props.get("ssl.keystore.password"):
                out.conf["ssl.keystore.password"] = props["ssl.keystore.password"]
        else:
            also = " (or ssl.keystore.type=PKCS12)" if kind == "keystore" else ""
            out.errors.append((f"{prefix}ssl.{kind}.location",
                               f"{store_type} {kind}s cannot be read by librdkafka; convert it to PEM and set "
                               f"ssl.{kind}.type=PEM{also} (or use {prefix}ssl.cafile / ssl.certfile / ssl.keyfile)"))


def _rd_jaas(text: str, prefix: str, out: ClientConfig) -> None:
    module = text.strip().split(None, 1)[0] if text.strip() else ""
    options = {m.group(1): m.group(2) if m.group(2) is not None else m.group(3) for m in _JAAS.finditer(text)}
    key = prefix + "sasl.jaas.config"
    if module.endswith(("PlainLoginModule", "ScramLoginModule")):
        if "username" not in options or "password" not in options:
            out.errors.append((key, "needs username=\"…\" and password=\"…\""))
            return
        out.conf["sasl.username"] = options["username"]
        out.conf["sasl.password"] = options["password"]
    elif module.endswith("Krb5LoginModule"):
        if "serviceName" in options:
            out.conf["sasl.kerberos.service.name"] = options["serviceName"]
        if "principal" in options:
            out.conf["sasl.kerberos.principal"] = options["principal"]
        if options.get("useKeyTab", "").lower() == "true":
            if "keyTab" not in options:
                out.errors.append((key, "useKeyTab=true needs keyTab=\"<path>\""))
                return
            # librdkafka's kinit command reads the ticket from this keytab (and renews it).
            out.conf["sasl.kerberos.keytab"] = options["keyTab"]
    else:
        out.errors.append((key, f"login module '{module}' is not supported; use PlainLoginModule, ScramLoginModule "
                                "or Krb5LoginModule"))


def _rd_gssapi(props: Mapping[str, str], prefix: str, out: ClientConfig) -> None:
    # SASL without sasl.mechanism means GSSAPI, in Java and in librdkafka alike.
    mechanism = out.conf.get("sasl.mechanism")
    sasl = str(out.conf.get("security.protocol", "")).startswith("sasl")
    if not (mechanism == "GSSAPI" or (sasl and "sasl.mechanism" not in props)) or gssapi_available():
        return
    key, unset = ("sasl.mechanism", "") if mechanism == "GSSAPI" else (
        "security.protocol", f"SASL without {prefix}sasl.mechanism means GSSAPI, and ")
    out.errors.append((prefix + key, f"{unset}GSSAPI (Kerberos) is not available: this confluent-kafka's librdkafka "
                                     "is built without it (the PyPI wheels are). Use SCRAM or PLAIN over SASL_SSL, or "
                                     "install confluent-kafka built from source against libsasl2 (see README)"))


def int_setting(conf: Mapping[str, Value], name: str, default: int) -> int:
    """A whole-number setting of a config these functions made (they make every number an int), or ``default``."""
    value = conf.get(name, default)
    return value if isinstance(value, int) else default


def consumer_config(props: Mapping[str, str], prefix: str = "kafka.consumer.") -> ClientConfig:
    """Map Java consumer properties (prefix already removed from the keys) to librdkafka consumer settings.

    Offsets are stored and committed by flafka only after the channel transaction commits, so auto commit and
    librdkafka's automatic offset store are always off. Throughput defaults are the caller's to add.
    """
    out = _rd_map(props, _RD_CONSUMER, prefix)
    conf = out.conf
    conf["enable.auto.commit"] = False
    conf["enable.auto.offset.store"] = False
    conf.setdefault("topic.blacklist", _INTERNAL_TOPICS)  # Java's exclude.internal.topics defaults to true
    poll = int_setting(conf, "max.poll.interval.ms", _RD_MAX_POLL_INTERVAL_MS)
    session = int_setting(conf, "session.timeout.ms", _RD_SESSION_TIMEOUT_MS)
    if poll < session:  # librdkafka refuses the consumer; Java would let the group rebalance over and over
        key = "max.poll.interval.ms" if "max.poll.interval.ms" in conf else "session.timeout.ms"
        out.errors.append((prefix + key, f"max.poll.interval.ms ({poll}) must be at least session.timeout.ms "
                                         f"({session}) for librdkafka"))
    fetch = conf.get("fetch.max.bytes")
    if isinstance(fetch, int) and fetch < _RD_MESSAGE_MAX_BYTES:
        # librdkafka wants fetch.max.bytes >= message.max.bytes, the largest request it sends; a consumer's
        # requests are small, so that limit can come down to meet it (but not below librdkafka's 1000).
        if fetch < _RD_MESSAGE_MAX_BYTES_MIN:
            out.errors.append((prefix + "fetch.max.bytes", f"({fetch}) must be at least {_RD_MESSAGE_MAX_BYTES_MIN} "
                                                           "for librdkafka, flafka's Kafka client"))
        else:
            conf["message.max.bytes"] = fetch
    return out


def producer_config(props: Mapping[str, str], prefix: str = "kafka.producer.",
                    default_acks: str = "1") -> ClientConfig:
    """Map Java producer properties (prefix already removed from the keys) to librdkafka producer settings.

    As in Java 3.x, idempotence is on unless written otherwise, when acks=all and nothing conflicts with it
    (librdkafka's own default is off); writing enable.idempotence=true with acks 0 or 1 is an error. Keyed
    records go to the partition Java's default partitioner picks (murmur2; librdkafka's default is CRC32).
    """
    out = _rd_map(props, _RD_PRODUCER, prefix)
    conf = out.conf
    acks = conf.setdefault("acks", _acks_text(default_acks))
    conf["partitioner"] = "murmur2_random"
    conflicts = []
    if acks != "all":
        conflicts.append(f"acks=all, but acks is {acks}")
    in_flight = int_setting(conf, "max.in.flight.requests.per.connection", _IDEMPOTENT_MAX_IN_FLIGHT)
    if in_flight > _IDEMPOTENT_MAX_IN_FLIGHT:
        conflicts.append(f"max.in.flight.requests.per.connection of at most {_IDEMPOTENT_MAX_IN_FLIGHT}, but it is "
                         f"{in_flight}")
    if int_setting(conf, "retries", 1) < 1:
        conflicts.append("retries of at least 1, but retries is 0")
    if not conflicts:
        conf.setdefault("enable.idempotence", True)
    else:
        if conf.get("enable.idempotence") is True:
            out.errors.append((prefix + "enable.idempotence", "requires " + "; and ".join(conflicts)))
        conf["enable.idempotence"] = False
    if "transactional.id" in conf and acks != "all":
        out.errors.append((prefix + "transactional.id", "transactions require acks=all"))
    return out


def legacy_config(props: Mapping[str, str], producer: bool) -> ClientConfig:
    """Map Flume 1.6 ``kafka.<key>`` (Kafka 0.8 client) properties to librdkafka settings, a warning per key.

    Problems with a mapped value are keyed by the ``kafka.<key>`` the user wrote.
    """
    table, ignored = (_LEGACY_PRODUCER, _LEGACY_PRODUCER_IGNORED) if producer else (
        _LEGACY_CONSUMER, _LEGACY_CONSUMER_IGNORED)
    kind = "producer" if producer else "consumer"
    modern: dict[str, str] = {}
    written: dict[str, str] = {}  # modern full key → the legacy key it came from
    out = ClientConfig()
    for key, text in props.items():
        if key in table:
            modern[table[key]] = text
            written[f"kafka.{kind}.{table[key]}"] = "kafka." + key
            out.warnings.append(("kafka." + key, f"is a Kafka 0.8 {kind} setting (Flume 1.6); used as "
                                                 f"kafka.{kind}.{table[key]}"))
        elif key.startswith(ignored):
            out.warnings.append(("kafka." + key, f"is a Kafka 0.8 {kind} setting with no effect on the modern "
                                                 "client; ignored"))
        else:
            out.warnings.append(("kafka." + key, f"is not a Kafka 0.8 {kind} setting flafka knows; ignored (use "
                                                 f"kafka.{kind}.<property>)"))
    mapped = (producer_config if producer else consumer_config)(modern, f"kafka.{kind}.")
    out.conf = mapped.conf
    out.errors += [(written.get(key, key), message) for key, message in mapped.errors]
    out.warnings += [(written.get(key, key), message) for key, message in mapped.warnings]
    return out
