"""Unit conversions (SI inside the model; these convert at the boundaries). A leaf module:
the only place a unit factor is written."""

from __future__ import annotations

GB = 1e9  # decimal gigabyte, bytes
GIB = 2**30
TB = 1e12
TERA = 1e12
GBIT_PER_S_TO_BYTES_PER_S = 1e9 / 8
SECONDS_PER_MINUTE = 60.0
SECONDS_PER_HOUR = 3_600.0
SECONDS_PER_DAY = 86_400.0
SECONDS_PER_YEAR = 365.25 * SECONDS_PER_DAY  # Julian year
HOURS_PER_YEAR = 8_760.0  # 365 x 24 h: the accounting year of prices and opex
W_PER_KW = 1e3
W_PER_MW = 1e6
J_PER_KWH = 3.6e6
J_PER_MWH = 3.6e9
