"""Every test here is part of the attack suite (`pytest -m attack` runs only it)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/attack/" in str(item.path):
            item.add_marker(pytest.mark.attack)
