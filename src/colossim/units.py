"""Unit conversions (a leaf module). Everything inside colossim is SI: bytes, seconds,
FLOP, watts, joules. Catalog files use the units their sources use; they are converted
here, once, at the edge."""

from __future__ import annotations

GB = 1e9  # decimal gigabyte, bytes
GIB = 2**30
TB = 1e12
TERA = 1e12
GBIT_PER_S_TO_BYTES_PER_S = 1e9 / 8
SECONDS_PER_DAY = 86_400.0
SECONDS_PER_HOUR = 3_600.0
