"""What every test shares: empty process-wide caches, and the `e2e` mark on the browser tests."""

from pathlib import Path

import pytest

from explorer.serving import cache
from tests.script_runner import ScriptRunner

E2E = Path(__file__).resolve().parent / "e2e"


@pytest.fixture(autouse=True)
def empty_caches():
    """Each test starts from empty shared caches, so an answer cached by an earlier test cannot pass or fail it."""
    cache.clear()
    yield
    cache.clear()


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.is_relative_to(E2E):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def script_runner(tmp_path_factory):
    """One Python that runs exported scripts for every test (see tests/script_runner.py)."""
    runner = ScriptRunner(tmp_path_factory.mktemp("scripts"))
    yield runner
    runner.close()
