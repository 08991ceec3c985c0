"""Fuzz the CLI with random and mutated scenarios: every run ends with exit 0, 1 or 2, never
a traceback or an "internal error" (exit 3), and never prints NaN or infinity.

Scenarios start from the example files (parsed YAML), shrunk to a few hundred GPUs so that
each run is cheap, then mutated: keys dropped, renamed or added, values replaced by junk of
every type (negative, zero, huge, float, string, NaN, unknown catalog ids), numbers scaled,
the text damaged (duplicated keys, truncation, stray characters, random bytes) and ``--set``
overrides with junk. Hypothesis runs derandomized (the same examples on every run, so CI is
deterministic); the four tests together run 1,600 scenarios.

Set ``COLOSSIM_FUZZ_SCALE=10`` to run ten times as many examples (exploration, not CI).
"""

from __future__ import annotations

import copy
import json
import os
import re
from importlib import resources
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from colossim.catalog import load_catalog
from colossim.cli.main import main
from colossim.yamlio import load_yaml

SCALE = max(1, int(os.environ.get("COLOSSIM_FUZZ_SCALE", "1")))


def _settings(n: int) -> settings:
    return settings(
        max_examples=n * SCALE,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


EXAMPLES_DIR = Path(str(resources.files("colossim").joinpath("examples")))

SMALL = {
    "name": "small",
    "cluster": {"gpu": "h100-sxm-80gb", "num_gpus": 64},
    "workload": {"model": "llama3-8b", "tokens": 1e12, "seq_len": 8192, "global_batch": 128},
    "plan": {
        "tp": 1,
        "pp": 1,
        "dp": 64,
        "micro_batch": 1,
        "recompute": "selective",
        "sharding": "zero1",
    },
}


def _shrunk(data: dict, *, num_gpus: int) -> dict:
    """An example cut down to ``num_gpus`` GPUs, a matching batch and a fixed plan."""
    d = copy.deepcopy(data)
    parts = d["cluster"].get("partitions")
    if parts:  # a mixed cluster: the same GPU types, whole NVL72 racks each
        racks = num_gpus // 72
        for i, part in enumerate(parts):
            share = racks // len(parts)
            part["num_gpus"] = 72 * (racks - share * (len(parts) - 1) if i == 0 else share)
        d["cluster"].pop("num_gpus", None)
    else:
        d["cluster"]["num_gpus"] = num_gpus
    d["workload"]["global_batch"] = num_gpus
    d["workload"].pop("global_batch_tokens", None)
    d["plan"] = {"tp": 8, "pp": 1, "dp": num_gpus // 8, "micro_batch": 1}
    d.get("reliability", {}).pop("spare_nodes", None)
    return d


def _bases() -> list[dict]:
    bases = [SMALL]
    for path in sorted(EXAMPLES_DIR.glob("*.yaml")):
        data, _ = load_yaml(path.read_text(encoding="utf-8"), filename=path.name)
        bases.append(_shrunk(data, num_gpus=576))  # 576 = 8 x 72: whole HGX nodes and NVL72 racks
    return bases


BASES = _bases()

_GPUS = list(load_catalog("gpus"))
_MODELS = list(load_catalog("models"))
# Cheap commands only; `plan` and `search` run on the shrunk clusters (or are skipped below).
_COMMANDS = ["estimate", "estimate", "fabric", "plan", "search"]

_JUNK_WORDS = [
    "h100-sxm-80gbx", "gpt-5", "gb300", "search", "size", "bf16", "fp4", "1e9", "15e12",
    "zero3", "none", "yes", "0x10", "1_000", "", " ", "-", "~", "é", "rail_fat_tree", "null",
]  # fmt: skip
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.sampled_from([0, -1, 1, 3, 7, 2**31, 2**53 + 1, 2**63, 2**64, 10**30, -(10**30)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [0.0, -0.0, 0.5, 1e-300, 5e-324, 1e300, 1.7976931348623157e308, 1e-9, 0.999999]
    ),
    st.text(max_size=12),
    st.sampled_from(_JUNK_WORDS + _GPUS + _MODELS),
    st.lists(st.integers(-5, 5), max_size=3),
    st.dictionaries(st.sampled_from(["a", "tp", "gpu", "1"]), st.integers(-3, 3), max_size=2),
)
_SCALERS = [
    lambda x: -x,
    lambda x: 0,
    lambda x: x * 1000,
    lambda x: x * 10**12,
    lambda x: x + 0.5,
    lambda x: x - 1,
    lambda x: str(x),
    lambda x: float(x) / 3,
    lambda x: [x],
]

_BAD_WORDS = re.compile(r"(?<![A-Za-z0-9_])[-+]?(nan|inf|infinity)(?![A-Za-z0-9_])", re.IGNORECASE)


def _paths(data: object, prefix: tuple = ()) -> list[tuple]:
    out: list[tuple] = []
    if isinstance(data, dict):
        for k, v in data.items():
            out.append((*prefix, k))
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out.append((*prefix, i))
            out.extend(_paths(v, (*prefix, i)))
    return out


def _parent(data: dict, path: tuple) -> object:
    cur: object = data
    for p in path[:-1]:
        cur = cur[p]  # type: ignore[index]
    return cur


@st.composite
def mutated(draw: st.DrawFn) -> dict:
    """A base scenario with 1 to 4 structural mutations."""
    data = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 4]))):
        paths = _paths(data)
        op = draw(st.sampled_from(["drop", "rename", "set", "set", "add", "scale", "scale"]))
        if not paths or not isinstance(data, dict):
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(data, path)
        key = path[-1]
        if op == "drop":
            del parent[key]  # type: ignore[union-attr]
        elif op == "rename" and isinstance(parent, dict):
            new = draw(
                st.one_of(
                    st.text(min_size=1, max_size=10),
                    st.just(f"{key}s"),
                    st.just(str(key)[:-1] or "x"),
                )
            )
            parent[new] = parent.pop(key)
        elif op == "set":
            parent[key] = draw(JUNK)  # type: ignore[index]
        elif op == "add" and isinstance(parent, dict):
            target = parent[key] if isinstance(parent[key], dict) else parent
            target[draw(st.text(min_size=1, max_size=8))] = draw(JUNK)
        elif op == "scale":
            numeric = [
                p
                for p in paths
                if isinstance(_parent(data, p)[p[-1]], int | float)
                and not isinstance(_parent(data, p)[p[-1]], bool)
            ]  # type: ignore[index]
            if numeric:
                p = draw(st.sampled_from(numeric))
                holder = _parent(data, p)
                holder[p[-1]] = draw(st.sampled_from(_SCALERS))(holder[p[-1]])  # type: ignore[index]
    return data


