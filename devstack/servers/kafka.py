"""Apache Kafka 3.9, one broker in ZooKeeper mode (not KRaft), so `zookeeperConnect` broker discovery and
ZooKeeper offset migration can be tested against the real thing."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from devstack.errors import DevstackError
from devstack.probes import four_letter_word, kafka_metadata
from devstack.servers.base import HOST, Prepared, Record, Say, Server

CHROOT_ENV = "FLAFKA_KAFKA_ZK_CHROOT"
_CHROOT_RE = re.compile(r"^(/[A-Za-z0-9._-]+)+$")
BROKER_ID = 0
ZK_SESSION_TIMEOUT_MS = 6000


def requested_chroot() -> str | None:
    """The ZooKeeper chroot asked for with $FLAFKA_KAFKA_ZK_CHROOT (e.g. /kafka); None when unset."""
    raw = os.environ.get(CHROOT_ENV)
    if raw is None or raw == "":
        return None
    if not _CHROOT_RE.match(raw):
        raise DevstackError(f"{CHROOT_ENV}={raw!r} is not a ZooKeeper path like /kafka (absolute, no trailing /)")
    return raw


class Kafka(Server):
    name = "kafka"
    main_class = "kafka.Kafka"
    heap = "512m"
    jar_set = "kafka"
    requires = ("zookeeper",)
    log_levels: ClassVar[Mapping[str, str]] = {
        # The broker's own ZooKeeper client logs every connection detail at INFO.
        "org.apache.zookeeper": "WARN",
        "kafka.zookeeper": "WARN",
        # Per-request and per-partition chatter (the distribution routes these to side files instead).
        "kafka.request.logger": "WARN",
        "state.change.logger": "WARN",
        "kafka.controller": "WARN",
        "kafka.log.LogCleaner": "WARN",
        "org.apache.kafka.storage.internals.log": "WARN",
        "kafka.authorizer.logger": "WARN",
    }

    def configure(self, data_dir: Path, port: int, deps: Mapping[str, Record]) -> Prepared:
        zookeeper = deps["zookeeper"]
        chroot = requested_chroot() or ""
        zk_connect = f"{zookeeper.address}{chroot}"
        (data_dir / "logs").mkdir()
        self.write_log4j(data_dir)
        settings = {
            "broker.id": str(BROKER_ID),
            "listeners": f"PLAINTEXT://{HOST}:{port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{port}",
            "log.dirs": str(data_dir / "logs"),
            # Kafka 3.x creates a missing chroot path itself before registering the broker.
            "zookeeper.connect": zk_connect,
            "zookeeper.connection.timeout.ms": "18000",
            # Short, so a broker that was SIGKILLed leaves its ephemeral /brokers/ids node soon and a
            # restart with the same broker.id can register again.
            "zookeeper.session.timeout.ms": str(ZK_SESSION_TIMEOUT_MS),
            # One broker: every internal topic must be satisfiable with replication factor 1.
            "num.partitions": "1",
            "default.replication.factor": "1",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            # Creating 50 partitions for __consumer_offsets costs seconds at a test's first group join.
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.num.partitions": "1",
            # Consumer groups start at once instead of waiting 3 s for more members.
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
            "delete.topic.enable": "true",
            # The default 128 MiB cleaner buffer would be a quarter of the small heap.
            "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
            "num.network.threads": "2",
            "num.io.threads": "4",
        }
        config = data_dir / "server.properties"
        config.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        return Prepared(config=config, extra={"zk_chroot": chroot, "zk_connect": zk_connect})

    def check_compatible(self, record: Record) -> None:
        wanted = requested_chroot()
        running = record.extra.get("zk_chroot", "")
        if wanted is not None and wanted != running:
            raise DevstackError(
                f"kafka is already running with ZooKeeper chroot {running or '(none)'!s} but {CHROOT_ENV}={wanted}; "
                "run `python -m devstack down` first (a broker cannot move to another chroot and keep its data)"
            )

    def before_start(self, record: Record, deps: Mapping[str, Record], timeout: float, say: Say) -> None:
        """Wait until no (dead) broker holds /brokers/ids/<id>.

        A broker that was SIGKILLed (or crashed) keeps its ephemeral registration until its ZooKeeper
        session expires, and a new broker with the same id exits with NodeExistsException meanwhile.
        ZooKeeper's `dump` lists the live ephemeral nodes, so the wait is exactly as long as needed.
        """
        zookeeper = deps["zookeeper"]
        node = f"{record.extra.get('zk_chroot', '')}/brokers/ids/{BROKER_ID}"
        deadline = time.monotonic() + min(timeout, ZK_SESSION_TIMEOUT_MS / 1000 * 3)
        told = False
        while time.monotonic() < deadline:
            try:
                dump = four_letter_word(HOST, zookeeper.port, "dump")
            except OSError:
                return  # no answer: let the broker's own start-up report what is wrong
            if not any(line.strip() == node for line in dump.splitlines()):
                return
            if not told:
                say(f"kafka: waiting for the dead broker's {node} to expire with its ZooKeeper session")
                told = True
            time.sleep(0.25)

    def probe(self, record: Record) -> bool:
        try:
            metadata = kafka_metadata(HOST, record.port)
        except OSError:
            return False
        return metadata.controller_id >= 0 and any(port == record.port for _, _, port in metadata.brokers)

    def env(self, record: Record) -> dict[str, str]:
        return {
            "FLAFKA_KAFKA_BOOTSTRAP": record.address,
            # Always exported (equal to FLAFKA_ZOOKEEPER without a chroot), so tests of `zookeeperConnect`
            # discovery need not know whether a chroot is in use.
            "FLAFKA_KAFKA_ZK_CONNECT": record.extra.get("zk_connect", ""),
        }

    def describe(self, record: Record) -> str:
        return f"{record.address} (zookeeper.connect={record.extra.get('zk_connect', '?')})"
