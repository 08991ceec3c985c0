from __future__ import annotations

import os
from pathlib import Path

import pytest

from colossim.validation.runs import bundled_path

REPO = Path(__file__).resolve().parents[1]

# Fixed-width, colourless console for CLI output checks.
os.environ.setdefault("COLUMNS", "120")
os.environ["NO_COLOR"] = "1"


@pytest.fixture(scope="session")
def published_csv() -> Path:
    """The bundled published runs (shipped in the package: never skipped)."""
    return bundled_path("published_runs")


@pytest.fixture(scope="session")
def sweeps_csv() -> Path:
    """The bundled layout sweeps."""
    return bundled_path("layout_sweeps")
