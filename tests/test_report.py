"""`advisor report`: one self-contained page with the decision, its charts, its assumptions and
sources, recorded in the audit store; rendered by a real headless Chromium to PNG and PDF, and
proved to load nothing from the network."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import warnings

import pytest
from conftest import FLEET_PAIR, run_cli

SCENARIO = FLEET_PAIR + "prices: {h100-80gb: 2.2}\n"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """One report, made once: its scenario, its HTML, the store it was recorded in, the command's stderr."""
    where = tmp_path_factory.mktemp("report")
    scenario = where / "fleet-pair.yaml"
    scenario.write_text(SCENARIO)
    store = where / "audit.sqlite3"
    proc = run_cli("report", str(scenario), "-o", str(where / "report.html"), "--audit-db", str(store))
    assert proc.returncode == 0 and proc.stdout == "", proc.stderr
    return {"dir": where, "scenario": scenario, "html": where / "report.html", "store": store, "stderr": proc.stderr}


def test_the_report_has_every_section_a_reader_needs(made):
    page = made["html"].read_text()
    decided = json.loads(run_cli("run", str(made["scenario"]), "--format", "json", "--no-audit").stdout)["decisions"][0]
    verdict = decided["verdict"]
    shown = verdict["text"] if verdict["text"].startswith(verdict["gpu"]) else f"{verdict['text']} &rarr; {verdict['gpu']}"
    assert f'<p class="answer">{shown}</p>' in page  # the GPU named once
    assert "The seed's general answer" in page and ('<span class="holds">holds</span>' in page) == (verdict["general_answer"] == "holds")
    for gpu, plan in decided["plans"].items():
        if plan["feasible"]:
            assert f"<td>{gpu}</td>" in page and f"${plan['monthly_cost_usd']:,.0f}" in page
    assert page.count("<figure><svg") == 4  # plans, cost against utilization, latency, the decision map
    for section in ("Every GPU's plan", "Charts", "Why", "Assumptions and defaults", "Prices used", "Sources", "How to reproduce it"):
        assert f"<h2>{section}</h2>" in page or f"<h3>{section}</h3>" in page, section
    assert '<td>context.utilization</td><td class="given">0.85</td>' in page  # given
    assert '<td>workload.prompt_tokens</td><td class="default">512</td>' in page  # the default used
    assert '<td>workload.model</td><td class="default">llama-2-70b</td>' in page  # the default model, by name
    assert '<td>workload.precision</td><td class="default">fp16</td>' in page
    assert '<td>workload.tpot_ms</td><td class="default">50</td>' in page and '<td>workload.ttft_ms</td><td class="default">2000</td>' in page
    assert '<td>context.monthly_budget_usd</td><td class="default">-</td>' in page  # no default: none used
    assert "modal-pricing-2026-05" in page and "2026-05-24" in page  # where the A100 price comes from, and when
    assert "the scenario&#x27;s prices:" in page  # the H100 price the scenario gives
    assert decided["rules_revision"][:12] in page
    assert "advisor run " in page and "advisor audit show " in page


def test_the_decision_in_the_report_is_recorded_in_the_audit_store(made):
    page = made["html"].read_text()
    decision_id = re.search(r"decision ([0-9a-f-]{36}) \(recorded in the audit store", page).group(1)
    shown = json.loads(run_cli("audit", "show", decision_id[:8], "--audit-db", str(made["store"]), "--format", "json").stdout)
    assert shown["decision_id"] == decision_id and shown["scenario"] == "fleet-pair"
    assert f"decision {decision_id[:8]}, recorded" in made["stderr"]


def test_the_page_is_self_contained_with_no_url_to_fetch_and_a_policy_forbidding_any(made):
    page = made["html"].read_text()
    assert re.search(r"""<meta http-equiv="Content-Security-Policy" content="default-src 'none';""", page)
    assert "<script" not in page.lower() and "<link" not in page.lower() and "@import" not in page
    assert not re.search(r"""\b(src|href|srcset|action|poster|data)\s*=\s*(?!"#|'#|"data:)""", page, re.I)  # in-page references and inline data only
    assert not re.search(r"url\((?!#)", page)
    assert "xmlns" not in page and "<!DOCTYPE svg" not in page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # four inline charts, no id twice


def test_markdown_writes_its_charts_beside_it(made):
    out = made["dir"] / "wiki.md"
    proc = run_cli("report", str(made["scenario"]), "-o", str(out), "--no-audit")
    assert proc.returncode == 0 and "not recorded" in proc.stderr
    text = out.read_text()
    assert text.startswith("# GPU decision: fleet-pair") and "| * | h100-80gb |" in text
    for name in ("plans", "cost", "latency", "map"):
        assert f"](wiki-{name}.svg)" in text and (made["dir"] / f"wiki-{name}.svg").read_text().startswith("<?xml")
    assert "```yaml\nname: fleet-pair\n" in text


