"""Fixtures of the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.cli.test_cli import GOOD


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    """A valid agent file (seq → memory → null, agent ``a1``)."""
    path = tmp_path / "agent.properties"
    path.write_text(GOOD)
    return path
