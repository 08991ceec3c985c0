"""Error types shared by the whole package (a leaf module: imports nothing of ours).

Bad input raises :class:`InputError`; the CLI turns it into one line on stderr and exit
code 2. An infeasible plan is not an error: it is an outcome with an
:class:`~colossim.plan.Infeasible` reason.
"""

from __future__ import annotations


class ColossimError(Exception):
    """Base class of every error colossim raises on purpose."""


class InputError(ColossimError):
    """Invalid user input: names the field, the value and the fix.

    Args:
        field: dotted path of the offending field (``cluster.gpu``).
        problem: what is wrong, in words.
        value: the value that was given (rendered with ``repr``), if any.
        fix: how to fix it.
        location: ``file:line:col`` of the field in an input file, if known.
    """

    def __init__(
        self,
        field: str,
        problem: str,
        *,
        value: object = None,
        fix: str | None = None,
        location: str | None = None,
    ) -> None:
        self.field = field
        self.problem = problem
        self.value = value
        self.fix = fix
        self.location = location
        super().__init__(self.message())

    def message(self) -> str:
        parts = []
        if self.location:
            parts.append(f"{self.location}: ")
        parts.append(f"{self.field}: {self.problem}")
        if self.value is not None:
            parts.append(f" (got {self.value!r})")
        if self.fix:
            parts.append(f"; {self.fix}")
        return "".join(parts)


class InputErrors(ColossimError):
    """Several input errors reported at once (scenario files report every problem)."""

    def __init__(self, errors: list[InputError], *, what: str = "scenario") -> None:
        self.errors = errors
        self.what = what  # what the errors are in ("scenario", "sweep spec"), for the summary
        super().__init__("\n".join(e.message() for e in errors))


def did_you_mean(value: object, choices: list[str] | tuple[str, ...]) -> str:
    """``"did you mean 'x'? "`` for the closest of ``choices`` to ``value``, else ``""``.

    The one spelling hint of every "unknown id / unknown key" message.
    """
    import difflib

    close = difflib.get_close_matches(str(value), list(choices), n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def require_number(
    field: str,
    value: object,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict: bool = False,
    unit: str = "",
) -> float:
    """``value`` as a finite float, or :class:`InputError` naming ``field``.

    Args:
        field: dotted path of the field, for the message.
        value: the number to check (bools are rejected: ``True`` is not a count).
        minimum: lower bound; ``strict`` makes it exclusive (``> minimum``).
        maximum: upper bound (inclusive).
        unit: unit shown in the message (``"s"``, ``"W"``), if any.

    Returns:
        ``float(value)``.
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InputError(field, "must be a finite number", value=value)
    x = float(value)
    if x in (float("inf"), float("-inf")):
        raise InputError(field, "must be a finite number", value=value)
    suffix = f" {unit}" if unit else ""
    if minimum is not None and (x <= minimum if strict else x < minimum):
        raise InputError(
            field, f"must be {'>' if strict else '>='} {minimum:g}{suffix}", value=value
        )
    if maximum is not None and x > maximum:
        raise InputError(field, f"must be <= {maximum:g}{suffix}", value=value)
    return x


def require_int(
    field: str, value: object, *, minimum: int | None = None, whole_floats: bool = True
) -> int:
    """``value`` as an int of at least ``minimum``, or :class:`InputError` naming ``field``.

    Bools are rejected (``True`` is not a count). ``whole_floats``: accept a float with no
    fractional part (``1e3`` from a file) and return it as an int; records that keep the
    value as given pass False, so that a float never slips through.
    """
    if isinstance(value, float) and whole_floats and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(field, "must be an integer", value=value)
    if minimum is not None and value < minimum:
        raise InputError(field, f"must be an integer >= {minimum}", value=value)
    return value