def _dump(data: object) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _num_gpus(data: object) -> int | None:
    try:
        n = data["cluster"]["num_gpus"]  # type: ignore[index]
    except (KeyError, TypeError, IndexError):
        return None
    return n if isinstance(n, int) and not isinstance(n, bool) else None


def _command(draw: st.DrawFn, data: object) -> str:
    cmd = draw(st.sampled_from(_COMMANDS))
    n = _num_gpus(data)
    if cmd in ("plan", "search") and (n is None or n > 4096):
        return "fabric"  # keep the search cheap: it is fuzzed on small clusters only
    return cmd


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _run_and_check(path: Path, args: list[str], *, strings: tuple[str, ...] = ()) -> int:
    """Run ``colossim <args>`` and assert the CLI contract; return the exit code."""
    cmd = f"colossim {' '.join(args)}"
    result = CliRunner().invoke(main, args)
    out = f"{cmd}\n{result.output}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        tb = "".join(traceback.format_exception(result.exception))
        pytest.fail(f"uncaught exception:\n{tb}\n{out}")
    assert result.exit_code in (0, 1, 2), f"exit {result.exit_code}:\n{out}"
    assert "Traceback" not in out, out
    assert "internal error" not in out, out
    if result.exit_code == 2:  # bad input: at least one "error: ..." line naming the problem
        assert any(line.startswith("error: ") for line in result.stderr.splitlines()), out
        assert not re.search(r"^0 errors", result.stderr, re.MULTILINE), out
        return result.exit_code
    if "--format" in args and args[args.index("--format") + 1] == "json" and result.stdout.strip():

        def reject(token: str) -> float:
            raise AssertionError(
                f"non-finite number {token} in JSON output of {cmd}:\n{result.stdout}"
            )

        json.loads(result.stdout, parse_constant=reject)
    else:
        text = result.output
        for s in strings:  # the scenario's own free text may contain any word
            if s:
                text = text.replace(s, "")
        bad = _BAD_WORDS.search(text)
        assert bad is None, f"{bad.group(0)!r} in output:\n{out}"
    return result.exit_code


