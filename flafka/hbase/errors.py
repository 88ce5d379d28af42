"""What a failed HBase lookup raises, and how a Thrift failure is classified (see :mod:`flafka.hbase`).

Thrift1's ``IOError`` carries only a message (HBase 2 adds ``canRetry``, which the IDL happybase ships does
not declare, so it is dropped on the wire): the Java exception names in that message are the only data
saying what went wrong on the server. They are read as names (:func:`java_exceptions`) and looked up in
:data:`PERMANENT`, not matched as free text.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import happybase  # noqa: F401  # imported for its side effect: it loads sys.modules["Hbase_thrift"]
from thriftpy2.thrift import TException

from flafka.errors import FlafkaError, TransientError

__all__ = [
    "CALL_ERRORS", "HBASE_THRIFT", "PERMANENT", "HBaseLookupError", "HBaseUnavailable", "java_exceptions", "translate",
]

#: HBase's Thrift1 definitions (IOError, IllegalArgument, ...), which happybase loads under this module name.
HBASE_THRIFT: Any = sys.modules["Hbase_thrift"]

#: What a Thrift call fails with: TException covers the server's IOError/IllegalArgument and thriftpy2's
#: transport and protocol errors; OSError covers refused connections, resets and socket timeouts.
CALL_ERRORS: tuple[type[BaseException], ...] = (TException, OSError)

#: Java exceptions (simple names) that retrying cannot cure: the table or family is not there, or the
#: table is disabled, until an operator acts. Any other server-side IOError (a region moving or not
#: served yet, retries exhausted, a region server down) is taken as HBase being unavailable for now.
PERMANENT = frozenset({"TableNotFoundException", "NoSuchColumnFamilyException", "TableNotEnabledException"})

# A Java class name: an optional package, then a capitalised simple name ending in Exception.
_JAVA_EXCEPTION = re.compile(r"(?<![\w$.])(?:[a-z_][\w$]*\.)*([A-Z][\w$]*Exception)\b")


class HBaseUnavailable(TransientError):
    """HBase (or its Thrift server) cannot answer now: retrying the batch later may succeed (``retriable``).

    ``address``, ``table``, ``operation`` and ``rows`` say what was attempted; the cause is chained.
    """

    retriable = True

    def __init__(self, message: str, *, address: str = "", table: str = "", operation: str = "",
                 rows: int = 0) -> None:
        super().__init__(message)
        self.address, self.table, self.operation, self.rows = address, table, operation, rows


class HBaseLookupError(FlafkaError):
    """A lookup that cannot succeed as configured (missing table or family, disabled table, an argument HBase
    refuses): not ``retriable``; the events it fails on are set aside as bad events."""

    retriable = False

    def __init__(self, message: str, *, address: str = "", table: str = "", operation: str = "",
                 rows: int = 0) -> None:
        super().__init__(message)
        self.address, self.table, self.operation, self.rows = address, table, operation, rows


def java_exceptions(message: str) -> list[str]:
    """The simple names of the Java exceptions an HBase ``IOError`` message names, in order (a stack trace
    names the cause chain: ``RetriesExhaustedException ... Caused by: ...NoSuchColumnFamilyException``)."""
    return _JAVA_EXCEPTION.findall(message)


def _first_line(text: str) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= 500 else line[:500] + "..."


def translate(exc: BaseException, *, address: str, table: str, operation: str,
              rows: int) -> HBaseUnavailable | HBaseLookupError:
    """The flafka error for ``exc``, one of :data:`CALL_ERRORS`, raised by ``operation`` on ``rows`` rows."""
    where = f"HBase lookup {operation} of {rows} row(s) in table {table!r} through Thrift server {address}"
    error: type[HBaseUnavailable | HBaseLookupError] = HBaseUnavailable
    if isinstance(exc, HBASE_THRIFT.IOError):
        said = str(exc.message or "")
        permanent = [name for name in java_exceptions(said) if name in PERMANENT]
        if permanent:
            error = HBaseLookupError
            message = (f"{where} failed and cannot succeed until the table is fixed ({permanent[0]}). "
                       f"HBase said: {_first_line(said)}")
        else:
            message = f"{where} failed; HBase cannot serve it now (retried later). HBase said: {_first_line(said)}"
    elif isinstance(exc, HBASE_THRIFT.IllegalArgument):
        error = HBaseLookupError
        message = f"{where} was refused by HBase (IllegalArgument): {_first_line(str(exc.message or ''))}"
    else:
        detail = getattr(exc, "message", None) or str(exc)  # thriftpy2's str() is a repr of its fields
        message = (f"{where} failed: HBase's Thrift server is unreachable or did not answer in time (retried "
                   f"later). {type(exc).__name__}: {detail}")
    return error(message, address=address, table=table, operation=operation, rows=rows)
