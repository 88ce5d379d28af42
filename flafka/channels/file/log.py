"""The file channel's log: segment files, the record format, appending, reading back and replay.

A segment ``log-<seq:08d>`` lives in ``dataDirs[seq % len(dataDirs)]``. Every record is framed as::

    [u32 length][u32 crc32c][u8 type][payload]      little-endian; length and crc cover type + payload

=========  ==================================================================================
HEADER     first record of a segment: magic ``FLAFKAFC``, u16 format version, u32 seq, u64 first id
PUT        one event: u64 id, u64 put time (ms), u32 header count, 2n u32 byte lengths, the header
           keys and values (UTF-8), then the body (the rest of the record)
COMMIT     ends the PUT records of one put commit: u64 first id, u32 count
TAKE       one take commit: u32 n, then n (u64 first id, u64 last id) ranges, inclusive
=========  ==================================================================================

A segment holds a contiguous range of event ids, in id order, and ids increase in commit order. A
put commit is one write of its PUT records followed by their COMMIT record, so replay keeps PUT
records only when their COMMIT follows: a commit interrupted by a crash leaves nothing behind. A record
that is truncated, fails its CRC or breaks the id sequence ends the valid part of its segment.
"""

from __future__ import annotations

import array
import contextlib
import errno
import functools
import logging
import os
import re
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from crc32c import crc32c

from flafka.errors import ChannelError, ChannelFullError
from flafka.event import Event
from flafka.logging_once import OncePerKind

log = logging.getLogger(__name__)

MAGIC = b"FLAFKAFC"
FORMAT_VERSION = 1
HEADER, PUT, COMMIT, TAKE = 1, 2, 3, 4
RECORD_TYPES = {HEADER: "HEADER", PUT: "PUT", COMMIT: "COMMIT", TAKE: "TAKE"}

_FRAME = struct.Struct("<II")  # length of the rest, crc32c of the rest
_SEG_HEADER = struct.Struct("<B8sHIQ")  # type, magic, version, seq, first id
_PUT_HEAD = struct.Struct("<BQQI")  # type, id, put time ms, header count
_PUT_FRAMED = struct.Struct("<IIBQQI")  # frame + PUT head, for reading
_FRAMED_TYPE_ID = struct.Struct("<IIBQ")  # frame + type + first u64 (a PUT's id), for replay
_COMMIT = struct.Struct("<BQI")  # type, first id, count
_TAKE_HEAD = struct.Struct("<BI")  # type, range count
_RANGE = struct.Struct("<QQ")
HEADER_SIZE = _FRAME.size + _SEG_HEADER.size
_NAME = re.compile(r"log-(\d{8,})")
_U32_MAX = 2**32 - 1
_SURROGATES = "surrogatepass"  # header strings round-trip exactly, even lone surrogates

#: ``[segment, first id, end id)``: consecutive queued events of one segment (a list: the queue's head
#: run shrinks in place as events are taken).
Run = list[Any]


def segment_name(seq: int) -> str:
    return f"log-{seq:08d}"


@functools.lru_cache(maxsize=64)
def _lens(count: int) -> struct.Struct:
    return struct.Struct(f"<{count}I")


def _frame(rest: bytes) -> bytes:
    return _FRAME.pack(len(rest), crc32c(rest)) + rest


