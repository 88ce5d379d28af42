"""How a Thrift failure becomes HBaseUnavailable (retriable) or HBaseLookupError (not), with its context."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from thriftpy2.protocol.exc import TProtocolException
from thriftpy2.thrift import TApplicationException
from thriftpy2.transport import TTransportException

from flafka.errors import FlafkaError, TransientError
from flafka.hbase import HBaseLookupError, HBaseUnavailable
from flafka.hbase.errors import java_exceptions, translate
from flafka.runtime.channel_processor import is_retriable

HB: Any = sys.modules["Hbase_thrift"]

# A trimmed message of HBase 2.6's Thrift1 server: the Java stack trace as text.
RETRIES_EXHAUSTED_BY_MISSING_FAMILY = (
    "org.apache.hadoop.hbase.client.RetriesExhaustedWithDetailsException: Failed 1 action: "
    "org.apache.hadoop.hbase.regionserver.NoSuchColumnFamilyException: Column family zz does not exist in region "
    "t,,1.abc. in table 't'\n\tat org.apache.hadoop.hbase.regionserver.HRegion.checkFamily(HRegion.java:8000)")


def _translate(exc: BaseException) -> HBaseUnavailable | HBaseLookupError:
    return translate(exc, address="hb:9090", table="customer", operation="get_many", rows=3)


@pytest.mark.parametrize("message", [
    "org.apache.hadoop.hbase.TableNotFoundException: customer",
    "org.apache.hadoop.hbase.TableNotEnabledException: customer is disabled.",
    RETRIES_EXHAUSTED_BY_MISSING_FAMILY,  # the permanent cause is inside a retriable-looking wrapper
])
def test_server_errors_that_need_an_operator_are_not_retriable(message: str) -> None:
    error = _translate(HB.IOError(message=message))
    assert type(error) is HBaseLookupError
    assert not error.retriable
    assert not is_retriable(error)
    assert isinstance(error, FlafkaError)
    assert not isinstance(error, TransientError)


@pytest.mark.parametrize("message", [
    "org.apache.hadoop.hbase.NotServingRegionException: customer,,1.abc. is not online on rs1",
    "org.apache.hadoop.hbase.client.RetriesExhaustedException: Failed after attempts=3, exceptions: ...",
    "org.apache.hadoop.hbase.exceptions.RegionMovedException: Region moved to: hostname=rs2",
    "",
])
def test_other_server_errors_are_hbase_unavailable(message: str) -> None:
    error = _translate(HB.IOError(message=message))
    assert type(error) is HBaseUnavailable
    assert error.retriable
    assert is_retriable(error)
    assert isinstance(error, TransientError)


@pytest.mark.parametrize("exc", [
    ConnectionRefusedError(111, "Connection refused"),
    TimeoutError("timed out"),
    OSError(104, "Connection reset by peer"),
    TTransportException(type=TTransportException.END_OF_FILE, message="TSocket read 0 bytes"),
    TTransportException(type=TTransportException.NOT_OPEN, message="Could not connect to ('h', 9090)"),
    TProtocolException(message="bad data"),
    TApplicationException(message="Internal error processing getRowsWithColumns"),
])
def test_transport_failures_are_hbase_unavailable(exc: BaseException) -> None:
    error = _translate(exc)
    assert type(error) is HBaseUnavailable
    assert error.retriable
    assert type(exc).__name__ in str(error)


def test_illegal_argument_is_not_retriable() -> None:
    error = _translate(HB.IllegalArgument(message="Invalid row key"))
    assert type(error) is HBaseLookupError
    assert not error.retriable
    assert "Invalid row key" in str(error)


def test_the_message_and_attributes_say_what_was_attempted() -> None:
    error = _translate(HB.IOError(message="org.apache.hadoop.hbase.TableNotFoundException: customer\n\tat x.y(Z)"))
    text = str(error)
    for part in ("hb:9090", "'customer'", "get_many", "3 row(s)", "TableNotFoundException: customer"):
        assert part in text
    assert "\tat" not in text  # the first line of the stack trace, not all of it
    assert (error.address, error.table, error.operation, error.rows) == ("hb:9090", "customer", "get_many", 3)


def test_java_exceptions_reads_class_names_not_words() -> None:
    assert java_exceptions(RETRIES_EXHAUSTED_BY_MISSING_FAMILY) == [
        "RetriesExhaustedWithDetailsException", "NoSuchColumnFamilyException"]
    assert java_exceptions("a MyTableNotFoundExceptionLike thing") == []
