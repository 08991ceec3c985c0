"""Rules of the house that a reader relies on, checked on the source tree:

- imports run one way, down the layers (leaves import nothing of ours; ``scenario/`` is
  the only place that knows pydantic, ``yamlio`` the only one that knows YAML; ``report/``
  and ``cli/`` import the core and nothing imports them);
- no file above 600 lines, no function above 80 lines without a reason;
- the public CLI surface is pinned, so a change to it is deliberate.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import click
import pytest

import colossim
from colossim.cli.main import main

SRC = Path(colossim.__file__).parent
SURFACE = Path(__file__).parent / "golden" / "cli_surface.json"

# Components (a top-level module or package of colossim), lowest layer first. A module
# may import components of strictly lower layers, and its own component.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("units", "errors"),
    ("yamlio",),
    ("catalog",),
    ("hardware",),
    ("workload",),
    ("cluster",),
    ("parallel",),
    ("fabric",),
    ("perf",),
    ("search", "power", "campaign"),
    ("cost",),
    ("validation",),
    ("scenario",),
    ("pipeline",),
    ("sweep",),
    ("report",),
    ("cli",),
)
RANK = {c: i for i, layer in enumerate(LAYERS) for c in layer}
# Third-party modules only one component may import.
OWNED_IMPORTS = {"pydantic": {"scenario"}, "yaml": {"yamlio"}}

MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 80
# A longer function must say why in a comment starting with this, in its first lines.
LONG_MARKER = "# LONG:"


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        out.append((rel.parts[0].removesuffix(".py"), path))
    return out


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every absolute module imported by ``path`` (top level and inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, node.lineno))
    return found


def test_every_component_has_a_layer() -> None:
    components = {c for c, p in _modules() if c != "__init__"}
    assert components <= set(RANK), f"add to LAYERS: {sorted(components - set(RANK))}"


def test_imports_run_down_the_layers() -> None:
    bad = []
    for component, path in _modules():
        if component == "__init__":  # the package facade re-exports the public API
            continue
        for module, line in _imports(path):
            parts = module.split(".")
            where = f"{path.relative_to(SRC)}:{line} imports {module}"
            if parts[0] in OWNED_IMPORTS and component not in OWNED_IMPORTS[parts[0]]:
                bad.append(where)
            if parts[0] != "colossim":
                continue
            if len(parts) == 1:
                # `from colossim import __version__`: the facade, for rendering only.
                if component not in ("report", "cli"):
                    bad.append(where)
                continue
            target = parts[1]
            if target == component:
                continue
            if RANK.get(target, len(LAYERS)) >= RANK[component]:
                bad.append(where)
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_files_and_functions_stay_readable() -> None:
    bad = []
    for _, path in _modules():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        rel = path.relative_to(SRC)
        if len(lines) > MAX_FILE_LINES:
            bad.append(f"{rel}: {len(lines)} lines (max {MAX_FILE_LINES})")
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            n = node.end_lineno - node.lineno + 1
            if n <= MAX_FUNCTION_LINES:
                continue
            head = lines[node.lineno - 1 : node.lineno + 12]
            if not any(LONG_MARKER in h for h in head):
                bad.append(f"{rel}:{node.lineno} {node.name}: {n} lines (max {MAX_FUNCTION_LINES})")
    assert not bad, "split these (or give the reason in a '# LONG:' comment):\n" + "\n".join(bad)


def _surface(cmd: click.Command, prefix: str = "colossim") -> dict:
    """Every command, argument and option (names, flags, type, default) under ``cmd``."""
    params = []
    for p in cmd.params:
        entry = {
            "name": p.name,
            "kind": type(p).__name__,
            "opts": sorted(p.opts + p.secondary_opts),
        }
        entry["type"] = getattr(p.type, "name", str(p.type))
        if isinstance(p.type, click.Choice):
            entry["choices"] = list(p.type.choices)
        # Only plain defaults: click's "unset" sentinel differs between click versions.
        if isinstance(p.default, int | float | str | bool | tuple):
            entry["default"] = p.default
        params.append(entry)
    out = {prefix: params}
    if isinstance(cmd, click.Group):
        for name, sub in sorted(cmd.commands.items()):
            out.update(_surface(sub, f"{prefix} {name}"))
    return out


def test_cli_surface_is_pinned() -> None:
    """Adding, removing or renaming a command or option is deliberate: regenerate with
    COLOSSIM_REGEN_EXPECTATIONS=1 and review the diff of tests/golden/cli_surface.json."""
    now = json.loads(json.dumps(_surface(main)))  # tuples as lists, as in the file
    if os.environ.get("COLOSSIM_REGEN_EXPECTATIONS") == "1":
        SURFACE.parent.mkdir(exist_ok=True)
        SURFACE.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    pinned = json.loads(SURFACE.read_text(encoding="utf-8"))
    assert now == pinned, "the CLI surface changed: regenerate the golden file if deliberate"


@pytest.mark.parametrize("component", ["report", "cli"])
def test_nothing_imports_the_rendering_layers(component: str) -> None:
    users = [
        f"{path.relative_to(SRC)}"
        for c, path in _modules()
        if c not in ("report", "cli", "__init__")
        for module, _ in _imports(path)
        if module.split(".")[:2] == ["colossim", component]
    ]
    assert not users
