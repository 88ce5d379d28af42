"""HBase sinks (Flume's ``hbase``, ``hbase2`` and ``asynchbase``): :class:`HBaseSink` writes through HBase's
Thrift1 server (see :mod:`flafka.sinks.hbase.sink`), configured by :class:`HBaseSinkConfig`.

An event serializer turns each event into :class:`Put` and :class:`Increment` actions for the column
family the sink writes to; an event it can never write raises :class:`UnserializableEvent` (the sink
sets it aside). Built in: :class:`SimpleHBaseEventSerializer` (Flume's ``SimpleHbaseEventSerializer``,
``SimpleHBase2EventSerializer`` and ``SimpleAsyncHbaseEventSerializer``) and
:class:`RegexHBaseEventSerializer` (``RegexHbaseEventSerializer``, ``RegexHBase2EventSerializer``); a
user's own is a subclass of :class:`HBaseEventSerializer`.
"""

from flafka.sinks.hbase.actions import Actions, BatchActions, Increment, Put, UnserializableEvent
from flafka.sinks.hbase.config import HBaseSinkConfig
from flafka.sinks.hbase.regex import RegexHBaseEventSerializer, RegexSerializerConfig
from flafka.sinks.hbase.serializer import HBaseEventSerializer
from flafka.sinks.hbase.simple import SimpleHBaseEventSerializer, SimpleSerializerConfig
from flafka.sinks.hbase.sink import HBaseSink

__all__ = [
    "Actions",
    "BatchActions",
    "HBaseEventSerializer",
    "HBaseSink",
    "HBaseSinkConfig",
    "Increment",
    "Put",
    "RegexHBaseEventSerializer",
    "RegexSerializerConfig",
    "SimpleHBaseEventSerializer",
    "SimpleSerializerConfig",
    "UnserializableEvent",
]
