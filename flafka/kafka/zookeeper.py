"""What Flume's Kafka components still do through ZooKeeper: broker discovery and offset migration.

Flume 1.6 configs name Kafka by its ZooKeeper (``zookeeperConnect``); Flume 1.7+ keeps that key as a
deprecated way to find the brokers when ``kafka.bootstrap.servers`` is absent, and uses it to copy the
offsets that Kafka 0.8 consumers kept in ZooKeeper into Kafka once (``migrateZookeeperOffsets``,
reference §3.1.b and §3.2.b). Both go through kazoo; a connect string may end with a chroot
(``zk1:2181,zk2:2181/kafka``), which kazoo applies to every path.

Differences from Flume:

- Discovery skips (with a warning) a broker whose registration cannot be read or has no endpoint for
  the security protocol, as long as another broker is usable; Flume's ``ZkUtils`` fails on the first.
- Migration reads ZooKeeper only when Kafka holds no offsets for the group and topic, so an unreachable
  ZooKeeper does not stop a source whose offsets were already migrated (Flume connects first and fails).
- ZooKeeper offsets for partitions the topic does not have, and offsets that are not whole numbers, are
  ignored with a warning (Flume ignores the former silently and fails on the latter).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NoNodeError

from flafka.errors import FlafkaError
from flafka.logging_once import OncePerKind

__all__ = ["KazooLogs", "OffsetMigrationError", "ZooKeeperError", "broker_address", "brokers_from_zookeeper",
           "migrate_offsets"]

log = logging.getLogger(__name__)

BROKER_IDS = "/brokers/ids"


class ZooKeeperError(FlafkaError):
    """ZooKeeper could not be reached or does not hold what Kafka should have registered there."""

    def __init__(self, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)
        self.retriable = retriable


class OffsetMigrationError(ZooKeeperError):
    """Copying ZooKeeper-stored consumer offsets into Kafka failed (the Kafka side of the migration)."""


def broker_address(registration: bytes | str, security_protocol: str = "PLAINTEXT", broker_id: str = "?") -> str:
    """``host:port`` of one broker from its ``/brokers/ids/<id>`` JSON, for ``security_protocol``.

    ``endpoints`` (Kafka 0.9+) lists ``LISTENER://host:port``; the listener name maps to a protocol
    through ``listener_security_protocol_map`` (Kafka 0.10.2+), or is the protocol itself before that.
    ``host``/``port`` (every version) describe the PLAINTEXT listener only, so they are the fallback for
    PLAINTEXT; Kafka writes ``"host": null, "port": -1`` when there is none.
    """
    where = f"{BROKER_IDS}/{broker_id}"
    try:
        data = json.loads(registration)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ZooKeeperError(f"broker registration at {where} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ZooKeeperError(f"broker registration at {where} is not a JSON object: {str(registration)[:200]!r}")

    wanted = security_protocol.strip().upper()
    endpoints = data.get("endpoints")
    protocol_map = data.get("listener_security_protocol_map")
    protocols = {str(k).upper(): str(v).upper() for k, v in protocol_map.items()} if isinstance(
        protocol_map, dict) else {}
    if isinstance(endpoints, list):
        for endpoint in endpoints:
            listener, sep, address = str(endpoint).partition("://")
            if not sep:
                continue
            if protocols.get(listener.upper(), listener.upper()) != wanted:
                continue
            ep_host, _, ep_port = address.rpartition(":")
            if ep_host and ep_port.isdigit() and int(ep_port) > 0:
                return f"{ep_host}:{ep_port}"

    host, port = data.get("host"), data.get("port")
    if wanted == "PLAINTEXT" and isinstance(host, str) and host and isinstance(port, int) and port > 0:
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    raise ZooKeeperError(
        f"broker registration at {where} has no {wanted} endpoint "
        f"(endpoints={endpoints!r}, host={host!r}, port={port!r})"
    )


class KazooLogs(logging.LoggerAdapter[logging.Logger]):
    """kazoo's ``logger`` for one client: its lines through flafka's logging, repeats folded per kind.

    Left alone, kazoo logs every reconnection attempt ("Connecting to …" at INFO, "Connection dropped:
    socket connection error: Connection refused" at WARNING, several a second while ZooKeeper is down).
    A kind is one of kazoo's log statements (its level and format string), per connect string; within
    ``once``'s interval a repeat is counted, and the count is logged with the next one after it
    (``repeated=N``). kazoo's lines are capped at INFO: flafka's clients live for one lookup, so a
    connection kazoo cannot make or keep ends as a :class:`ZooKeeperError` that says why (the warning
    kazoo repeated most, with its count), and that error is the one line an operator needs. Tracebacks
    are kept only for kazoo's ``exception()`` calls (a bug in a listener or in kazoo), first of a kind.

    ``problems`` counts this client's warnings by message, for the error that says why it gave up.
    """

    def __init__(self, connect: str, once: OncePerKind | None = None) -> None:
        super().__init__(_kazoo_log, {})
        self.connect = connect
        self.problems: Counter[str] = Counter()
        self._once = once or _KAZOO_ONCE

    def log(self, level: int, msg: object, *args: object, exc_info: object = None, **kwargs: Any) -> None:
        if level < logging.INFO:  # kazoo's DEBUG and BLATHER (5): as they are, off unless asked for
            self.logger.log(level, msg, *args, **kwargs)
            return
        text = str(msg) % args if args else str(msg)
        if level >= logging.WARNING:
            self.problems[text] += 1
        error = sys.exc_info()[1] if exc_info is True else exc_info if isinstance(exc_info, BaseException) else None
        self._once.log(level if error is not None else min(level, logging.INFO), f"{self.connect}:{level}:{msg}",
                       f"ZooKeeper client of {self.connect}: {text}", exc_info=error)

    def why(self) -> str:
        """The warning this client logged most often, with its count ("" when none)."""
        if not self.problems:
            return ""
        text, count = self.problems.most_common(1)[0]
        return f"{text} ({count} times)" if count > 1 else text


_kazoo_log = logging.getLogger("flafka.kafka.kazoo")
# Shared by every client: a source's start retried every few seconds folds into one line per kind a minute.
_KAZOO_ONCE = OncePerKind(_kazoo_log)


@contextmanager
def _connected(connect: str, timeout: float, logs: KazooLogs | None = None) -> Iterator[KazooClient]:
    """A started kazoo client; stopped and closed on exit (kazoo bounds the stop to its session timeout).

    The session timeout is ``timeout`` (10 s at most, kazoo's default): kazoo derives its connect and
    read timeouts from it, and a stop waits for the attempt under way, so a larger one would let a
    silent ZooKeeper (a port that accepts but never answers) hold the caller past ``timeout``.
    """
    logs = logs or KazooLogs(connect)
    try:
        client = KazooClient(hosts=connect, logger=logs, timeout=min(max(timeout, 1.0), 10.0))
    except (ValueError, KazooException) as exc:
        raise ZooKeeperError(f"invalid ZooKeeper connect string {connect!r}: {exc}") from exc
    try:
        # start_async + wait instead of start(): start() warns (an error under strict warnings) when the
        # chroot does not exist, and the lookups below report that case more helpfully.
        client.start_async().wait(timeout)
        if not client.connected:
            why = logs.why()
            raise ZooKeeperError(f"cannot reach ZooKeeper at {connect} within {timeout:g} s"
                                 + (f": {why}" if why else ""), retriable=True)
        yield client
    finally:
        try:
            client.stop()
            client.close()
        except Exception as exc:  # a failed close must not hide the result or the real error
            log.warning("Closing the ZooKeeper client failed. connect=%s error=%s", connect, exc)


def _remaining(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.001)


def brokers_from_zookeeper(connect: str, timeout: float = 10.0, *, security_protocol: str = "PLAINTEXT") -> list[str]:
    """``host:port`` of every broker registered under ``/brokers/ids`` of ``connect`` (chroot allowed).

    Raises :class:`ZooKeeperError` when ZooKeeper cannot be reached within ``timeout`` seconds, when no
    broker is registered, or when no registered broker has an endpoint for ``security_protocol``.
    """
    deadline = time.monotonic() + timeout
    with _connected(connect, timeout) as client:
        timeout_exc = client.handler.timeout_exception
        try:
            ids = client.get_children_async(BROKER_IDS).get(timeout=_remaining(deadline))
        except NoNodeError:
            ids = []
        except (KazooException, timeout_exc) as exc:
            raise ZooKeeperError(f"cannot list {BROKER_IDS} in ZooKeeper at {connect}: {exc}", retriable=True) from exc
        if not ids:
            raise ZooKeeperError(
                f"no Kafka brokers are registered in ZooKeeper at {connect} ({BROKER_IDS} is empty or missing): "
                "is the chroot right?"
            )
        ordered = sorted(ids, key=lambda i: (not i.isdigit(), int(i) if i.isdigit() else 0, i))
        # One round trip for all brokers instead of one per broker.
        pending = [(i, client.get_async(f"{BROKER_IDS}/{i}")) for i in ordered]
        brokers: list[str] = []
        problems: list[str] = []
        for broker_id, result in pending:
            try:
                data, _stat = result.get(timeout=_remaining(deadline))
                brokers.append(broker_address(data, security_protocol, broker_id))
            except NoNodeError:
                continue  # the broker deregistered (its node is ephemeral) between the list and the read
            except ZooKeeperError as exc:
                problems.append(str(exc))
            except (KazooException, timeout_exc) as exc:
                raise ZooKeeperError(
                    f"cannot read {BROKER_IDS}/{broker_id} in ZooKeeper at {connect}: {exc}", retriable=True
                ) from exc
    if not brokers:
        raise ZooKeeperError(
            f"no usable Kafka broker registration in ZooKeeper at {connect}: " + ("; ".join(problems) or
                                                                                   "every broker deregistered")
        )
    for problem in problems:
        log.warning("Skipping a Kafka broker found in ZooKeeper. connect=%s problem=%s", connect, problem)
    return brokers


def _zookeeper_offsets(connect: str, group: str, topic: str, timeout: float) -> dict[int, int]:
    """Kafka 0.8 consumer offsets of ``group`` for ``topic`` (``/consumers/<group>/offsets/<topic>/<p>``)."""
    path = f"/consumers/{group}/offsets/{topic}"
    deadline = time.monotonic() + timeout
    offsets: dict[int, int] = {}
    with _connected(connect, timeout) as client:
        timeout_exc = client.handler.timeout_exception
        try:
            children = client.get_children_async(path).get(timeout=_remaining(deadline))
            pending = [(child, client.get_async(f"{path}/{child}")) for child in children]
            for child, result in pending:
                try:
                    data, _stat = result.get(timeout=_remaining(deadline))
                except NoNodeError:
                    continue
                text = (data or b"").decode("utf-8", "replace").strip()
                if not (child.isdigit() and text.isdigit()):
                    log.warning("Ignoring a ZooKeeper offset that is not a partition and a whole number. "
                                "path=%s/%s value=%r", path, child, text[:100])
                    continue
                offsets[int(child)] = int(text)
        except NoNodeError:
            return {}
        except (KazooException, timeout_exc) as exc:
            raise ZooKeeperError(f"cannot read {path} in ZooKeeper at {connect}: {exc}", retriable=True) from exc
    return offsets


def migrate_offsets(  # noqa: PLR0917 - positional signature agreed with the Kafka source and channel
    zk_connect: str,
    bootstrap_servers: list[str],
    group: str,
    topic: str,
    client_conf: Mapping[str, Any] | None = None,
    timeout: float = 10.0,
) -> dict[int, int]:
    """Flume's ``migrateZookeeperOffsets``: copy ``group``'s ZooKeeper offsets for ``topic`` into Kafka.

    Only when Kafka holds no committed offset of ``group`` for any partition of ``topic``; returns the
    partition → offset map committed ({} when nothing was migrated). ``client_conf`` is the component's
    librdkafka consumer settings (security, timeouts). ``timeout`` bounds the ZooKeeper connection and each
    Kafka request. Raises :class:`ZooKeeperError` (ZooKeeper side) or :class:`OffsetMigrationError` (Kafka
    side).
    """
    conf: dict[str, Any] = dict(client_conf or {})
    conf.update({"bootstrap.servers": ",".join(bootstrap_servers), "group.id": group,
                 "enable.auto.commit": False})
    where = f"group={group} topic={topic}"
    try:
        consumer = Consumer(conf)
    except KafkaException as exc:
        raise OffsetMigrationError(f"cannot create a Kafka consumer to migrate ZooKeeper offsets: {exc}") from exc
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        partitions = sorted(metadata.partitions) if metadata is not None and metadata.error is None else []
        if not partitions:
            log.warning("Topic not found in Kafka; ZooKeeper offset migration skipped. %s", where)
            return {}
        known = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=timeout)
        committed = sum(1 for tp in known if tp.offset >= 0)
        if committed:
            log.info("Kafka already has offsets; ZooKeeper offsets not migrated. %s partitions_with_offsets=%d",
                     where, committed)
            return {}

        found = _zookeeper_offsets(zk_connect, group, topic, timeout)
        unknown = sorted(set(found) - set(partitions))
        if unknown:
            log.warning("Ignoring ZooKeeper offsets of partitions the topic does not have. %s partitions=%s "
                        "topic_partitions=%d", where, unknown, len(partitions))
        offsets = {p: o for p, o in sorted(found.items()) if p not in unknown}
        if not offsets:
            log.info("No ZooKeeper offsets to migrate. %s zk_connect=%s", where, zk_connect)
            return {}

        consumer.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=False)
        # As Flume does: read the offsets back, so a commit the broker dropped is not reported as done.
        back = {tp.partition: tp.offset
                for tp in consumer.committed([TopicPartition(topic, p) for p in offsets], timeout=timeout)}
        missing = [p for p, o in offsets.items() if back.get(p) != o]
        if missing:
            raise OffsetMigrationError(f"ZooKeeper offsets committed to Kafka did not read back. {where} "
                                       f"partitions={missing}", retriable=True)
        log.info("Migrated consumer offsets from ZooKeeper to Kafka. %s partitions=%d offsets=%s",
                 where, len(offsets), offsets)
        return offsets
    except KafkaException as exc:
        error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
        raise OffsetMigrationError(
            f"migrating ZooKeeper offsets to Kafka failed. {where}: {exc}",
            retriable=bool(error is not None and error.retriable()) or error is None,
        ) from exc
    finally:
        consumer.close()
