"""Helpers shared by the test files (import as ``from helpers import ...``; pytest puts
``tests/`` on the import path)."""

from __future__ import annotations

import json

from click.testing import CliRunner, Result

from colossim.cli.main import main

# A small scenario with a fixed plan: 64 H100, Llama 3 8B, DP 64.
SMALL_SCENARIO = """\
name: t
cluster:
  gpu: h100-sxm-80gb
  num_gpus: 64
workload:
  model: llama3-8b
  tokens: 1e12
  seq_len: 8192
  global_batch: 128
plan: {tp: 1, pp: 1, dp: 64, micro_batch: 1, recompute: selective, sharding: zero1}
"""


def cli(*args: str, catch: bool = False) -> Result:
    """Run ``colossim ARGS`` in-process (``catch``: let click turn exceptions into a
    result instead of raising them)."""
    return CliRunner().invoke(main, list(args), catch_exceptions=catch)


def cli_json(*args: str) -> dict | list:
    """``colossim ARGS --format json``, which must exit 0; its parsed stdout."""
    res = cli(*args, "--format", "json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)
