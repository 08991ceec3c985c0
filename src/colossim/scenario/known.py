"""The one check behind every "unknown id" error of a scenario field."""

from __future__ import annotations

from collections.abc import Sequence

from colossim.errors import did_you_mean


def require_known(value: str, known: Sequence[str], what: str) -> str:
    """``value`` if it is one of ``known``; else a ValueError (pydantic turns it into a
    field error) naming ``what``, the closest spelling and the known ids."""
    if value not in known:
        hint = did_you_mean(value, known)
        raise ValueError(f"unknown {what}; {hint}known: {', '.join(known)}")
    return value
