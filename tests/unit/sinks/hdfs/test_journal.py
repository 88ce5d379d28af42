"""The HDFS sink's journal: what a restart finds, torn lines, compaction, one sink per directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from flafka.errors import DeliveryError
from flafka.sinks.hdfs import journal as journal_module
from flafka.sinks.hdfs.journal import Journal, OpenFile


def test_a_restart_finds_the_open_files_with_their_last_committed_length(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "sink k1")
    journal.opened(OpenFile("/a.1.tmp", "/a.1"))
    journal.opened(OpenFile("/b.1.tmp", "/b.1"))
    journal.committed({"/a.1.tmp": 10, "/b.1.tmp": 4})
    journal.committed({"/a.1.tmp": 25})
    journal.closed("/b.1.tmp")
    journal.close()
    again = Journal(tmp_path, "sink k1")
    assert again.files == {"/a.1.tmp": OpenFile("/a.1.tmp", "/a.1", 25)}


def test_a_line_torn_by_a_crash_is_ignored(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "sink k1")
    journal.opened(OpenFile("/a.1.tmp", "/a.1"))
    journal.committed({"/a.1.tmp": 10})
    journal.close()
    with (tmp_path / "journal.log").open("ab") as log:
        log.write(b'{"op":"length","path":"/a.1.tmp","len')  # the write a kill cut short: never fsynced
    assert Journal(tmp_path, "sink k1").files["/a.1.tmp"].committed == 10


def test_the_log_is_compacted_when_it_grows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_module, "_COMPACT_BYTES", 2000)
    journal = Journal(tmp_path, "sink k1")
    journal.opened(OpenFile("/a.1.tmp", "/a.1"))
    for length in range(1, 200):
        journal.committed({"/a.1.tmp": length})
    assert (tmp_path / "journal.log").stat().st_size < 2100
    journal.close()
    assert Journal(tmp_path, "sink k1").files["/a.1.tmp"].committed == 199


def test_two_sinks_cannot_share_a_journal_directory(tmp_path: Path) -> None:
    first = Journal(tmp_path, "HDFS sink k1")
    with pytest.raises(DeliveryError, match=r"HDFS sink k2 cannot use journal directory .*: this process holds it; "
                                            r"give each HDFS sink its own hdfs.journalDir"):
        Journal(tmp_path, "HDFS sink k2")
    first.close()
    Journal(tmp_path, "HDFS sink k2").close()