def test_text_from_the_scenario_is_escaped_in_the_page(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text('name: "<script>alert(1)</script> \\e[31mred"\ncontext: {stage: production}\n')
    proc = run_cli("report", str(scenario), "--no-audit", "--no-charts")
    assert proc.returncode == 0, proc.stderr
    assert "<script>alert" not in proc.stdout and "&lt;script&gt;alert(1)&lt;/script&gt; \\x1b[31mred" in proc.stdout
    assert "\x1b" not in proc.stdout


def test_a_scenario_that_cannot_be_decided_is_one_sentence_exit_1(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("workload: {model: llama-9}\n")
    proc = run_cli("report", str(scenario), "-o", str(tmp_path / "r.html"), "--no-audit")
    assert proc.returncode == 1 and not (tmp_path / "r.html").exists()
    assert proc.stderr.startswith(f"advisor: error: {scenario}:1: scenario s: workload.model: unknown model 'llama-9'")


# --- in a real browser -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium():
    found = next((path for path in map(shutil.which, BROWSERS) if path), None)
    if found is None:
        message = ("NO CHROMIUM FOUND (looked for " + ", ".join(BROWSERS) + "): the report was NOT rendered in a browser; "
                   "install the system package (apt-get install chromium), as .ci/run does")
        warnings.warn(message)
        pytest.skip(message)
    return found


def _browse(chromium: str, profile, *args: str, timeout: int = 90) -> subprocess.CompletedProcess:
    return subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=timeout)


def _png(path) -> tuple[int, int, float]:
    """Width, height and the share of pixels that are not white."""
    from matplotlib.image import imread

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    pixels = imread(str(path))[:, :, :3]
    return width, height, float((pixels.min(axis=2) < 0.95).mean())


def test_chromium_renders_the_report_to_png_and_pdf(made, chromium, tmp_path):
    png, pdf = tmp_path / "report.png", tmp_path / "report.pdf"
    url = made["html"].as_uri()
    shot = _browse(chromium, tmp_path / "p1", "--hide-scrollbars", "--window-size=1280,2400", f"--screenshot={png}", url)
    assert png.exists(), shot.stderr[-2000:]
    width, height, inked = _png(png)
    assert (width, height) == (1280, 2400) and inked > 0.05, inked
    printed = _browse(chromium, tmp_path / "p2", "--no-pdf-header-footer", f"--print-to-pdf={pdf}", url)
    assert pdf.exists(), printed.stderr[-2000:]
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF") and len(data) > 50_000
    assert len(re.findall(rb"/Type\s*/Page\b", data)) >= 3  # the verdict, the charts, the tables: several A4 pages
    pages = shutil.which("pdftoppm")
    if pages:  # the first page, rasterised: ink on it
        subprocess.run([pages, "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")], check=True, timeout=60)
        first = next(tmp_path.glob("page*.png"))
        assert _png(first)[2] > 0.02


def _requests(net_log) -> list[str]:
    """Every URL the page asked for, from the browser's net log: the requests made for a frame whose
    site is the file (the browser's own background requests, for updates and the time, are not the page's)."""
    log = json.loads(net_log.read_text())
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    urls = []
    for event in log.get("events", []):
        params = event.get("params") or {}
        if names.get(event["type"]) == "URL_REQUEST_START_JOB" and "file://" in params.get("network_isolation_key", ""):
            urls.append(params["url"])
    return urls


def test_the_page_loads_nothing_from_the_network_in_chromium(made, chromium, tmp_path):
    """The report opened with every host name unresolvable and the browser's net log on: it asks for
    nothing beyond its own file. A control page with one remote image shows the log would catch it."""
    def visit(page, name):
        log = tmp_path / f"{name}.json"
        _browse(chromium, tmp_path / name, "--host-resolver-rules=MAP * ~NOTFOUND", f"--log-net-log={log}",
                "--net-log-capture-mode=Everything", "--virtual-time-budget=3000", f"--screenshot={tmp_path / name}.png",
                page.as_uri())
        return _requests(log)

    control = tmp_path / "control.html"
    control.write_text('<!DOCTYPE html><html><body><img src="http://report-network-probe.invalid/x.png"></body></html>')
    assert any("report-network-probe.invalid" in url for url in visit(control, "control"))
    asked = visit(made["html"], "report")
    assert all(url.startswith("file://") for url in asked), [u for u in asked if not u.startswith("file://")]
