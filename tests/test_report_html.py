"""`colossim report`: one offline HTML file, checked as text and in real headless Chromium.

The browser tests need Debian's chromium at /usr/bin/chromium and Python playwright; they
skip without them, unless COLOSSIM_REQUIRE_BROWSER=1 (CI), where they fail.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from colossim.report.html import PLOTLY_MARKER
from helpers import cli

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# 1,024 GPUs, plan searched, a tight grid ramp limit so that a battery is sized (its state
# of charge is plotted), a 10-minute power trace.
SEARCHED = """\
name: small-search
cluster: {gpu: h100-sxm-80gb, num_gpus: 1024}
workload: {model: llama3-8b, tokens: 1e12, seq_len: 8192, global_batch: 512}
plan: search
facility: {grid_mw: 3, grid_ramp_mw_per_s: 0.05, battery: megapack-2xl-2h, battery_units: size,
           trace_duration_s: 600}
"""
# 64 GPUs, fixed plan (no search section), no grid simulation.
FIXED = """\
name: fixed-64
cluster: {gpu: h100-sxm-80gb, num_gpus: 64}
workload: {model: llama3-8b, tokens: 1e12, seq_len: 8192, global_batch: 128}
plan: {tp: 1, pp: 1, dp: 64, micro_batch: 1, recompute: selective, sharding: zero1}
facility: {trace_duration_s: 600}
"""


run = cli


def _write(dirpath: Path, name: str, text: str) -> str:
    p = dirpath / name
    p.write_text(text)
    return str(p)


def _report(out: Path, *args: str) -> tuple[str, dict]:
    r = run("report", *args, "-o", str(out), "--format", "json")
    assert r.exit_code == 0, r.output
    return out.read_text(encoding="utf-8"), json.loads(r.stdout)


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, tuple[Path, str, dict]]:
    """Generated once per module: name -> (path, html, --format json summary)."""
    d = tmp_path_factory.mktemp("reports")
    searched = _write(d, "searched.yaml", SEARCHED)
    fixed = _write(d, "fixed.yaml", FIXED)
    out = {}
    for name, args in {
        "searched+compare": (searched, "--compare", fixed),
        "fixed": (fixed, "--no-campaign"),
        "default": (),
        "roadmap": ("colossus-roadmap", "--no-campaign"),
    }.items():
        path = d / f"{name.replace('+', '_')}.html"
        page, summary = _report(path, *args)
        out[name] = (path, page, summary)
    return out


# ------------------------------------------------------------------ text checks


def _split_bundle(page: str) -> tuple[str, str]:
    """(the embedded plotly.js, the page without it)."""
    start = page.index(PLOTLY_MARKER) + len(PLOTLY_MARKER)
    open_tag = page.index("<script>", start) + len("<script>")
    close_tag = page.index("</script>", open_tag)
    return page[open_tag:close_tag], page[:open_tag] + page[close_tag:]


class _Attrs(HTMLParser):
    """Every tag and attribute of the document (script bodies are data, not tags)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_exactly_one_plotly_bundle(reports) -> None:
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    for _, page, _ in reports.values():
        assert page.count(js[:200]) == 1
        assert page.count(js[-200:]) == 1
        bundle, _ = _split_bundle(page)
        assert bundle == js


def test_no_external_urls(reports) -> None:
    for _, page, _ in reports.values():
        parser = _Attrs()
        parser.feed(page)
        assert parser.tags, "the page parsed to no tags"
        for tag, attrs in parser.tags:
            assert tag not in ("link", "img", "iframe", "base"), tag
            assert not (tag == "script" and "src" in attrs), attrs
            for key in ("src", "href", "action", "data", "srcset", "poster"):
                v = (attrs.get(key) or "").strip().lower()
                assert not v.startswith(("http:", "https:", "//", "ftp:")), (tag, key, v)
        # Outside plotly.js (which carries namespace URIs and licence notices as strings),
        # the page holds no URL at all.
        _, rest = _split_bundle(page)
        assert "http://" not in rest and "https://" not in rest
        assert "@import" not in rest and "url(" not in rest


