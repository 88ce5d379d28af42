"""An interceptor for the runtime bench: passes events through, raising on every ``every``-th one (by the
sequence number in its body), as an interceptor does on malformed data. ``every = 0`` never raises, so the
same chain measures the cost of the interceptor call alone."""

from __future__ import annotations

from dataclasses import dataclass

from flafka.config.params import ComponentConfig, param
from flafka.event import Event
from flafka.interceptors.base import Interceptor


@dataclass(frozen=True, kw_only=True)
class PoisonConfig(ComponentConfig):
    every: int = param("every", default=0, minimum=0, doc="Raise on events whose number is divisible by this.")


class PoisonInterceptor(Interceptor):
    config_class = PoisonConfig
    config: PoisonConfig

    def intercept_batch(self, events: list[Event]) -> list[Event]:
        every = self.config.every
        if every:
            for event in events:
                if int(event.body) % every == 0:
                    raise ValueError(f"malformed event {int(event.body)}")
        return events
