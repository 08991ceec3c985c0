"""What a first-time user trips over (issue #17), checked through the CLI: -v on every
command, Ctrl-C, fixed-plan errors naming the field, a default campaign that never runs
for minutes, a validate row the GPU cannot run, and output files that readers and
concurrent writers only ever see whole."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from colossim.cli.common import write_atomic
from helpers import SMALL_SCENARIO, cli, cli_json


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("first-user") / "small.yaml"
    path.write_text(SMALL_SCENARIO, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "args",
    [
        ["plan"], ["estimate"], ["fabric"], ["power"], ["cost"], ["facility"], ["search"],
        ["campaign", "--trials", "2"], ["compare", "SMALL", "SMALL"],
    ],
)  # fmt: skip
def test_verbose_adds_every_figure_and_quiet_keeps_the_answer(small: Path, args: list) -> None:
    args = [str(small) if a == "SMALL" else a for a in args]
    if args[0] != "compare":
        args.insert(1, str(small))
    normal = cli(*args)
    verbose = cli(*args, "-v")
    quiet = cli(*args, "-q")
    assert normal.exit_code == verbose.exit_code == quiet.exit_code == 0, verbose.output
    assert "All figures" in verbose.stdout and "All figures" not in normal.stdout
    assert len(quiet.stdout) <= len(normal.stdout) < len(verbose.stdout)
    if args[0] != "compare":  # compare's one table is its essential answer
        assert len(quiet.stdout) < len(normal.stdout)
    # The figures are those of --format json: a top-level number of it is listed.
    payload = cli_json(*args)
    payload = payload[0] if isinstance(payload, list) else payload
    key = next(k for k, v in payload.items() if isinstance(v, int | float) and k != "warnings")
    assert key in verbose.stdout


def test_ctrl_c_says_what_was_written(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "colossim.cli.main", "campaign", "gb300-1m", "--trials", "100000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        # A pytest started in the background by a non-interactive shell ignores SIGINT,
        # and a child inherits that: give the command the default disposition, as a
        # terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = err.decode().strip().splitlines()
    assert lines and "interrupted" in lines[-1] and "written" in lines[-1]
    assert "Traceback" not in err.decode()


@pytest.mark.parametrize(
    ("plan", "field"),
    [
        ("{tp: 8, pp: 64, vp: 4, dp: 1}", "plan.vp"),  # pp * vp above the 32 layers
        ("{tp: 8, pp: 64, dp: 1}", "plan.pp"),
        ("{tp: 1, pp: 1, dp: 512, ep: 2}", "plan.ep"),  # a dense model
        ("{tp: 8, pp: 1, dp: 64, micro_batch: 3}", "plan.micro_batch"),  # 512 % 192
    ],
)
def test_fixed_plan_errors_name_the_field_at_fault(tmp_path: Path, plan: str, field: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        SMALL_SCENARIO.replace("num_gpus: 64", "num_gpus: 512")
        .replace("global_batch: 128", "global_batch: 512")
        .replace(SMALL_SCENARIO.splitlines()[-1], f"plan: {plan}"),
        encoding="utf-8",
    )
    res = cli("estimate", str(path), "--format", "json", catch=True)
    assert res.exit_code == 2, res.output
    errors = json.loads(res.stdout)["errors"]
    assert [e["field"] for e in errors] == [field]
    assert f"{path}:" in res.stderr  # located in the file


def test_default_campaign_never_runs_for_minutes() -> None:
    """A 100,000-day window on 1M GPUs: ~48M interruptions per trial (it ran for minutes
    with the 20-trial floor). `campaign` refuses it naming the window unless --trials
    insists; `plan` skips the campaign with a note."""
    t0 = time.perf_counter()
    res = cli("campaign", "gb300-1m", "--set", "reliability.window_days=100000", catch=True)
    assert res.exit_code == 2 and "reliability.window_days" in res.stderr, res.output
    assert "--trials" in res.stderr
    out = cli_json("plan", "gb300-1m", "--set", "reliability.window_days=100000")
    assert out["with_failures"] is None or "skipped" in json.dumps(out)
    assert time.perf_counter() - t0 < 30


def test_fp8_row_on_an_a100_is_counted_with_its_reason(tmp_path: Path, published_csv) -> None:
    import csv

    with Path(published_csv).open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))[:3]
    rows[0] = {**rows[0], "gpu": "a100-sxm-80gb", "precision": "fp8"}
    path = tmp_path / "runs.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    out = cli_json("validate", str(path), "--no-search-check")
    assert out["summary"]["rows"] == 3 and out["summary"]["predicted"] == 2
    assert any("fp8" in (r.get("reason") or "") for r in out["rows"])


def test_concurrent_writers_and_readers_only_see_whole_files(tmp_path: Path) -> None:
    """Two writers replace one file over and over while a reader reads it: every read is
    one writer's whole content (it was 0 B, a mix, or cut at 2 MiB when written in place)."""
    target = tmp_path / "report.html"
    contents = ["a" * 3_000_000, "b" * 2_000_000]
    write_atomic(target, contents[0])
    stop = threading.Event()
    seen: list[tuple[int, set]] = []

    def writer(text: str) -> None:
        for _ in range(15):
            write_atomic(target, text)

    def reader() -> None:
        while not stop.is_set():
            text = target.read_text()
            seen.append((len(text), set(text)))

    threads = [threading.Thread(target=writer, args=(c,)) for c in contents]
    watch = threading.Thread(target=reader)
    watch.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watch.join()
    whole = {(len(c), frozenset(c)) for c in contents}
    assert seen and all((n, frozenset(chars)) in whole for n, chars in seen)
    assert (len(target.read_text()), frozenset(target.read_text())) in whole
    assert not list(tmp_path.glob(".*.tmp"))


