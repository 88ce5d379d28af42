"""Threads that drive sources and sink groups (reference §2.5, §2.6, §2.7).

Each runner owns one thread. It starts its components inside that thread and retries a failed
start with back-off (Flume's lifecycle supervisor), so one component that cannot start (a port in
use, a server down) does not stop the agent, and is logged rather than fatal.

A sink runner waits on its channel after an idle ``BACKOFF`` (it wakes as soon as events are
committed) instead of sleeping Flume's fixed back-off, so latency stays low when traffic is light.

Stopping is bounded: ``stop(timeout)`` waits at most ``timeout`` seconds in all, for the thread and
for the components' own ``stop``; a component that does not return in time is left to finish in the
background (logged), so one stuck client cannot hold up the agent's stop deadline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from flafka.channels.base import Channel
from flafka.errors import FlafkaError
from flafka.logging_once import OncePerKind
from flafka.monitoring.counters import Counter
from flafka.runtime.channel_processor import ChannelProcessor
from flafka.runtime.sink_processors import SinkProcessor
from flafka.sources.base import PollableSource, Source, Status

log = logging.getLogger(__name__)

_START_RETRY_MAX = 30.0


def call_by(deadline: float, who: str, action: str, call: Callable[[], object]) -> bool:
    """Run ``call`` in a helper thread and wait for it until ``deadline`` (``time.monotonic()``).

    True when it returned in time. ``who`` and ``action`` name it in the log ("Source r1", "stop"): an
    exception it raises is logged (ERROR), not raised; a call still running at the deadline goes on in
    the background, with a WARNING.
    """
    failure: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except Exception as exc:
            failure.append(exc)
            log.error("%s could not %s. %s: %s", who, action, type(exc).__name__, exc,
                      exc_info=None if isinstance(exc, FlafkaError) else exc)

    helper = threading.Thread(target=run, name=f"{who} {action}", daemon=True)
    helper.start()
    helper.join(max(0.0, deadline - time.monotonic()))
    if helper.is_alive():
        log.warning("%s did not %s by the deadline; it goes on in the background.", who, action)
        return False
    return not failure


class Runner:
    """Base: a named thread with a stop flag and a start-with-retry helper."""

    kind = "component"

    def __init__(self, name: str) -> None:
        self.name = name
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._main, name=f"{self.kind}-{name}", daemon=True)
        self._once = OncePerKind(log)
        self.started = threading.Event()  # set once the components started successfully
        self._life = threading.Lock()  # orders "started" against stop() giving up on a start
        self._abandoned = False  # stop() returned while a start was under way: the thread cleans up itself
        # Health, read by flafka.monitoring.health. The hot path stores one float per batch (last_success);
        # the rest is written only when a start or a process() call raises.
        self.last_success = 0.0  # time.time() of the last start or process() call that returned
        self.last_error_at = 0.0  # time.time() of the last one that raised
        self.failing_since = 0.0  # time.time() of the first failure after the last success
        self.last_error = ""  # "DeliveryError: ..." of the last failure
        self.last_progress = 0.0  # time.time() of the start, or of the last process() call that moved events
        self._last_moved = 0
        self.counters: list[Counter] = []  # of the components it drives: started before them, stopped after

    def _failed(self, exc: BaseException) -> None:
        """Record a failed start or process() call (for /health)."""
        now = time.time()
        if self.last_error_at <= self.last_success:
            self.failing_since = now
        self.last_error_at = now
        self.last_error = f"{type(exc).__name__}: {exc}"

    def _returned(self) -> None:
        """A process() call returned (for /health: did events move since the last call?)."""
        now = time.time()
        self.last_success = now
        moved = self._moved()
        if moved != self._last_moved:
            self._last_moved = moved
            self.last_progress = now

    def _moved(self) -> int:
        """How many events the components moved so far: their counters' delivered, dead-lettered and dropped.

        Not the Status a process() call returned: a Kafka source offering a batch that waits for a full channel
        returns READY (it polled) and moves nothing."""
        raise NotImplementedError

    @property
    def failing(self) -> bool:
        """True while the last start or process() call raised."""
        return self.last_error_at > self.last_success

    def start(self) -> None:
        self._thread.start()

    def _main(self) -> None:
        raise NotImplementedError

    def _start_with_retry(self, start: Callable[[], None], what: str) -> bool:
        delay = 1.0
        # Started once, before the first attempt: a start that fails and is retried keeps counting (a sink's
        # ConnectionFailedCount grows with each failed connection instead of being zeroed by the next attempt).
        for counter in self.counters:
            counter.start()
        while not self._stopping.is_set():
            try:
                start()
            except Exception as exc:
                self._failed(exc)
                self._once.log(logging.ERROR, f"start:{type(exc).__name__}",
                               f"{what} failed to start; retrying in {delay:g}s. {type(exc).__name__}: {exc}",
                               exc_info=None if isinstance(exc, FlafkaError) else exc)  # flafka's: expected
                self._stopping.wait(delay)
                delay = min(delay * 2, _START_RETRY_MAX)
                continue
            self.last_success = self.last_progress = time.time()
            with self._life:
                if not self._abandoned:
                    self.started.set()
                    return True
            # stop() already returned without stopping what was still starting: nobody else will.
            log.info("%s started after its stop; stopping it now.", what)
            self._stop_components()
            return False
        return False

    def _stop_components(self) -> None:
        raise NotImplementedError

    def _stop_counters(self) -> None:
        for counter in self.counters:
            counter.stop()

    def _stop_started(self, deadline: float, what: str) -> None:
        """Stop the components if they started; a start still under way is stopped by the thread."""
        with self._life:
            started = self.started.is_set()
            self._abandoned = not started
        if started:
            call_by(deadline, what, "stop", self._stop_components)

    def join(self, timeout: float) -> bool:
        self._thread.join(max(0.0, timeout))
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()


class SourceRunner(Runner):
    """Starts a source and, for a pollable one, calls ``process()`` until stopped."""

    kind = "source"

    def __init__(self, source: Source, processor: ChannelProcessor) -> None:
        super().__init__(source.name)
        self.source = source
        self.processor = processor
        self.counters = [source.counter, processor.selector_counter, *processor.interceptor_counters]

    def _start(self) -> None:
        self.processor.initialize()
        try:
            self.source.start()
        except BaseException:
            self.processor.close()
            raise

    def _main(self) -> None:
        if not self._start_with_retry(self._start, f"Source {self.name}"):
            return
        source = self.source
        if not isinstance(source, PollableSource):
            self._stopping.wait()
            return
        consecutive = 0
        while not self._stopping.is_set():
            try:
                status = source.process()
                self._returned()
            except FlafkaError as exc:
                self._failed(exc)
                self._once.log(logging.WARNING, f"process:{type(exc).__name__}",
                               f"Source {self.name} could not deliver a batch; backing off. {exc}")
                status = Status.BACKOFF
            except Exception as exc:
                self._failed(exc)
                self._once.log(logging.ERROR, f"process:{type(exc).__name__}",
                               f"Source {self.name} failed; backing off. {type(exc).__name__}: {exc}",
                               exc_info=exc)
                self._stopping.wait(source.max_backoff_sleep_ms / 1000.0)
                continue
            if status is Status.READY:
                consecutive = 0
                continue
            consecutive += 1
            delay = min(consecutive * source.backoff_sleep_increment_ms, source.max_backoff_sleep_ms)
            self._stopping.wait(delay / 1000.0)

    def _moved(self) -> int:
        counter = self.source.counter
        return counter.event_accepted_count + counter.event_dead_letter_count + counter.event_drop_count

    def _stop_components(self) -> None:
        try:
            self.source.stop()
        finally:
            self.processor.close()
            self._stop_counters()

    def stop(self, timeout: float) -> None:
        """Stop taking new input; the batch in hand is finished (committed or rolled back) first.

        Returns within about ``timeout`` seconds, the source's own ``stop`` included.
        """
        deadline = time.monotonic() + timeout
        self._stopping.set()
        if not self.join(timeout):
            log.warning("Source %s did not finish its batch within %.1fs.", self.name, timeout)
        self._stop_started(deadline, f"Source {self.name}")


class SinkRunner(Runner):
    """Drives one sink group's processor: one thread per group, as Flume."""

    kind = "sinkgroup"

    def __init__(self, name: str, processor: SinkProcessor, channels: list[Channel]) -> None:
        super().__init__(name)
        self.processor = processor
        self.channels = channels
        self.counters = [processor.counter, *(sink.counter for sink in processor.sinks)]
        self._draining = threading.Event()
        self._kick = threading.Event()  # cuts a failure back-off short (drain or stop requested)
        self.drained = threading.Event()

    def _main(self) -> None:
        if not self._start_with_retry(self.processor.start, f"Sink group {self.name}"):
            return
        processor = self.processor
        idle = 0
        failures = 0
        while not self._stopping.is_set():
            try:
                status = processor.process()
                self._returned()
                failures = 0
            except Exception as exc:
                if self._stopping.is_set():
                    # The agent stopped the channel under this batch (a stop deadline passed): it rolled back
                    # and the agent counted its events; nothing more to deliver.
                    log.info("Sink group %s ended with its batch rolled back at stop. %s: %s", self.name,
                             type(exc).__name__, exc)
                    break
                failures += 1
                self._failed(exc)
                self._once.log(logging.ERROR, f"process:{type(exc).__name__}",
                               f"Sink group {self.name} failed to deliver; backing off. "
                               f"{type(exc).__name__}: {exc}")
                if self._draining.is_set() and time.monotonic() > self._drain_deadline:
                    break
                self._kick.wait(min(failures, 5))
                self._kick.clear()
                continue
            if status is Status.READY:
                idle = 0
                continue
            if self._draining.is_set() and all(c.size() == 0 for c in self.channels):
                self.drained.set()
                break
            idle += 1
            if any(c.size() for c in self.channels):
                if idle == 1:
                    continue  # committed just after the sink found the channel empty: take them now
                # Backed off again with events waiting: the destination is busy, so Flume's back-off applies.
                self._stopping.wait(min(idle - 1, 5))
            else:
                self.channels[0].wait_for_events(min(idle, 5))

    def _moved(self) -> int:
        return sum(sink.counter.event_drain_success_count + sink.counter.event_dead_letter_count
                   + sink.counter.event_drop_count for sink in self.processor.sinks)

    def drain(self, deadline: float) -> None:
        """Keep delivering until the channels are empty or ``deadline`` (monotonic) passes."""
        self._drain_deadline = deadline
        self._draining.set()
        self._kick.set()
        for channel in self.channels:
            channel.wakeup()

    def stop(self, timeout: float) -> None:
        self._stopping.set()
        self._kick.set()
        # A sink that holds a batch while it retries its destination gives it up now, not after the join.
        for sink in getattr(self.processor, "sinks", ()):  # a processor never bound has none
            sink.request_stop()
        for channel in self.channels:
            channel.wakeup()
        if not self.join(timeout):
            log.warning("Sink group %s did not finish its batch within %.1fs.", self.name, timeout)
        if self.started.is_set():
            self.processor.stop()
            self._stop_counters()
