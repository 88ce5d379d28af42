"""Flume's durable file channel: see :mod:`flafka.channels.file.channel` (semantics, differences from
Flume) and :mod:`flafka.channels.file.log` (on-disk format, replay)."""

from flafka.channels.file.channel import FileChannel, FileChannelConfig, FileChannelCounter, FileTransaction

__all__ = ["FileChannel", "FileChannelConfig", "FileChannelCounter", "FileTransaction"]