def encode_commit(events: Sequence[Event], first_id: int, put_ms: int,
                  take_ranges: Sequence[tuple[int, int]]) -> tuple[bytes, list[int]]:
    """The bytes one commit appends, and each PUT record's length (offsets follow from them).

    ``take_ranges`` are half-open ``[first, end)`` id ranges; the TAKE record stores them inclusive.

    One batch loop: each event costs two packs, three incremental CRC calls and a few appends.
    """
    parts: list[bytes] = []
    append = parts.append
    sizes: list[int] = []
    pack_head = _PUT_HEAD.pack
    pack_frame = _FRAME.pack
    event_id = first_id
    for event in events:
        headers = event.headers
        body = event.body
        if headers:
            strings = [s.encode("utf-8", _SURROGATES) for kv in headers.items() for s in kv]
            hblock = _lens(len(strings)).pack(*map(len, strings)) + b"".join(strings)
            head = pack_head(PUT, event_id, put_ms, len(headers)) + hblock
        else:
            head = pack_head(PUT, event_id, put_ms, 0)
        length = len(head) + len(body)
        if length > _U32_MAX:
            raise ChannelError(f"an event of {len(body)} bytes is too large for the file channel (limit 4 GiB)")
        append(pack_frame(length, crc32c(body, crc32c(head))))
        append(head)
        append(body)
        sizes.append(_FRAME.size + length)
        event_id += 1
    if events:
        append(_frame(_COMMIT.pack(COMMIT, first_id, len(events))))
    if take_ranges:
        append(_frame(_TAKE_HEAD.pack(TAKE, len(take_ranges))
                      + b"".join(_RANGE.pack(first, end - 1) for first, end in take_ranges)))
    return b"".join(parts), sizes


def decode_put(data: bytes, off: int, view: memoryview | None = None) -> tuple[int, int, Event] | None:
    """(id, put time ms, event) of the PUT record at ``off``; None when it is not a valid PUT.

    ``view`` is a memoryview of ``data``, passed by callers that decode many records of one buffer.
    """
    if off + _PUT_FRAMED.size > len(data):
        return None
    length, crc, rtype, event_id, put_ms, nheaders = _PUT_FRAMED.unpack_from(data, off)
    end = off + _FRAME.size + length
    if rtype != PUT or end > len(data):
        return None
    if view is None:
        with memoryview(data) as own:
            valid = crc32c(own[off + _FRAME.size:end]) == crc
    else:
        valid = crc32c(view[off + _FRAME.size:end]) == crc
    if not valid:
        return None
    pos = off + _PUT_FRAMED.size
    headers: dict[str, str] = {}
    if nheaders:
        try:
            lens = _lens(2 * nheaders).unpack_from(data, pos)
            pos += 8 * nheaders
            for i in range(0, 2 * nheaders, 2):
                key_end = pos + lens[i]
                value_end = key_end + lens[i + 1]
                headers[data[pos:key_end].decode("utf-8", _SURROGATES)] = data[key_end:value_end].decode(
                    "utf-8", _SURROGATES)
                pos = value_end
        except (struct.error, UnicodeDecodeError):
            return None  # a CRC-valid record that does not parse: written by something else
        if pos > end:
            return None
    return event_id, put_ms, Event(data[pos:end], headers)


class Segment:
    """One segment file and what the channel knows about it.

    ``offsets``/``lengths`` locate the PUT record of each event id ``first_id + i`` (12 bytes per event
    in memory, not the event); ``taken`` counts the events whose take has been committed. A segment
    may be deleted once it is not the newest and ``taken == len(offsets)``.
    """

    __slots__ = ("fd", "first_id", "lengths", "offsets", "path", "seq", "size", "synced", "taken")

    def __init__(self, seq: int, path: str, first_id: int) -> None:
        self.seq = seq
        self.path = path
        self.first_id = first_id
        self.offsets = array.array("Q")
        self.lengths = array.array("I")
        self.size = 0
        self.synced = 0
        self.taken = 0
        self.fd = -1

    @property
    def end_id(self) -> int:
        return self.first_id + len(self.offsets)

    def __repr__(self) -> str:
        return f"Segment({self.path!r}, ids {self.first_id}..{self.end_id - 1}, taken={self.taken})"


# --- replay --------------------------------------------------------------------------------------


class LogError(ChannelError):
    """The log cannot be used as found (a segment missing, ids out of sequence); not retriable."""

    retriable = False


@dataclass
class Damage:
    """A part of a segment that replay could not use."""

    path: str
    offset: int
    reason: str
    skipped: int  # bytes from ``offset`` to the end of the segment that were not replayed
    truncated: bool = False  # the segment was cut at ``offset`` (only ever the newest one)
    deleted: bool = False  # the newest segment had no valid header: it held nothing and was deleted

    def __str__(self) -> str:
        if self.deleted:
            action = "deleted the segment"
        elif self.truncated:
            action = "truncated the segment there"
        else:
            action = "skipped the rest of the segment"
        return f"{self.path} at offset {self.offset}: {self.reason}; {action} ({self.skipped} bytes)"


