"""Shared fixtures. Real data lives in ../shared/data (read-only, never copied into the repo).

When it is missing, tests that need it fail loudly (not skip): CI always has it, so a skip
would hide a broken checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MANS_SHARED_DATA", REPO.parent / "shared" / "data"))


def _require(sub: str) -> Path:
    p = SHARED_DATA / sub
    if not p.is_dir():
        pytest.fail(f"real data folder {p} is missing: tests read ../shared/data (set "
                    f"MANS_SHARED_DATA to override); it must exist in CI", pytrace=False)
    return p


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return _require("")


@pytest.fixture(scope="session")
def ntu_samples() -> Path:
    return _require("ntu-samples")


@pytest.fixture(scope="session")
def ntu_metadata() -> Path:
    return _require("ntu-metadata")


@pytest.fixture(scope="session")
def utkinect_dir() -> Path:
    return _require("utkinect")


@pytest.fixture(scope="session")
def hdm05_dir() -> Path:
    return _require("hdm05-subset")
