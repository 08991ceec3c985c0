from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_CSV = REPO.parent / "shared" / "validation" / "published_runs.csv"

# Fixed-width, colourless console for CLI output checks.
os.environ.setdefault("COLUMNS", "120")
os.environ["NO_COLOR"] = "1"


@pytest.fixture(scope="session")
def published_csv() -> Path:
    if not SHARED_CSV.exists():
        pytest.skip("shared/validation/published_runs.csv not beside the repository")
    return SHARED_CSV