@dataclass
class Replay:
    """What a scan of the data directories found."""

    segments: list[Segment]
    taken: list[tuple[int, int]]  # committed take ranges, half-open [first, end)
    next_id: int
    next_seq: int = 0  # number of the segment to create when none can be appended to
    damage: list[Damage] = field(default_factory=list)
    lost_ids: list[tuple[int, int]] = field(default_factory=list)  # id gaps between segments
    stale: list[str] = field(default_factory=list)  # consumed segments below the checkpoint's first
    removed: list[str] = field(default_factory=list)  # newest segment without a valid header, deleted


def find_segments(dirs: Sequence[str]) -> dict[int, str]:
    found: dict[int, str] = {}
    for directory in dirs:
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            continue
        for name in names:
            match = _NAME.fullmatch(name)
            if match is None:
                continue
            seq = int(match.group(1))
            path = os.path.join(directory, name)
            if seq in found:
                raise LogError(f"segment {name} exists twice: {found[seq]} and {path}; remove the stray copy")
            found[seq] = path
    return found


def scan(dirs: Sequence[str], first_segment: int | None, *, repair: bool) -> Replay:
    """Read every segment from the oldest live one: events put and committed, takes committed.

    ``first_segment`` is the checkpoint's oldest live segment (None without a checkpoint): older
    segments were fully consumed and are reported as stale. With ``repair`` the newest segment is
    truncated after its last valid record, a newest segment without a valid header is deleted and
    stale segments are deleted; without it (``channel inspect``) nothing is changed.
    """
    found = find_segments(dirs)
    stale = sorted(seq for seq in found if first_segment is not None and seq < first_segment)
    live = sorted(seq for seq in found if first_segment is None or seq >= first_segment)
    if live:
        expected = live[0] if first_segment is None else first_segment
        missing = sorted(set(range(expected, live[-1] + 1)) - set(live))
        if missing:
            names = ", ".join(segment_name(s) for s in missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise LogError(
                f"segment(s) {names} missing from the data directories {', '.join(dirs)} (live segments "
                f"are {segment_name(expected)} to {segment_name(live[-1])}): events were lost or a data "
                "directory is not configured; restore the files or remove the channel's checkpoint and "
                "data directories to start empty")
    elif first_segment is not None:
        raise LogError(
            f"the data directories {', '.join(dirs)} hold no live segment but the checkpoint says segment "
            f"{segment_name(first_segment)} onwards: the data was removed; if that was on purpose, remove the "
            "checkpoint directory too")
    replay = Replay([], [], 0, next_seq=first_segment or 0)
    for seq in stale:
        replay.stale.append(found[seq])
        if repair:
            os.unlink(found[seq])
    next_id = 0
    for index, seq in enumerate(live):
        last = index == len(live) - 1
        segment = _scan_segment(found[seq], seq, next_id, replay, last=last, repair=repair)
        if segment is None:
            continue
        if segment.first_id > next_id and replay.segments:
            replay.lost_ids.append((next_id, segment.first_id))
        elif segment.first_id < next_id:
            raise LogError(
                f"segment {segment.path} starts at event id {segment.first_id}, before the end of the "
                f"previous segment ({next_id}): the data directories mix two logs; start the channel on "
                "empty directories")
        replay.segments.append(segment)
        next_id = segment.end_id
    replay.next_id = next_id
    if replay.segments:
        replay.next_seq = replay.segments[-1].seq + 1
    if replay.removed:
        replay.next_seq = live[-1]  # reuse the removed newest segment's number: no gap
    return replay


def _scan_segment(path: str, seq: int, next_id: int, replay: Replay, *, last: bool,
                  repair: bool) -> Segment | None:
    with open(path, "rb" if not repair else "r+b") as f:
        size = os.fstat(f.fileno()).st_size
        header = f.read(HEADER_SIZE)
        first_id = _parse_header(header, seq)
        if first_id is None:
            reason = "the segment header is missing or damaged"
            if last:
                # A crash while a new segment was being created: it holds nothing yet.
                replay.damage.append(Damage(path, 0, reason, size, deleted=repair))
                if repair:
                    os.unlink(path)
                    replay.removed.append(path)
                return None
            replay.damage.append(Damage(path, 0, reason, size))
            segment = Segment(seq, path, next_id)
            segment.size = size
            return segment
        segment = Segment(seq, path, first_id)
        if size == HEADER_SIZE:
            segment.size = size
            return segment
        valid_end, bad_offset, reason = _scan_records(f.fileno(), size, segment, replay.taken)
        if valid_end < size:
            damage = Damage(path, valid_end, reason, size - valid_end, truncated=last and repair)
            if bad_offset != valid_end:
                damage.reason += f" (the damaged record is at offset {bad_offset})"
            replay.damage.append(damage)
            if last and repair:
                f.truncate(valid_end)
                os.fsync(f.fileno())
                size = valid_end
        segment.size = size if last else valid_end
        return segment


def _parse_header(header: bytes, seq: int) -> int | None:
    if len(header) < HEADER_SIZE:
        return None
    length, crc = _FRAME.unpack_from(header)
    if length != _SEG_HEADER.size or crc32c(header[_FRAME.size:]) != crc:
        return None
    rtype, magic, version, found_seq, first_id = _SEG_HEADER.unpack_from(header, _FRAME.size)
    if rtype != HEADER or magic != MAGIC or found_seq != seq:
        return None
    if version != FORMAT_VERSION:
        raise LogError(f"segment {segment_name(seq)} has format version {version}; this flafka reads "
                       f"version {FORMAT_VERSION}")
    return int(first_id)


_SCAN_CHUNK = 8 << 20  # replay reads segments in chunks this big: memory stays flat, whatever the log size


def _scan_records(fd: int, size: int, segment: Segment, taken: list[tuple[int, int]]) -> tuple[int, int, str]:
    """Fill ``segment``'s offsets from its records and ``taken`` from its TAKE records.

    Returns (end of the valid data, offset of the first bad record, what was wrong). The valid data
    ends after the last COMMIT/TAKE/HEADER record: PUT records whose COMMIT is missing are dropped.
    Offsets below are file offsets; ``data`` holds the file from ``base`` on.
    """
    offsets, lengths = segment.offsets, segment.lengths
    add_offset, add_length = offsets.append, lengths.append
    unpack = _FRAMED_TYPE_ID.unpack_from
    frame_size = _FRAME.size
    shortest = _FRAMED_TYPE_ID.size  # no record is shorter than this
    off = HEADER_SIZE
    valid_end = off
    committed = 0  # events of the segment whose COMMIT has been seen
    expected = segment.first_id
    reason = ""
    base = off
    data = b""
    view = memoryview(data)
    try:
        while True:
            rel = off - base
            if rel + shortest > len(data):
                if off + shortest > size:
                    if off < size:
                        reason = "the last record is truncated"
                    break
                base, rel = off, 0
                data = os.pread(fd, _SCAN_CHUNK, off)
                view.release()
                view = memoryview(data)
                if len(data) < shortest:  # the file shrank under a read-only scan
                    reason = "the last record is truncated"
                    break
                continue
            length, crc, rtype, event_id = unpack(data, rel)
            end = off + frame_size + length
            if length < 1 or end > size:
                reason = "the last record is truncated" if length >= 1 else "a record has length 0"
                break
            if end - base > len(data):  # the record continues past the chunk: read from its start
                base, rel = off, 0
                data = os.pread(fd, max(_SCAN_CHUNK, end - off), off)
                view.release()
                view = memoryview(data)
                if len(data) < end - off:
                    reason = "the last record is truncated"
                    break
            rel_end = end - base
            if crc32c(view[rel + frame_size:rel_end]) != crc:
                reason = "a record fails its CRC check"
                break
            if rtype == PUT:
                if event_id != expected:
                    reason = f"a PUT record has event id {event_id}, expected {expected}"
                    break
                add_offset(off)
                add_length(end - off)
                expected += 1
            elif rtype == COMMIT:
                _, first, count = _COMMIT.unpack_from(data, rel + frame_size)
                if first != segment.first_id + committed or first + count != expected:
                    reason = f"a COMMIT record for ids {first}..{first + count - 1} does not match its PUT records"
                    break
                committed += count
                valid_end = end
            elif rtype == TAKE and expected == segment.first_id + committed:
                _, count = _TAKE_HEAD.unpack_from(data, rel + frame_size)
                if length != _TAKE_HEAD.size + count * _RANGE.size:
                    reason = "a TAKE record has a wrong length"
                    break
                pos = rel + frame_size + _TAKE_HEAD.size
                for first, last_id in _RANGE.iter_unpack(view[pos:rel_end]):
                    taken.append((first, last_id + 1))
                valid_end = end
            else:
                reason = f"unexpected {RECORD_TYPES.get(rtype, f'type {rtype}')} record"
                break
            off = end
    finally:
        view.release()
    if expected != segment.first_id + committed:
        if not reason:
            reason = "the last commit is incomplete (no COMMIT record)"
        del offsets[committed:]
        del lengths[committed:]
    return valid_end, off, reason


def untaken_runs(segments: Sequence[Segment], taken: list[tuple[int, int]]) -> list[Run]:
    """The events not taken, as runs ``[segment, first id, end id)`` in id order; sets ``taken``."""
    merged: list[list[int]] = []
    for first, end in sorted(taken):
        if merged and first <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([first, end])
    runs: list[Run] = []
    i = 0
    for segment in segments:
        start, stop = segment.first_id, segment.end_id
        while i < len(merged) and merged[i][1] <= start:
            i += 1
        cursor = start
        done = 0
        j = i
        while cursor < stop:
            if j < len(merged) and merged[j][0] < stop:
                first, end = merged[j]
                if first > cursor:
                    runs.append([segment, cursor, first])
                    cursor = first
                covered_end = min(end, stop)
                if covered_end > cursor:
                    done += covered_end - cursor
                    cursor = covered_end
                if end <= stop:
                    j += 1
            else:
                runs.append([segment, cursor, stop])
                cursor = stop
        segment.taken = done
        i = j
    return runs


def read_event(segment: Segment, event_id: int) -> tuple[int, Event] | None:
    """(put time ms, event) of one event of a scanned segment (``channel inspect``); None if damaged."""
    k = event_id - segment.first_id
    with open(segment.path, "rb") as f:
        data = os.pread(f.fileno(), segment.lengths[k], segment.offsets[k])
    decoded = decode_put(data, 0)
    return None if decoded is None or decoded[0] != event_id else (decoded[1], decoded[2])


# --- appending and reading ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Written:
    """Where one commit's bytes went: the caller syncs up to ``end`` and publishes the ids."""

    segment: Segment
    start: int
    end: int
    first_id: int
    count: int


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _disk_free(path: str) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


# Indirections so tests can make the disk fail.
_pwrite = os.pwrite
_fdatasync = os.fdatasync


class SegmentLog:
    """Appends commits to the newest segment, syncs them (group commit) and reads events back.

    ``write`` runs under the write lock (ids are assigned there, so the file order is the id
    order); ``sync`` runs under a separate lock, so one thread's fsync covers every write made before
    it started and other threads keep appending meanwhile.
    """

    def __init__(self, channel: str, dirs: Sequence[str], segments: list[Segment], next_id: int, *,
                 max_file_size: int, minimum_required_space: int,
                 free_space: Callable[[str], int] | None = None) -> None:
        self.channel = channel
        self.dirs = list(dirs)
        self.segments = segments
        self.next_id = next_id
        self.max_file_size = max_file_size
        self.minimum_required_space = minimum_required_space
        self._free_space = free_space or _disk_free
        self.write_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self.failed: str | None = None  # set when a sync failed: no later commit can be trusted
        self._once = OncePerKind(log)
        self.closed = False

    def open(self, next_seq: int) -> None:
        """Open the replayed segments; create segment ``next_seq`` if there is none."""
        try:
            for segment in self.segments:
                segment.fd = os.open(segment.path, os.O_RDWR)
                segment.synced = segment.size
            if not self.segments:
                self._new_segment(next_seq)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close every segment; later writes and syncs fail with "stopped" (waits for running ones)."""
        with self.write_lock, self._sync_lock:
            self.closed = True
            for segment in self.segments:
                if segment.fd >= 0:
                    os.close(segment.fd)
                    segment.fd = -1

    @property
    def active(self) -> Segment:
        return self.segments[-1]

    def _new_segment(self, seq: int) -> Segment:
        directory = self.dirs[seq % len(self.dirs)]
        path = os.path.join(directory, segment_name(seq))
        segment = Segment(seq, path, self.next_id)
        header = _frame(_SEG_HEADER.pack(HEADER, MAGIC, FORMAT_VERSION, seq, self.next_id))
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            if os.write(fd, header) != len(header):
                raise OSError(errno.ENOSPC, "short write of the segment header")
            _fdatasync(fd)
            _fsync_dir(directory)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(path)  # a segment without its header would only be removed by the next replay
            raise
        segment.fd = fd
        segment.size = segment.synced = len(header)
        self.segments.append(segment)
        return segment

    def write(self, events: Sequence[Event], take_ranges: Sequence[tuple[int, int]], put_ms: int) -> Written:
        """Append one commit (its puts, their COMMIT, its TAKE record) with one write; not synced."""
        with self.write_lock:
            if self.closed:
                raise ChannelError(f"file channel {self.channel} is stopped")
            if self.failed is not None:
                raise ChannelError(self.failed)
            first_id = self.next_id
            data, sizes = encode_commit(events, first_id, put_ms, take_ranges)
            segment = self.active
            rotate = segment.size > HEADER_SIZE and segment.size + len(data) > self.max_file_size
            if events:
                directory = self.dirs[(segment.seq + 1) % len(self.dirs)] if rotate else os.path.dirname(segment.path)
                try:
                    free = self._free_space(directory)
                except OSError as exc:
                    raise ChannelError(f"file channel {self.channel}: cannot read the free space of {directory}: "
                                       f"{exc}") from exc
                if free - len(data) < self.minimum_required_space:
                    raise ChannelFullError(
                        f"file channel {self.channel}: not enough disk space in {directory}: {free} bytes free, "
                        f"this commit needs {len(data)} and minimumRequiredSpace is "
                        f"{self.minimum_required_space}; puts resume once sinks take events and old segments "
                        "are deleted, or free space on the disk")
            if rotate:
                segment = self._rotate(segment)
            start = segment.size
            try:
                view = memoryview(data)
                done = 0
                while done < len(data):
                    done += _pwrite(segment.fd, view[done:], start + done)
            except OSError as exc:
                self._undo(segment, start, exc)
                raise ChannelError(f"file channel {self.channel}: writing to {segment.path} failed: {exc}; "
                                   "the commit was rolled back") from exc
            segment.size = start + len(data)
            if events:
                offsets, lengths = segment.offsets, segment.lengths
                pos = start
                for size in sizes:
                    offsets.append(pos)
                    lengths.append(size)
                    pos += size
                self.next_id = first_id + len(events)
            return Written(segment, start, segment.size, first_id, len(events))

    def _undo(self, segment: Segment, start: int, exc: OSError) -> None:
        try:
            os.ftruncate(segment.fd, start)
        except OSError as again:
            self.failed = (f"file channel {self.channel}: {segment.path} could not be restored after a failed "
                           f"write ({exc}; truncate: {again}); restart the agent (replay recovers every "
                           "committed event)")
            log.error("File channel %s is unhealthy. %s", self.channel, self.failed)

    def _rotate(self, sealed: Segment) -> Segment:
        """Seal the newest segment (fsynced: sealed segments are complete on disk) and start the next."""
        try:
            if sealed.synced < sealed.size:
                size = sealed.size
                _fdatasync(sealed.fd)  # not under the sync lock: lock order is write, then sync
                sealed.synced = max(sealed.synced, size)
        except OSError as exc:
            self.failed = (f"file channel {self.channel}: fsync of {sealed.path} failed ({exc}); commits are "
                           "refused until the agent restarts (replay recovers every committed event)")
            log.error("File channel %s is unhealthy. %s", self.channel, self.failed)
            raise ChannelError(self.failed) from exc
        try:
            # The new segment's header names the next event id as its first one.
            return self._new_segment(sealed.seq + 1)
        except OSError as exc:
            raise ChannelError(f"file channel {self.channel}: cannot create a new log segment: {exc}; the commit "
                               "was rolled back") from exc

    def sync(self, written: Written) -> None:
        """Make ``written`` durable; raises ChannelError (and undoes the write when it can) on failure."""
        segment = written.segment
        if segment.synced >= written.end:
            return
        with self._sync_lock:
            if self.closed:
                raise ChannelError(f"file channel {self.channel} is stopped")
            if self.failed is not None:
                raise ChannelError(self.failed)
            if segment.synced >= written.end:
                return
            target = segment.size
            try:
                _fdatasync(segment.fd)
            except OSError as exc:
                error = exc
                # After a failed fsync the kernel may have dropped any unsynced page of the file, and a
                # later fsync would report success: nothing may be called durable until this is resolved.
                self.failed = (f"file channel {self.channel}: fsync of {segment.path} failed ({exc}); commits "
                               "are refused until the agent restarts (replay recovers every committed event)")
            else:
                segment.synced = max(segment.synced, target)
                return
        self._undo_failed_sync(written)
        raise ChannelError(f"file channel {self.channel}: fsync of {segment.path} failed: {error}; the commit was "
                           "rolled back") from error

    def _undo_failed_sync(self, written: Written) -> None:
        # The commit can be undone only if it is the last write and everything before it was durable.
        segment = written.segment
        with self.write_lock:
            if segment is self.active and segment.size == written.end and segment.synced >= written.start:
                try:
                    os.ftruncate(segment.fd, written.start)
                    _fdatasync(segment.fd)
                except OSError:
                    pass
                else:
                    segment.size = written.start
                    if written.count:
                        index = written.first_id - segment.first_id
                        del segment.offsets[index:]
                        del segment.lengths[index:]
                        self.next_id = written.first_id
                    self.failed = None
                    log.warning("File channel %s undid a commit whose fsync failed. path=%s offset=%d",
                                self.channel, segment.path, written.start)
                    return
        log.error("File channel %s is unhealthy. %s", self.channel, self.failed)

    def sync_all(self) -> None:
        """fsync the newest segment (fsyncPerTransaction=false: the background sync and close)."""
        with self.write_lock:
            segment = self.active
            written = Written(segment, segment.synced, segment.size, 0, 0)
        if segment.synced < written.end:
            with self._sync_lock:
                if self.failed is not None or self.closed:
                    return
                target = segment.size
                _fdatasync(segment.fd)
                segment.synced = max(segment.synced, target)

    def read(self, runs: Sequence[Run], out: list[Event]) -> int:
        """Append the events of ``runs`` to ``out`` (one pread per run); returns how many were bad."""
        bad = 0
        for run in runs:
            segment: Segment = run[0]
            first: int = run[1]
            end: int = run[2]
            i = first - segment.first_id
            j = end - segment.first_id
            offsets, lengths = segment.offsets, segment.lengths
            base = offsets[i]
            data = os.pread(segment.fd, offsets[j - 1] + lengths[j - 1] - base, base)
            with memoryview(data) as view:
                for k in range(i, j):
                    decoded = decode_put(data, offsets[k] - base, view)
                    if decoded is None or decoded[0] != segment.first_id + k:
                        bad += 1
                        self._once.log(logging.ERROR, "damaged-put",
                                       f"File channel {self.channel}: the PUT record of event {segment.first_id + k} "
                                       f"in {segment.path} at offset {offsets[k]} is damaged (changed on disk since "
                                       "it was written); the event is dropped.")
                        continue
                    out.append(decoded[2])
        return bad

    def drop_head(self) -> Segment:
        """Forget the oldest segment and delete its file (the checkpoint already moved past it)."""
        with self.write_lock:
            segment = self.segments.pop(0)
        os.close(segment.fd)
        segment.fd = -1
        os.unlink(segment.path)
        return segment
