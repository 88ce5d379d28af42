"""`python -m devstack`: see devstack/__init__.py."""

import sys

from devstack.cli import main

sys.exit(main())
