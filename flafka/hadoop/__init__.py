"""Hadoop's file formats, written the way Hadoop writes them: SequenceFiles, codec streams, Writables.

The HDFS sink writes its files through these (``hdfs.fileType`` SequenceFile and CompressedStream);
files read back with Hadoop's own readers (``hadoop fs -text``, MapReduce, Hive). Writers append to
any object with ``write(bytes)`` and end every batch on a boundary a reader can stop at.
"""

from flafka.hadoop.codecs import CODECS, Codec, UnknownCodec, codec_for_name
from flafka.hadoop.compressed_stream import CompressedStream
from flafka.hadoop.output import Output
from flafka.hadoop.sequence_file import WRITE_FORMATS, CompressionType, SequenceFileWriter, record_key
from flafka.hadoop.writables import BYTES_WRITABLE, TEXT, ValueWritable

__all__ = [
    "BYTES_WRITABLE",
    "CODECS",
    "TEXT",
    "WRITE_FORMATS",
    "Codec",
    "CompressedStream",
    "CompressionType",
    "Output",
    "SequenceFileWriter",
    "UnknownCodec",
    "ValueWritable",
    "codec_for_name",
    "record_key",
]
