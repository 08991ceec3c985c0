"""Predictions against published, measured training runs (data bundled in ``data/``)."""

from colossim.validation.runs import (
    FULL_LAYOUT_COLUMNS,
    REQUIRED_COLUMNS,
    RowResult,
    SearchCheck,
    ValidationReport,
    read_runs,
    validate_rows,
)

__all__ = [
    "FULL_LAYOUT_COLUMNS",
    "REQUIRED_COLUMNS",
    "RowResult",
    "SearchCheck",
    "ValidationReport",
    "read_runs",
    "validate_rows",
]
