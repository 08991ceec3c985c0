"""Every catalog figure has a source; the loader rejects unknown ids clearly."""

from __future__ import annotations

from importlib import resources

import pytest

from colossim.catalog import load_catalog, lookup
from colossim.errors import InputError
from colossim.hardware import gpu, gpu_ids

CATALOGS = sorted(
    p.name.removesuffix(".yaml")
    for p in resources.files("colossim.catalog").iterdir()
    if p.name.endswith(".yaml")
)

REQUIRED_GPUS = [
    "a100-sxm-40gb", "a100-sxm-80gb", "h100-sxm-80gb", "h100-sxm-96gb-500w", "h100-sxm-95gb-lowtdp",
    "h800-sxm-80gb", "h200-sxm-141gb", "b200", "gb200", "gb300", "mi300x",
]  # fmt: skip


def _numeric_fields(values: dict) -> list[str]:
    """Top-level fields holding a number or a mapping/list containing numbers."""

    def has_number(v: object) -> bool:
        if isinstance(v, bool):
            return False
        if isinstance(v, int | float):
            return True
        if isinstance(v, dict):
            return any(has_number(x) for x in v.values())
        if isinstance(v, list):
            return any(has_number(x) for x in v)
        return False

    return [str(k) for k, v in values.items() if has_number(v)]


@pytest.mark.parametrize("name", CATALOGS)
def test_every_figure_has_a_source(name: str) -> None:
    for entry_id, entry in load_catalog(name).items():
        assert entry.source.strip(), f"{name}:{entry_id} has an empty source"
        for field in _numeric_fields(entry.values):
            assert entry.source_of(field).strip(), f"{name}:{entry_id}.{field} has no source"
        for field in entry.sources:
            assert field in entry.values, f"{name}:{entry_id}: source for unknown field {field!r}"


def test_required_gpus_present_with_positive_specs() -> None:
    for gid in REQUIRED_GPUS:
        g = gpu(gid)
        assert g.peak("bf16") > 1e14 and g.hbm_bytes > 1e10 and g.hbm_bw_bytes_per_s > 1e12
        assert g.scaleup_domain in (8, 72) and g.nic_bw_bytes_per_s > 0 and g.tdp_w > 0
    assert gpu("gb200").scaleup_domain == 72 and gpu("h100-sxm-80gb").scaleup_domain == 8
    assert gpu("b200").peak("fp4") > gpu("b200").peak("fp8") > gpu("b200").peak("bf16")
    assert set(REQUIRED_GPUS) <= set(gpu_ids())


def test_unknown_gpu_names_field_and_suggests() -> None:
    with pytest.raises(InputError) as e:
        lookup("gpus", "h100-sxm-80g", field="cluster.gpu")
    msg = e.value.message()
    assert "cluster.gpu" in msg and "h100-sxm-80g" in msg and "did you mean 'h100-sxm-80gb'" in msg


POWER_CAP_FIELDS = ("gemm_power_w",)


def test_power_capped_gpus_carry_their_power_figures_with_a_source() -> None:
    """tdp_w is the cap; the uncapped GEMM power cites a source."""
    capped = {k: e for k, e in load_catalog("gpus").items() if e.values.get("power_capped")}
    assert {"h100-sxm-96gb-500w", "h100-sxm-95gb-lowtdp"} <= set(capped)
    for gid, entry in capped.items():
        for field in POWER_CAP_FIELDS:
            assert entry.values[field] > 0 and entry.sources.get(field, "").strip(), (gid, field)
        assert entry.values["gemm_power_w"] > entry.values["tdp_w"], gid
        g = gpu(gid)
        assert 0 < g.static_power_w < g.tdp_w < g.gemm_power_w


@pytest.mark.parametrize("missing", POWER_CAP_FIELDS)
def test_power_capped_entry_without_its_figures_names_the_field(missing: str) -> None:
    from colossim.hardware.gpu import _power_cap_figures

    values = dict(load_catalog("gpus")["h100-sxm-96gb-500w"].values)
    values[missing] = None
    with pytest.raises(InputError) as e:
        _power_cap_figures("h100-sxm-96gb-500w", values)
    assert f"gpus.h100-sxm-96gb-500w.{missing}" in e.value.message()
    values[missing] = load_catalog("gpus")["h100-sxm-96gb-500w"].values[missing]
    values["gemm_power_w"] = values["tdp_w"]  # no power above the cap: nothing to throttle
    with pytest.raises(InputError, match="< tdp_w \\(the cap\\) < gemm_power_w"):
        _power_cap_figures("h100-sxm-96gb-500w", values)


def test_missing_precision_is_clear() -> None:
    with pytest.raises(InputError, match="no fp8"):
        gpu("a100-sxm-80gb").peak("fp8")


def test_sources_are_followable_from_the_repository() -> None:
    """No file points at the out-of-repo fact base; the source keys the catalog cites
    (S-ACC, NCCL-TESTS-290, ...) each have an entry in docs/sources.md."""
    import re
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    sources = (repo / "docs" / "sources.md").read_text(encoding="utf-8")
    keys = set(re.findall(r"^### ([A-Z0-9][A-Z0-9-]+)$", sources, flags=re.M))
    assert len(keys) > 20
    offenders = []
    for path in [*repo.glob("src/colossim/**/*.*"), *repo.glob("docs/*.md"), repo / "README.md"]:
        if path.suffix not in (".py", ".yaml", ".md") or path.name == "test_examples.py":
            continue
        text = path.read_text(encoding="utf-8")
        if "facts.md" in text:
            offenders.append(str(path.relative_to(repo)))
    assert not offenders, offenders
    catalog = "\n".join(
        p.read_text(encoding="utf-8") for p in (repo / "src/colossim/catalog").glob("*.yaml")
    )
    # Keys as the catalog writes them: capitals with a hyphen (S-ACC, TESLA-MEGAPACK).
    cited = set(re.findall(r"\b([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)\b", catalog))
    # Product and model names that look like keys but are not citations.
    names = {"HAI-LLM", "MMS4X00-NS400", "OPT-175B", "QSFP-DD"}
    unknown = {k for k in cited - names if k not in keys and not re.fullmatch(r"[A-Z]{1,3}-\d+", k)}
    assert not unknown, sorted(unknown)
