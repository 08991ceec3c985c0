"""Constraints of a sweep: small boolean expressions over the axis names, parsed with
:mod:`ast` and evaluated by walking a whitelist of node types (never ``eval``).

Grammar (a subset of Python expressions)::

    gpus >= 1024 and not (gpu == 'h100-sxm-80gb' and nic_gbit_per_s == 800)
    battery_units in (0, 10, 100) or grid_mw / gpus * 1e6 > 1200

Allowed: names of axes, numbers, strings, booleans, ``None``, tuples/lists of those,
``and or not``, comparisons (``== != < <= > >= in not in``), arithmetic
(``+ - * / // % **``, unary ``-``), and ``a if cond else b``. Anything else (calls,
attributes, subscripts, comprehensions, lambdas) is rejected when the spec is read.
"""

from __future__ import annotations

import ast
import operator
from dataclasses import dataclass
from typing import Any

from colossim.errors import InputError, did_you_mean

__all__ = ["Constraint", "parse_constraint"]

_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
# Exponents above this are refused at evaluation (2 ** 10**9 would hang the sweep).
_MAX_EXPONENT = 1_000
_ALLOWED = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.Compare,
    ast.BinOp,
    ast.IfExp,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Tuple,
    ast.List,
    *_COMPARE,
    *_BINARY,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Constraint:
    """One parsed constraint: a point is kept when it evaluates true.

    Attributes:
        text: the expression as written.
        field: where it is in the spec (``constraints[0]``), for messages.
        location: ``file:line:col`` of it in the spec file, if known.
    """

    text: str
    field: str
    location: str | None
    tree: ast.Expression

    def holds(self, values: dict[str, Any]) -> bool:
        """Whether the point with these axis values passes (an error in evaluation,
        such as a division by zero or comparing a string with a number, raises
        :class:`InputError` naming the constraint)."""
        try:
            return bool(_eval(self.tree.body, values))
        except InputError:
            raise
        except (ArithmeticError, TypeError, ValueError) as exc:
            raise InputError(
                self.field,
                f"cannot evaluate {self.text!r} at {values}: {exc}",
                location=self.location,
            ) from None


def parse_constraint(
    text: object, *, names: tuple[str, ...], field: str, location: str | None = None
) -> Constraint:
    """Parse and check one constraint expression over the axis ``names``.

    Raises:
        InputError: not a string, a syntax error, an unknown name or a construct
            outside the whitelist.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError(
            field,
            "must be a non-empty expression string",
            value=text,
            location=location,
            fix="e.g. \"gpus >= 1024 and gpu != 'h100-sxm-80gb'\"",
        )
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise InputError(field, f"syntax error: {exc.msg}", value=text, location=location) from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise InputError(
                field,
                f"{type(node).__name__} is not allowed in a constraint",
                value=text,
                location=location,
                fix="use axis names, constants, and/or/not, comparisons and arithmetic",
            )
        if isinstance(node, ast.Name) and node.id not in names:
            raise InputError(
                field,
                f"unknown name {node.id!r}",
                value=text,
                location=location,
                fix=f"{did_you_mean(node.id, names)}axis names: {', '.join(names)}",
            )
    return Constraint(text=text, field=field, location=location, tree=tree)


def _eval(node: ast.AST, env: dict[str, Any]) -> Any:
    """Evaluate a whitelisted node (checked by :func:`parse_constraint`)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.Tuple | ast.List):
        return tuple(_eval(e, env) for e in node.elts)
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            return all(_eval(v, env) for v in node.values)
        return any(_eval(v, env) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        x = _eval(node.operand, env)
        if isinstance(node.op, ast.Not):
            return not x
        return -x if isinstance(node.op, ast.USub) else +x
    if isinstance(node, ast.IfExp):
        return _eval(node.body if _eval(node.test, env) else node.orelse, env)
    if isinstance(node, ast.BinOp):
        a, b = _eval(node.left, env), _eval(node.right, env)
        if isinstance(node.op, ast.Pow) and abs(b) > _MAX_EXPONENT:
            raise ValueError(f"exponent {b} too large")
        return _BINARY[type(node.op)](a, b)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _eval(right_node, env)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    raise TypeError(f"{type(node).__name__} is not allowed")  # unreachable after parsing