def _strings(data: object) -> tuple[str, ...]:
    if not isinstance(data, dict):
        return ()
    return tuple(str(data.get(k, "")) for k in ("name", "description"))


@_settings(700)
@given(data=mutated(), fmt=st.sampled_from(["json", "json", "text"]), choice=st.data())
def test_mutated_scenarios(workdir: Path, data: dict, fmt: str, choice: st.DataObject) -> None:
    path = workdir / "mutated.yaml"
    text = _dump(data)
    path.write_text(text, encoding="utf-8")
    note(text)
    cmd = _command(choice.draw, data)
    _run_and_check(path, [cmd, str(path), "--format", fmt], strings=_strings(data))


@st.composite
def damaged_text(draw: st.DrawFn) -> bytes:
    """A base scenario's YAML text, damaged at the text level (or replaced by random bytes)."""
    text = _dump(draw(st.sampled_from(BASES)))
    lines = text.splitlines(keepends=True)
    op = draw(
        st.sampled_from(
            ["duplicate", "duplicate", "truncate", "insert", "delete", "indent", "bytes", "text"]
        )
    )
    if op == "duplicate":  # the same key twice in one mapping
        keyed = [i for i, line in enumerate(lines) if ":" in line]
        i = draw(st.sampled_from(keyed))
        value = draw(st.sampled_from(["", " 1", " -1", " x", " {}", " [1"]))
        dup = (
            lines[i].split(":", 1)[0]
            + ":"
            + (value or lines[i].split(":", 1)[1].rstrip("\n"))
            + "\n"
        )
        lines.insert(i + draw(st.integers(1, 3)), dup)
        text = "".join(lines)
    elif op == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    elif op == "insert":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(min_size=1, max_size=4)) + text[at:]
    elif op == "delete":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + text[at + draw(st.integers(1, 20)) :]
    elif op == "indent":
        i = draw(st.integers(0, len(lines) - 1))
        lines[i] = draw(st.sampled_from(["", " ", "   ", "\t"])) + lines[i].lstrip(" ")
        text = "".join(lines)
    elif op == "bytes":
        return draw(st.binary(max_size=200))
    else:
        text = draw(st.text(max_size=200))
    return text.encode("utf-8", errors="surrogatepass")


@_settings(300)
@given(
    raw=damaged_text(),
    fmt=st.sampled_from(["json", "text"]),
    cmd=st.sampled_from(["estimate", "fabric", "plan"]),
)
def test_damaged_text(workdir: Path, raw: bytes, fmt: str, cmd: str) -> None:
    path = workdir / "damaged.yaml"
    path.write_bytes(raw)
    note(repr(raw))
    try:
        data, _ = load_yaml(raw.decode("utf-8"), filename="x")
    except Exception:  # noqa: BLE001 - undecodable or invalid: the CLI must say so (exit 2)
        data = None
    if cmd == "plan" and (_num_gpus(data) or 0) > 4096:
        cmd = "fabric"
    _run_and_check(path, [cmd, str(path), "--format", fmt], strings=_strings(data))


_OVERRIDE_PATHS = sorted({".".join(map(str, p)) for b in BASES for p in _paths(b)})
_OVERRIDE_VALUES = [
    "-1", "0", "1", "8", "1e999", "-.inf", ".nan", ".NaN", "[1,2", "{a: 1}", "null", "~", "'x'",
    "h100", "search", "1e9", "99999999999999999999999", "2.5", "true", "[]", "{}", "", "=",
    "a: b: c", "&a [*a]", "!!python/object:os.system", "'", "\t", "1_0", "0o17", "0x1F",
]  # fmt: skip