def _typed_arrays(obj):
    """plotly's base64 typed arrays ({"dtype": ..., "bdata": ...}) inside figure JSON."""
    if isinstance(obj, dict):
        if "bdata" in obj and "dtype" in obj:
            yield obj
        for v in obj.values():
            yield from _typed_arrays(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _typed_arrays(v)


def test_no_nan_or_infinity(reports) -> None:
    import base64

    import numpy as np

    for _, page, _ in reports.values():
        _, rest = _split_bundle(page)
        # Base64 array data may spell "NaN" by chance: check those arrays by value instead.
        text = re.sub(r'"bdata":\s*"[^"]*"', '"bdata":""', rest)
        for bad in ("NaN", "Infinity", ">nan<", ">inf<"):
            assert bad not in text, bad
        for block in re.findall(r'class="figure-data"[^>]*>(.*?)</script>', rest, flags=re.S):
            fig = json.loads(
                block, parse_constant=lambda c: pytest.fail(f"non-finite {c} in figure")
            )
            for arr in _typed_arrays(fig):
                values = np.frombuffer(base64.b64decode(arr["bdata"]), dtype=arr["dtype"])
                assert np.all(np.isfinite(values)), arr["dtype"]


def _meta(page: str, name: str) -> str:
    m = re.search(rf'<meta name="{name}" content="([^"]*)">', page)
    assert m, name
    return m.group(1)


def test_sections_match_features(reports) -> None:
    _, page, summary = reports["searched+compare"]
    assert summary["sections"] == [
        "summary", "time", "memory", "search", "power", "cost", "campaign", "fabric", "compare",
    ]  # fmt: skip
    assert summary["scenarios"] == ["small-search", "fixed-64"]
    # Battery sized under the tight ramp limit: its state of charge is plotted.
    assert '"name":"battery state of charge"' in page
    assert "Timeline of one example trial" in page
    _, page, summary = reports["fixed"]
    # Fixed plan: no search; --no-campaign: no campaign; no grid simulation: no battery.
    assert summary["sections"] == ["summary", "time", "memory", "power", "cost", "fabric"]
    assert '"name":"battery state of charge"' not in page and "No battery state of charge" in page
    assert summary["campaign"] == "campaign not run (--no-campaign)"
    _, page, summary = reports["default"]
    assert summary["scenarios"] == ["colossus-100k-grok1"]
    assert "search" in summary["sections"] and "compare" not in summary["sections"]
    for _, page, summary in reports.values():
        ids = _meta(page, "colossim-sections").split()
        assert ids == summary["sections"]
        assert all(f'<section id="{i}">' in page for i in ids)
        n = int(_meta(page, "colossim-figures"))
        assert n == page.count('<div class="plot"') == page.count('class="figure-data"') > 0


def test_summary_numbers_match_estimate(reports, tmp_path) -> None:
    """The summary shows the same step time as `colossim estimate` (numbers are reused)."""
    _, page, _ = reports["fixed"]
    fixed = _write(tmp_path, "fixed.yaml", FIXED)
    est = json.loads(run("estimate", fixed, "--format", "json").stdout)
    assert f"{est['step_time_s']:,.3f} s" in page
    assert f"{est['tokens_per_s']:,.0f}" in page


# ------------------------------------------------------------------ bad input


def test_bad_input_exit_2(tmp_path) -> None:
    r = run("report", str(tmp_path / "missing.yaml"), "-o", str(tmp_path / "r.html"))
    assert r.exit_code == 2 and "file not found" in r.stderr
    bad = _write(tmp_path, "bad.yaml", "name: [unclosed\n")
    r = run("report", bad, "-o", str(tmp_path / "r.html"))
    assert r.exit_code == 2 and r.stderr.strip()
    assert "Traceback" not in r.output
    fixed = _write(tmp_path, "fixed.yaml", FIXED)
    r = run("report", fixed, "-o", str(tmp_path / "no" / "such" / "dir" / "r.html"))
    assert r.exit_code == 2 and "-o/--output" in r.stderr
    r = run("report", fixed, "-o", str(tmp_path))
    assert r.exit_code == 2 and "is a directory" in r.stderr
    assert not (tmp_path / "r.html").exists()


# ------------------------------------------------------------------ real browser


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module (fresh profile)."""
    required = os.environ.get("COLOSSIM_REQUIRE_BROWSER") == "1"
    missing = None
    if not Path(CHROMIUM).exists():
        missing = f"{CHROMIUM} not found (apt-get install chromium)"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            missing = "python playwright not installed (pip install playwright)"
    if missing:
        if required:
            pytest.fail(f"COLOSSIM_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(f"browser test skipped: {missing}")
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield ctx
        finally:
            ctx.close()


@pytest.mark.parametrize("name", ["searched+compare", "default", "roadmap"])
def test_report_renders_offline_in_chromium(browser, reports, name) -> None:
    path, page_html, _ = reports[name]
    n_figures = int(_meta(page_html, "colossim-figures"))
    errors: list[str] = []
    requests: list[str] = []
    blocked: list[str] = []

    def route(r):
        url = r.request.url
        if url.startswith(("file:", "data:")):
            r.continue_()
        else:
            blocked.append(url)
            r.abort()

    page = browser.new_page()
    try:
        page.route("**/*", route)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri(), wait_until="load")
        page.wait_for_function(
            "n => document.querySelectorAll('.plot .main-svg').length >= n",
            arg=n_figures,
            timeout=30_000,
        )
        rendered = page.evaluate(
            "Array.from(document.querySelectorAll('.plot'))"
            ".map(d => d.querySelectorAll('.main-svg').length > 0"
            " && d.querySelector('.main-svg').getBoundingClientRect().width > 0)"
        )
        title = page.title()
    finally:
        page.close()
    assert len(rendered) == n_figures and all(rendered), rendered
    assert errors == []
    assert blocked == []
    assert requests and all(u.startswith(("file:", "data:")) for u in requests), requests
    assert title.startswith("colossim report:")


# ------------------------------------------------------------------ issue #17 items


def _figures(page: str) -> list[dict]:
    """Every figure's JSON in ``page`` (a whole page or one section of it)."""
    rest = _split_bundle(page)[1] if PLOTLY_MARKER in page else page
    return [
        json.loads(b)
        for b in re.findall(r'class="figure-data"[^>]*>(.*?)</script>', rest, flags=re.S)
    ]


def _figure(page: str, title_start: str) -> dict:
    found = [f for f in _figures(page) if f["layout"]["title"]["text"].startswith(title_start)]
    assert len(found) == 1, title_start
    return found[0]


def _values(v) -> list:
    """A trace's x/y as a list (plotly writes numeric arrays as base64 typed arrays)."""
    import base64

    import numpy as np

    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
    return list(v)


def _section(page: str, section_id: str) -> str:
    start = page.index(f'<section id="{section_id}">')
    return page[start : page.index("</section>", start)]


def test_pareto_front_of_total_tokens_holds_the_chosen_plan(reports) -> None:
    _, page, _ = reports["searched+compare"]
    fig = _figure(page, "Search: kept plans and Pareto fronts")
    assert fig["layout"]["yaxis"]["title"]["text"] == "tokens/s (whole job)"
    by_axis: dict[str, dict[str, list]] = {}
    for t in fig["data"]:
        pts = list(zip(_values(t["x"]), _values(t["y"]), strict=True))
        by_axis.setdefault(t.get("xaxis", "x"), {})[t["name"]] = pts
    assert set(by_axis) == {"x", "x2"}
    for traces in by_axis.values():
        (chosen,) = traces["chosen plan"]
        assert chosen in traces["Pareto front"]
        everything = traces["Pareto front"] + traces["other kept plans"]
        assert chosen[1] == max(y for _, y in everything)
        # The front is non-dominated: no plotted plan beats a front point on both axes.
        for fx, fy in traces["Pareto front"]:
            assert not any(x <= fx and y >= fy and (x, y) != (fx, fy) and (x < fx or y > fy)
                           for x, y in everything)  # fmt: skip
        # Plan colours do not compete with a colour scale.
        assert all("colorscale" not in t.get("marker", {}) for t in fig["data"])


def test_comparison_has_days_capex_power_goodput(reports) -> None:
    _, page, _ = reports["searched+compare"]
    section = _section(page, "compare")
    assert "days to train with failures" in section
    titles = [f["layout"]["title"]["text"] for f in _figures(section)]
    assert titles == [
        "Days to train, without and with failures",
        "Capex (incl. fabric and batteries)",
        "Average facility power (PUE included)",
        "Goodput (campaign mean)",
    ]
    days = _figure(section, "Days to train")
    assert [t["name"] for t in days["data"]] == ["no failures", "with failures"]
    assert all(len(_values(t["y"])) == 2 for t in days["data"])
    assert "tokens/s per GPU" not in json.dumps(_figures(section))


def test_title_lists_scenarios_in_order(reports, tmp_path) -> None:
    _, page, summary = reports["searched+compare"]
    assert summary["title"] == "colossim report: small-search vs fixed-64"
    assert "<title>colossim report: small-search vs fixed-64</title>" in page
    assert "<h1>colossim report: small-search vs fixed-64</h1>" in page
    _, page, summary = reports["fixed"]
    assert "<title>colossim report: fixed-64</title>" in page
    # The order asked for, not alphabetical; --title overrides (escaped).
    fixed = _write(tmp_path, "fixed.yaml", FIXED)
    other = _write(tmp_path, "a.yaml", FIXED.replace("fixed-64", "a-second"))
    page, summary = _report(tmp_path / "t.html", fixed, other, "--no-campaign")
    assert summary["title"] == "colossim report: fixed-64 vs a-second"
    page, summary = _report(tmp_path / "u.html", fixed, "--no-campaign", "--title", "A <b>")
    assert summary["title"] == "A <b>" and "<title>A &lt;b&gt;</title>" in page


def _ref_fabric(tmp_path: Path, text: str) -> dict:
    return json.loads(run("fabric", _write(tmp_path, "f.yaml", text), "--format", "json").stdout)


def test_topology_has_one_box_per_tier_with_switch_counts(reports, tmp_path) -> None:
    for name, text in (("fixed", FIXED), ("searched+compare", SEARCHED)):
        _, page, _ = reports[name]
        fig = _figure(_section(page, "fabric"), "Topology:")
        fab = _ref_fabric(tmp_path, text)
        boxes = [
            s["name"] for s in fig["layout"]["shapes"] if s.get("name", "").startswith("tier:")
        ]
        assert boxes == ["tier:GPUs", *(f"tier:{t}" for t in fab["switches"]["per_tier"])]
        labels = [a["text"] for a in fig["layout"]["annotations"]]
        for tier, count in fab["switches"]["per_tier"].items():
            assert f"{tier}: {count:,} switches" in " | ".join(labels)
        assert any("host links" in a for a in labels)
    # The 100k-GPU default: three tiers, the oversubscription of the tiers below the top.
    _, page, _ = reports["default"]
    fig = _figure(_section(page, "fabric"), "Topology:")
    labels = " | ".join(a["text"] for a in fig["layout"]["annotations"])
    assert sum(s.get("name", "").startswith("tier:") for s in fig["layout"]["shapes"]) == 4
    assert "leaf oversubscription" in labels and "spine oversubscription" in labels


def test_power_views_show_steps_and_daily_variation(reports) -> None:
    import numpy as np

    _, page, _ = reports["searched+compare"]
    steps = _figure(page, "Step-level swing")
    (facility, *_) = steps["data"]
    y = np.array(_values(facility["y"]))
    assert y.max() > y.min()  # the swing is drawn, not a band
    assert "steps of" in steps["layout"]["title"]["text"]
    daily = _figure(page, "Power over the simulated window (per 60 s)")
    assert len(_values(daily["data"][0]["x"])) == 10  # 600 s per minute
    # The built-in scenario: a day, per minute; outages shaded and the mean moves with them.
    _, page, _ = reports["default"]
    daily = _figure(page, "Power over the simulated window (per 60 s)")
    mean = next(t for t in daily["data"] if t["name"].startswith("facility mean"))
    m = np.array(_values(mean["y"]))
    assert m.size == 1440
    assert m.max() - m.min() > 0.1 * m.mean()
    assert any(s.get("type") == "rect" and s.get("xref") == "x" for s in daily["layout"]["shapes"])
    stalls = [t for t in daily["data"] if t["name"].startswith("checkpoint stalls")]
    assert len(stalls) == 1 and len(_values(stalls[0]["x"])) > 1
