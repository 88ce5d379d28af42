"""flafka: a Flume-compatible event agent in Python.

The public surface for component authors is re-exported here; everything else is internal.
"""

from flafka.component import Component
from flafka.config.params import ComponentConfig, param, prefixed
from flafka.errors import TransientError
from flafka.event import Event
from flafka.interceptors.base import Interceptor

__version__ = "0.1.0"

__all__ = ["Component", "ComponentConfig", "Event", "Interceptor", "TransientError", "__version__", "param",
           "prefixed"]
