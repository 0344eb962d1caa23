"""Fixtures shared by every test layer."""
from __future__ import annotations

import pytest

from tools.azurite import Azurite, start_azurite


@pytest.fixture(scope="session")
def azurite() -> Azurite:
    """One real Azurite for the whole run; tests isolate themselves with unique table/queue names."""
    instance = start_azurite()
    try:
        yield instance
    finally:
        instance.stop()
