"""``--executor ray`` gives the table the local executor gives (one local Ray instance
for the module; skipped only where ``ray`` is not installed, and CI installs it)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from colossim.errors import InputError
from colossim.report.sweep import POINT_OUTPUTS
from colossim.sweep import load_spec, read_sweep, run_sweep
from helpers import SMALL_SCENARIO, cli_json

ray = pytest.importorskip("ray")

SPEC = """\
name: ray-tiny
base: base.yaml
axes:
  cluster.nic_gbit_per_s: [200, 400]
  workload.tokens: {values: [1.0e12, 2.0e12, 3.0e12], name: tokens}
trials: 4
"""


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _spec(tmp_path: Path) -> str:
    (tmp_path / "base.yaml").write_text(SMALL_SCENARIO, encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(SPEC, encoding="utf-8")
    return str(tmp_path / "spec.yaml")


def _table(db: str) -> list[dict]:
    rows = read_sweep(db).rows
    drop = ("elapsed_s", "finished_at")
    return sorted(
        ({k: v for k, v in r.items() if k not in drop} for r in rows), key=lambda r: r["hash"]
    )


def test_ray_gives_the_local_table(tmp_path: Path, local_ray) -> None:
    path = _spec(tmp_path)
    local, on_ray = str(tmp_path / "local.duckdb"), str(tmp_path / "ray.duckdb")
    run_sweep(load_spec(path), db=local, outputs=POINT_OUTPUTS, workers=1)
    out = cli_json("sweep", path, "--db", on_ray, "--executor", "ray")
    assert out["by_status"] == {"ok": 6}
    assert _table(on_ray) == _table(local)
    assert ray.is_initialized()  # a Ray instance the caller started is left running


def test_ray_missing_is_an_input_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    db = tmp_path / "r.duckdb"
    with pytest.raises(InputError, match="colossim\\[ray\\]"):
        run_sweep(load_spec(_spec(tmp_path)), db=str(db), outputs=POINT_OUTPUTS, executor="ray")
    assert not db.exists()  # refused before the store was created
