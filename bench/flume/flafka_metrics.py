"""``flafka-agent`` as bench/compare_flume.py starts it: now a thin wrapper over ``flafka.cli.main``.

    python bench/flume/flafka_metrics.py -Dflume.monitoring.type=http -Dflume.monitoring.port=PORT \\
        -f agent.properties -n a --no-reload-conf

flafka serves Flume's HTTP monitoring document itself (``flafka.monitoring.http``, started by the same
``-D`` options Flume reads, on 127.0.0.1), so this only runs the CLI. It stays so that compare_flume.py's
command line keeps working, and so that the repository this file is in is the one measured when it is run
by hand without PYTHONPATH (compare_flume.py sets PYTHONPATH to the flafka tree under test).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if not os.environ.get("PYTHONPATH"):
    sys.path.insert(1, str(Path(__file__).resolve().parents[2]))

from flafka import cli

if __name__ == "__main__":
    sys.exit(cli.main())
