"""Every count added to a component counter is added under the counter's lock (flafka.monitoring.counters).

A channel's counter is updated from every source and sink thread that uses the channel; ``x += n`` outside
the lock loses counts when two threads interleave. This reads the package's source: each ``+=``/``-=`` on a
counter attribute must sit inside ``with <counter>.lock:``, and such a block may call nothing but pure
builtins (a call that takes another lock, or the same one, could deadlock or stall the hot path).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import threading
from pathlib import Path

import flafka
from flafka.monitoring.counters import ChannelCounter, Counter, SourceCounter

PACKAGE = Path(flafka.__file__).parent
_PURE_CALLS = {"len", "int", "max", "min", "sum", "getattr", "setattr"}


def _all_counter_classes() -> list[type[Counter]]:
    for module in pkgutil.walk_packages([str(PACKAGE)], "flafka."):
        if ".examples." not in module.name and not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found: list[type[Counter]] = []
    pending: list[type[Counter]] = [Counter]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def _fields() -> set[str]:
    return {f for cls in _all_counter_classes() for f in cls.fields}


def _counter_locks(tree: ast.AST) -> list[ast.With]:
    """``with counter.lock:``, ``with self._sink_counter.lock:``, and ``with self.lock:`` in a ``...Counter`` class."""
    found: list[ast.With] = []

    def visit(node: ast.AST, in_counter_class: bool) -> None:
        if isinstance(node, ast.ClassDef):
            in_counter_class = node.name.endswith("Counter")
        if isinstance(node, ast.With):
            for item in node.items:
                expr = item.context_expr
                if isinstance(expr, ast.Attribute) and expr.attr == "lock":
                    owner = ast.unparse(expr.value)
                    if "counter" in owner.lower() or (owner == "self" and in_counter_class):
                        found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child, in_counter_class)

    visit(tree, False)
    return found


def _unlocked_updates(tree: ast.AST, fields: set[str]) -> list[tuple[int, str]]:
    locked = {id(inner) for block in _counter_locks(tree) for inner in ast.walk(block)}
    return [(node.lineno, ast.unparse(node)) for node in ast.walk(tree)
            if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Attribute)
            and node.target.attr in fields and id(node) not in locked]


def _calls_under_lock(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for block in _counter_locks(tree):
        for inner in ast.walk(ast.Module(body=block.body, type_ignores=[])):
            if isinstance(inner, ast.Call) and not (isinstance(inner.func, ast.Name) and inner.func.id in _PURE_CALLS):
                found.append((inner.lineno, ast.unparse(inner)))
    return sorted(found)


def test_every_counter_update_in_the_package_holds_the_counters_lock() -> None:
    fields = _fields()
    assert {"event_put_attempt_count", "event_received_count", "unhealthy"} <= fields
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for line, text in _unlocked_updates(tree, fields):
            problems.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {text} (not under `with <counter>.lock:`)")
        for line, text in _calls_under_lock(tree):
            problems.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {text} called while a counter lock is held")
    assert problems == []


def test_the_check_finds_an_unlocked_update_and_a_call_under_the_lock() -> None:
    source = (
        "def put(counter, events):\n"
        "    counter.event_put_attempt_count += len(events)\n"
        "    with counter.lock:\n"
        "        counter.event_put_success_count += len(events)\n"
        "        counter.log(events)\n"
    )
    tree = ast.parse(source)
    assert _unlocked_updates(tree, _fields()) == [(2, "counter.event_put_attempt_count += len(events)")]
    assert _calls_under_lock(tree) == [(5, "counter.log(events)")]


def test_counts_added_from_many_threads_under_the_lock_are_all_kept() -> None:
    counter = ChannelCounter("c1")
    counter.start()
    rounds, threads = 20_000, 4

    def put() -> None:
        for _ in range(rounds):
            with counter.lock:
                counter.event_put_attempt_count += 1
                counter.event_put_success_count += 1

    workers = [threading.Thread(target=put) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    snapshot = counter.snapshot()
    assert snapshot["EventPutAttemptCount"] == snapshot["EventPutSuccessCount"] == str(rounds * threads)


def test_a_snapshot_is_one_instant_of_every_count() -> None:
    counter = SourceCounter("r1")
    counter.start()
    stop = threading.Event()

    def count() -> None:
        while not stop.is_set():
            with counter.lock:
                counter.event_received_count += 1
                counter.event_accepted_count += 1

    worker = threading.Thread(target=count)
    worker.start()
    try:
        for _ in range(2000):
            values = counter.values()
            assert values["event_received_count"] == values["event_accepted_count"]
    finally:
        stop.set()
        worker.join(10)
