"""Catalog data files shipped with the package, and their loader.

Every catalog file is a YAML mapping ``id -> entry``. Every entry carries a ``source``
(the citation that applies to all of its figures) and may carry ``sources`` (a mapping
``field -> citation`` for figures that come from elsewhere). Numbers never live in code:
they live here, next to where they come from. ``tests/test_catalog.py`` checks that each
numeric field of each entry is covered by a source.

This module does I/O (reads package data) and is one of the edges of the pure core.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from colossim.errors import InputError, did_you_mean
from colossim.yamlio import load_yaml

__all__ = ["CatalogEntry", "load_catalog", "lookup", "lookup_prefixed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogEntry:
    """One catalog entry: its figures and where each comes from."""

    id: str
    values: dict[str, Any]
    source: str
    sources: dict[str, str]

    def source_of(self, field: str) -> str:
        """Citation for ``field`` (the field's own, else the entry's)."""
        return self.sources.get(field.split(".")[0], self.source)


@cache
def load_catalog(name: str) -> dict[str, CatalogEntry]:
    """Load ``catalog/<name>.yaml`` from the installed package.

    Args:
        name: file stem, e.g. ``"gpus"``.

    Returns:
        Mapping of entry id to :class:`CatalogEntry`, in file order.
    """
    text = resources.files(__package__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    # The same hardened reader as scenarios: duplicate keys are errors, 1e9 is a number.
    raw, _ = load_yaml(text, filename=f"catalog/{name}.yaml", trusted=True)
    raw = raw or {}
    out: dict[str, CatalogEntry] = {}
    for key, entry in raw.items():
        if key.startswith("_"):  # file-level notes such as `_notes:`
            continue
        entry = dict(entry)
        source = entry.pop("source", None)
        sources = entry.pop("sources", {}) or {}
        if not source:
            raise ValueError(f"catalog {name}.yaml entry {key!r} has no 'source'")
        out[str(key)] = CatalogEntry(id=str(key), values=entry, source=source, sources=sources)
    return out


def lookup(name: str, entry_id: str, *, field: str) -> CatalogEntry:
    """Find ``entry_id`` in catalog ``name`` or raise a clear :class:`InputError`.

    Args:
        name: catalog file stem (``"gpus"``).
        entry_id: id asked for by the user.
        field: the input field that named it, for the error message.
    """
    entries = load_catalog(name)
    if entry_id in entries:
        return entries[entry_id]
    hint = did_you_mean(entry_id, list(entries))
    raise InputError(
        field,
        f"unknown {name.rstrip('s')} id",
        value=entry_id,
        fix=f"{hint}known ids: {', '.join(entries)}",
    )


def lookup_prefixed(catalog: str, prefix: str, entry_id: str, *, field: str) -> CatalogEntry:
    """Find ``<prefix><entry_id>`` in ``catalog`` or raise an :class:`InputError`.

    The error lists only the ids of that kind (the prefix stripped), with a close match.
    """
    entries = load_catalog(catalog)
    key = f"{prefix}{entry_id}"
    if key in entries:
        return entries[key]
    known = [k[len(prefix) :] for k in entries if k.startswith(prefix)]
    hint = did_you_mean(entry_id, known)
    raise InputError(
        field,
        f"no {prefix.rstrip('-')} entry in catalog {catalog}.yaml",
        value=entry_id,
        fix=f"{hint}known: {', '.join(known)}",
    )
