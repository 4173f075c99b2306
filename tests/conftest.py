"""Session setup shared by every test module."""

from __future__ import annotations

import pytest

from tests.matrix import start_session


def pytest_sessionstart(session: pytest.Session) -> None:
    # Each run records its own release-matrix verdicts (tests/matrix.py).
    start_session()


# The modules the inner loop leaves out (`python -m pytest -q -m "not slow" --ignore=tests/tools`,
# about a minute): the writer's fault injection and real-process races, the hypothesis
# differential, and the CLI tests that start many processes. CI runs them all.
SLOW_MODULES = frozenset(
    {
        "test_write_faults.py",
        "test_write_failures.py",
        "test_write_guarantees.py",
        "test_schema_agreement.py",
        "test_cli_hooks.py",
        "test_cli_options.py",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
