"""Running in-process agents from properties text in integration tests."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from contextlib import contextmanager

from flafka.config.loader import plan_from_properties
from flafka.config.plan import AgentPlan
from flafka.config.properties import parse_properties
from flafka.runtime.agent import Agent

COLLECT = "tests.unit.runtime.components:CollectingSink"


def plan(text: str, agent: str = "a") -> AgentPlan:
    loaded = plan_from_properties(parse_properties(textwrap.dedent(text), "test.properties"), agent)
    return loaded.plan


@contextmanager
def running(text: str, agent: str = "a", stop_timeout: float = 10.0) -> Iterator[Agent]:
    """An agent started from ``text`` and stopped (gracefully) when the block ends."""
    instance = Agent(plan(text, agent))
    instance.start()
    try:
        yield instance
    finally:
        instance.stop(stop_timeout)