@st.composite
def overrides(draw: st.DrawFn) -> list[str]:
    items = []
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.one_of(st.sampled_from(_OVERRIDE_PATHS), st.text(max_size=12), st.just("")))
        value = draw(st.one_of(st.sampled_from(_OVERRIDE_VALUES), st.text(max_size=10)))
        sep = draw(st.sampled_from(["=", "=", "=", "", "==", " = "]))
        items.append(f"{path}{sep}{value}")
    return items


@_settings(300)
@given(
    items=overrides(),
    base=st.sampled_from(BASES),
    cmd=st.sampled_from(["estimate", "fabric", "plan"]),
)
def test_set_overrides(workdir: Path, items: list[str], base: dict, cmd: str) -> None:
    path = workdir / "override.yaml"
    path.write_text(_dump(base), encoding="utf-8")
    args = [cmd, str(path), "--format", "json"]
    for item in items:
        args += ["--set", item]
    if cmd == "plan":  # a --set may grow the cluster; the search is fuzzed on small ones only
        args += ["--set", "cluster.num_gpus=576"]
    _run_and_check(path, args, strings=_strings(base))


@st.composite
def plausible(draw: st.DrawFn) -> tuple[dict, str]:
    """A well-formed small scenario with random catalog ids and sizes, and a command."""
    tp = draw(st.sampled_from([1, 2, 4, 8]))
    pp = draw(st.sampled_from([1, 2, 4]))
    cp = draw(st.sampled_from([1, 1, 2]))
    dp = draw(st.sampled_from([1, 2, 8, 16, 64]))
    micro_batch = draw(st.sampled_from([1, 2, 4]))
    # mostly consistent layouts (so that the model runs), sometimes not (exit 2)
    num_gpus = draw(st.sampled_from([tp * pp * dp * cp] * 4 + [8, 72, 1000]))
    global_batch = draw(st.sampled_from([dp * micro_batch * k for k in (1, 2, 8)] * 2 + [1, 1000]))
    data = {
        "name": "plausible",
        "cluster": {"gpu": draw(st.sampled_from(_GPUS)), "num_gpus": num_gpus},
        "workload": {
            "model": draw(st.sampled_from(_MODELS)),
            "tokens": draw(st.sampled_from([1e9, 1e12, 15e12])),
            "seq_len": draw(st.sampled_from([1, 512, 4096, 8192, 8192, 131072])),
            "global_batch": global_batch,
            "precision": draw(st.sampled_from(["bf16", "fp16", "fp8", "mxfp8", "fp4"])),
            "framework": draw(st.sampled_from(["megatron", "torchtitan", "nemo"])),
        },
        "plan": {
            "tp": tp,
            "pp": pp,
            "dp": dp,
            "cp": cp,
            "ep": draw(st.sampled_from([1, 1, 2, 8])),
            "micro_batch": micro_batch,
            "recompute": draw(st.sampled_from(["none", "selective", "full"])),
            "sharding": draw(st.sampled_from(["none", "zero1", "zero2", "zero3"])),
        },
    }
    if draw(st.booleans()):
        data["facility"] = {
            "grid_mw": draw(st.sampled_from([0.5, 5, 50])),
            "pue": draw(st.sampled_from([1.0, 1.2, 3.0])),
        }
    cmd = draw(st.sampled_from(["estimate", "estimate", "fabric", "plan", "power", "cost"]))
    return data, cmd


@_settings(300)
@given(case=plausible(), fmt=st.sampled_from(["json", "text"]))
def test_plausible_scenarios(workdir: Path, case: tuple[dict, str], fmt: str) -> None:
    data, cmd = case
    path = workdir / "plausible.yaml"
    text = _dump(data)
    path.write_text(text, encoding="utf-8")
    note(text)
    _run_and_check(path, [cmd, str(path), "--format", fmt], strings=_strings(data))


def test_bases_run_clean(workdir: Path) -> None:
    # The unmutated bases run, so that mutations start from scenarios that reach the model.
    for base in BASES:
        path = workdir / "base.yaml"
        path.write_text(_dump(base), encoding="utf-8")
        for cmd in ("fabric", "estimate", "plan"):
            code = _run_and_check(path, [cmd, str(path), "--format", "json"])
            assert code == 0, (base["name"], cmd)
