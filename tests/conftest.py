"""Session setup shared by every test module."""

from __future__ import annotations

import pytest

from tests.matrix import start_session


def pytest_sessionstart(session: pytest.Session) -> None:
    # Each run records its own release-matrix verdicts (tests/matrix.py).
    start_session()
