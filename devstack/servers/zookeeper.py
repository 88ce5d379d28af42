"""Apache ZooKeeper, standalone, the version Kafka 3.9 ships with (its jars come from the kafka set)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from devstack.probes import four_letter_word
from devstack.servers.base import HOST, Prepared, Record, Server


class ZooKeeper(Server):
    name = "zookeeper"
    # QuorumPeerMain is what zkServer.sh runs; with no server.N lines it runs standalone.
    main_class = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
    heap = "256m"
    jar_set = "kafka"  # Kafka's classpath already holds the matching zookeeper jars: one fetch for both
    log_levels: ClassVar[Mapping[str, str]] = {
        # One INFO line per client connection and session otherwise (every test client would log).
        "org.apache.zookeeper.server.NIOServerCnxn": "WARN",
        "org.apache.zookeeper.server.NIOServerCnxnFactory": "WARN",
        "org.apache.zookeeper.server.ZooKeeperServer": "WARN",
        "org.apache.zookeeper.server.PrepRequestProcessor": "WARN",
    }

    def configure(self, data_dir: Path, port: int, deps: Mapping[str, Record]) -> Prepared:
        (data_dir / "data").mkdir()
        self.write_log4j(data_dir)
        config = data_dir / "zoo.cfg"
        config.write_text(
            "\n".join(
                [
                    "tickTime=2000",
                    f"dataDir={data_dir / 'data'}",
                    f"clientPort={port}",
                    f"clientPortAddress={HOST}",
                    # Tests open many sessions from 127.0.0.1 (Kafka, kazoo, flafka agents): no per-IP cap.
                    "maxClientCnxns=0",
                    # The AdminServer would grab port 8080 on all interfaces.
                    "admin.enableServer=false",
                    # Four-letter words are off by default since 3.5; `srvr` is how readiness is checked,
                    # `dump` (sessions and their ephemeral nodes) how Kafka's start waits out a dead broker.
                    "4lw.commands.whitelist=ruok,srvr,stat,mntr,dump",
                ]
            )
            + "\n"
        )
        return Prepared(config=config)

    def probe(self, record: Record) -> bool:
        try:
            return "Zookeeper version" in four_letter_word(HOST, record.port, "srvr")
        except OSError:
            return False

    def env(self, record: Record) -> dict[str, str]:
        return {"FLAFKA_ZOOKEEPER": record.address}