def test_plan_says_when_trials_were_cut_and_runs_do_not_finish(small: Path) -> None:
    """1,000x the failure rate: each trial draws many interruptions, so the default trial
    count is cut (said in the main output, not only on stderr), and no run finishes
    within the horizon (said so, instead of "3,650.0 days with failures")."""
    sets = [
        "--set",
        "reliability.failure_rate_multiplier=1000",
        "--set",
        "reliability.spare_nodes=8",
    ]
    text = cli("plan", str(small), *sets)
    assert text.exit_code == 0, text.output
    assert "cut to bound the work" in text.stdout and "do not finish within" in text.stdout
    assert "3,650.0 days with failures" not in text.stdout
    out = cli_json("plan", str(small), *sets)["with_failures"]
    assert out["trials"] < out["trials_requested"] and out["fraction_finished"] < 0.5


def test_markup_in_a_model_name_and_csv_ids_prints_as_written(
    tmp_path: Path, published_csv
) -> None:
    import csv

    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        SMALL_SCENARIO.replace(
            "model: llama3-8b",
            "model: {name: 'm[/][bold]', layers: 8, hidden: 1024, heads: 8, ffn_hidden: 4096, vocab: 32000}",
        ),
        encoding="utf-8",
    )
    res = cli("estimate", str(scenario), catch=True)
    assert res.exit_code == 0 and "m[/][bold]" in res.stdout, res.output
    with Path(published_csv).open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))[:2]
    rows[0] = {**rows[0], "id": "a[/]b", "framework": "x[/]"}
    rows[1] = {**rows[1], "gpu": "[/]"}
    path = tmp_path / "runs.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    res = cli("validate", str(path), "--no-search-check", catch=True)
    assert res.exit_code == 0 and "a[/]b" in res.stdout, res.output


@pytest.mark.skipif(not Path("/usr/bin/script").exists(), reason="needs script(1) for a tty")
def test_progress_with_count_and_eta_on_a_terminal_only(small: Path) -> None:
    """compare over several scenarios shows a bar with the count and an ETA on a terminal
    (here a pseudo-terminal from script(1)); piped, stderr carries no bar."""
    import os
    import shlex

    cmd = [sys.executable, "-m", "colossim.cli.main", "compare", str(small), str(small), "--no-campaign"]  # fmt: skip
    env = {**os.environ, "COLUMNS": "120"}
    tty = subprocess.run(
        ["/usr/bin/script", "-qec", shlex.join(cmd), "/dev/null"],
        capture_output=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    shown = tty.stdout.decode(errors="replace")
    assert tty.returncode == 0, shown
    assert "ETA" in shown and "/2" in shown and "scenarios" in shown
    piped = subprocess.run(cmd, capture_output=True, env=env, timeout=300, check=False)
    assert piped.returncode == 0 and "ETA" not in piped.stderr.decode()
