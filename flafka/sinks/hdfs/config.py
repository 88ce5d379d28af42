"""The HDFS sink's properties: every key of Flume 1.11's ``HDFSEventSink`` (reference §3.6), Flume's defaults."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Literal

from flafka.bucket_path import BucketPath, TemplateError
from flafka.config.params import ComponentConfig, Nested, nested, param
from flafka.hadoop import WRITE_FORMATS, UnknownCodec, codec_for_name
from flafka.hadoop.codecs import Codec
from flafka.serializers.base import EventSerializer
from flafka.time_zones import java_time_zone

__all__ = ["FILE_TYPES", "HdfsSinkConfig"]

FILE_TYPES = ("SequenceFile", "DataStream", "CompressedStream")
RoundUnit = Literal["second", "minute", "hour"]


def _default_journal(name: str) -> str:
    return os.path.join("~", ".flafka", "hdfs-sink", name)


@dataclass(frozen=True, kw_only=True)
class HdfsSinkConfig(ComponentConfig):
    path: str = param("hdfs.path", doc="Directory the files are written to: `hdfs://namenode:8020/dir` or a path on "
                                       "`fs.defaultFS` of `HADOOP_CONF_DIR`; Flume's escapes (`%{header}`, `%Y`, "
                                       "`%[localhost]`, ...) are expanded per event.")
    file_prefix: str = param("hdfs.filePrefix", default="FlumeData", doc="File name prefix (escapes allowed).")
    file_suffix: str = param("hdfs.fileSuffix", default="",
                             doc="Appended to file names as written (no dot added); unset with a codec: the "
                                 "codec's extension (`.gz`, `.bz2`, ...).")
    in_use_prefix: str = param("hdfs.inUsePrefix", default="", doc="Prefix of a file's name while it is open.")
    in_use_suffix: str = param("hdfs.inUseSuffix", default=".tmp", doc="Suffix of a file's name while it is open.")
    empty_in_use_suffix: bool = param("hdfs.emptyInUseSuffix", default=False,
                                      doc="true: no in-use suffix (hdfs.inUseSuffix is ignored).")
    roll_interval: float = param("hdfs.rollInterval", default=30.0,
                                 doc="Seconds after its opening at which a file is closed; 0: never.")
    roll_size: int = param("hdfs.rollSize", default=1024,
                           doc="Bytes of event bodies after which a file is closed; 0: never.")
    roll_count: int = param("hdfs.rollCount", default=10, doc="Events after which a file is closed; 0: never.")
    idle_timeout: float = param("hdfs.idleTimeout", default=0.0,
                                doc="Seconds without a write after which an open file is closed; 0: never.")
    batch_size: int = param("hdfs.batchSize", default=100, minimum=1,
                            doc="Most events taken in one channel transaction; each file they touch is synced "
                                "(hsync) once per transaction.")
    codec: str | None = param("hdfs.codeC", default=None,
                              doc="Compression codec: gzip, bzip2, deflate, default, snappy, lz4, zstandard "
                                  "(Hadoop's class names work too); required by CompressedStream, BLOCK "
                                  "compression for SequenceFile.")
    file_type: str = param("hdfs.fileType", default="SequenceFile", choices=FILE_TYPES,
                           doc="SequenceFile (Hadoop's), DataStream (the serializer's bytes) or CompressedStream "
                               "(the serializer's bytes through hdfs.codeC).")
    write_format: str = param("hdfs.writeFormat", default="Writable", choices=tuple(WRITE_FORMATS),
                              doc="SequenceFile values: Writable (BytesWritable of the body) or Text.")
    max_open_files: int = param("hdfs.maxOpenFiles", default=5000, minimum=1,
                                doc="Most files open at once; the least recently written is closed beyond it.")
    min_block_replicas: int | None = param("hdfs.minBlockReplicas", default=None, minimum=0,
                                           doc="Accepted for compatibility, no effect: the HDFS client does not "
                                               "report a block's live replicas (a warning says so).")
    threads_pool_size: int = param("hdfs.threadsPoolSize", default=10, minimum=1,
                                   doc="Most HDFS calls run at once (files synced in parallel).")
    roll_timer_pool_size: int = param("hdfs.rollTimerPoolSize", default=1, minimum=1,
                                      doc="Accepted for compatibility: roll and idle timers run in the sink's own "
                                          "thread, checked at least every 5 s.")
    kerberos_principal: str | None = param("hdfs.kerberosPrincipal", default=None,
                                           doc="Kerberos principal (with hdfs.kerberosKeytab): passed to the HDFS "
                                               "client, which needs libgssapi_krb5 (untested here: no KDC).")
    kerberos_keytab: str | None = param("hdfs.kerberosKeytab", default=None, doc="Keytab of hdfs.kerberosPrincipal.")
    proxy_user: str | None = param("hdfs.proxyUser", default=None,
                                   doc="Not supported: the HDFS client cannot impersonate another user (an error).")
    round: bool = param("hdfs.round", default=False, doc="Round the timestamp down for the time escapes (not %t).")
    round_value: int = param("hdfs.roundValue", default=1, minimum=1,
                             doc="Round down to a multiple of this many units (1-60 seconds or minutes, 1-24 hours).")
    round_unit: str = param("hdfs.roundUnit", default="second",
                            doc="second, minute or hour (another value turns rounding off, with a warning, as in "
                                "Flume).")
    time_zone: str | None = param("hdfs.timeZone", default=None,
                                  doc="Time zone of the time escapes (a Java TimeZone ID); unset: the agent's.")
    use_local_timestamp: bool = param("hdfs.useLocalTimeStamp", default=False,
                                      doc="Use the agent's clock instead of the event's `timestamp` header.")
    close_tries: int = param("hdfs.closeTries", default=0,
                             doc="Attempts to close and rename a file whose close failed; 0 or less: until it "
                                 "succeeds.")
    retry_interval: float = param("hdfs.retryInterval", default=180.0,
                                  doc="Seconds between those attempts.")
    call_timeout_ms: int = param("hdfs.callTimeout", default=30000, minimum=1,
                                 doc="Milliseconds an HDFS call may take before the file is treated as failed.")
    use_raw_local_file_system: bool = param("hdfs.useRawLocalFileSystem", default=False,
                                            doc="Accepted for compatibility, no effect.")
    serializer: Nested[EventSerializer] = nested(
        "serializer", kind="serializer", default="TEXT",
        doc="DataStream/CompressedStream serializer: text, header_and_text, avro_event or a Python import path.",
        options_doc="Options passed to the serializer (prefix removed).")
    header_escapes: str = param("hdfs.headerEscapes", default="strict", choices=("strict", "flume"),
                                doc="flafka extension: `strict`: an event whose `%{header}` is missing or empty, or "
                                    "whose header value holds `/`, is a bad event (dead-lettered or dropped); "
                                    "`flume`: a missing header expands to nothing, as in Flume.")
    journal_dir: str | None = param("hdfs.journalDir", default=None,
                                    doc="flafka extension: local directory where the sink records its open files and "
                                        "their committed lengths, to repair them after a crash; default "
                                        "`~/.flafka/hdfs-sink/<sink name>`. One per sink.")
    hadoop_conf_dir: str | None = param("hdfs.hadoopConfDir", default=None,
                                        doc="flafka extension: directory of core-site.xml/hdfs-site.xml; default "
                                            "$HADOOP_CONF_DIR, as Hadoop's own clients.")

    batch_size_key: ClassVar[str] = "hdfs.batchSize"

    def codec_or_none(self) -> Codec | None:
        return None if self.codec is None else codec_for_name(self.codec)

    def rounding(self) -> RoundUnit | None:
        unit = self.round_unit.lower()
        if not self.round:
            return None
        if unit == "second":
            return "second"
        if unit == "minute":
            return "minute"
        if unit == "hour":
            return "hour"
        return None

    def bucket_path(self, text: str) -> BucketPath:
        return BucketPath(text, round_unit=self.rounding(), round_value=self.round_value if self.rounding() else 1,
                          time_zone=java_time_zone(self.time_zone) if self.time_zone else None,
                          use_local_timestamp=self.use_local_timestamp,
                          header_policy="strict" if self.header_escapes == "strict" else "flume")

    def check(self) -> Iterable[tuple[str | None, str]]:
        problems: list[tuple[str | None, str]] = []
        if self.codec is not None:
            try:
                codec_for_name(self.codec)
            except UnknownCodec as exc:
                problems.append(("hdfs.codeC", str(exc)))
        if self.file_type == "DataStream" and self.codec is not None:
            problems.append(("hdfs.codeC", "is not used by fileType DataStream: use CompressedStream, or remove it"))
        if self.file_type == "CompressedStream" and self.codec is None:
            problems.append(("hdfs.codeC", "is required by fileType CompressedStream"))
        if self.time_zone is not None:
            try:
                java_time_zone(self.time_zone)
            except ValueError as exc:
                problems.append(("hdfs.timeZone", str(exc)))
        if self.round and self.rounding() is not None:
            limit = 24 if self.rounding() == "hour" else 60
            if self.round_value > limit:
                problems.append(("hdfs.roundValue", f"must be at most {limit} for roundUnit {self.rounding()}"))
        if self.proxy_user is not None:
            problems.append(("hdfs.proxyUser", "is not supported: the HDFS client (hdfs-native) cannot act for "
                                               "another user; write as the agent's own user (or its Kerberos "
                                               "principal)"))
        if (self.kerberos_principal is None) != (self.kerberos_keytab is None):
            problems.append(("hdfs.kerberosKeytab", "and hdfs.kerberosPrincipal go together"))
        if not any(key in ("hdfs.timeZone", "hdfs.roundValue") for key, _ in problems):  # else they fail alike
            for key, text in (("hdfs.path", self.path), ("hdfs.filePrefix", self.file_prefix)):
                try:
                    self.bucket_path(text)
                except (TemplateError, ValueError) as exc:
                    problems.append((key, str(exc)))
        return problems

    def check_warnings(self) -> Iterable[tuple[str | None, str]]:
        warnings: list[tuple[str | None, str]] = []
        if self.round and self.rounding() is None:
            warnings.append(("hdfs.roundUnit", f"{self.round_unit!r} is not second, minute or hour: rounding is off "
                                               "(as in Flume)"))
        if self.min_block_replicas is not None:
            warnings.append(("hdfs.minBlockReplicas", "has no effect: the HDFS client does not report a block's live "
                                                      "replicas"))
        if self.use_raw_local_file_system:
            warnings.append(("hdfs.useRawLocalFileSystem", "has no effect"))
        codec = None
        with contextlib.suppress(UnknownCodec):
            codec = self.codec_or_none()
        if codec is not None and codec.reader_needs_native:
            warnings.append(("hdfs.codeC", f"{self.codec}: Hadoop reads it only with its native library (libhadoop "
                                           "with zstd); check that your cluster has it"))
        for key, text in (("hdfs.path", self.path), ("hdfs.filePrefix", self.file_prefix)):
            try:
                bucket = self.bucket_path(text)
            except (TemplateError, ValueError):
                continue
            warnings += [(key, w) for w in bucket.warnings(local_timestamp_key="hdfs.useLocalTimeStamp")]
        return warnings

    def exclusive_paths(self) -> list[tuple[str, str]]:
        return [("hdfs.journalDir", self.journal_dir)] if self.journal_dir else []

    def journal_directory(self, sink_name: str) -> str:
        return os.path.expanduser(self.journal_dir or _default_journal(sink_name))
