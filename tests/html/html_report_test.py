#!/usr/bin/env python3
"""Browser test of hpsim's HTML reports (apps/html_report.cpp) in a real headless Chromium.

Writes three pages with the hpsim binary: `hpsim plan --html` (one search), `hpsim plan --set ... --html` (a what-if
sweep) and `hpsim report --html` (speed against a baseline, accuracy). For each it loads the page in Chromium with
--dump-dom and checks what the page's script leaves on the DOM once it has run: <body data-ready="1"> (the script
finished), data-console-errors="0" (console.error calls and uncaught exceptions, counted by the page itself), and
for every chart the page must have, a <figure data-chart=NAME> holding an <svg> or <table> with data-marks > 0
(boxes, bars or points drawn). Chromium's own log (--enable-logging=stderr) must show no console error either. The
page source must not load anything (no src/href to another resource). Then it saves a screenshot of each page
(--window-size=1400,2000) under --out.

Exit 77 (ctest: skipped) when no chromium is installed.
"""
import argparse
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]

PLAN_CHARTS = ["timeline", "plans-table", "breakdown", "memory", "scatter"]
REPORT_CHARTS = ["speed-table", "speed", "accuracy-table", "accuracy"]
# The published data sets the report page shows (validation/, copied by scripts/validation_sets.py).
PUBLISHED = ("korthikanti2022_table5.yaml", "narayanan2021_table1.yaml", "h100_dev.yaml",
             "h100_405b_uneven_pipeline.yaml")

failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def run(cmd, ok_codes=(0,)):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode not in ok_codes:
        sys.exit(f"command failed ({p.returncode}): {' '.join(map(str, cmd))}\n{p.stdout}\n{p.stderr}")
    return p


def chromium(binary, args):
    with tempfile.TemporaryDirectory(prefix="hpsim_chromium_") as profile:
        return subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=180)


def attrs(tag):
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag))


def check_page(binary, page, charts, out):
    name = page.stem
    source = page.read_text()
    external = re.findall(r'<(?:script|link|img|iframe)[^>]*\b(?:src|href)\s*=', source)
    check(not external and "@import" not in source, f"{name}: self-contained (no external resource)")

    p = chromium(binary, ["--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", "--dump-dom",
                          page.resolve().as_uri()])
    check(p.returncode == 0, f"{name}: chromium --dump-dom exit status {p.returncode}")
    dom = p.stdout
    console = [l for l in p.stderr.splitlines() if "CONSOLE" in l]
    bad = [l for l in console if re.search(r"error|uncaught|exception", l, re.I)]
    check(not bad, f"{name}: no console error in Chromium's log" + ("" if not bad else ": " + bad[0]))
    body = re.search(r"<body[^>]*>", dom)
    b = attrs(body.group(0)) if body else {}
    check(b.get("data-ready") == "1", f"{name}: the page's script ran to the end (data-ready={b.get('data-ready')})")
    check(b.get("data-console-errors") == "0",
          f"{name}: no console error counted by the page (data-console-errors={b.get('data-console-errors')})")
    drawn = b.get("data-charts", "").split()
    for chart in charts:
        m = re.search(r'<figure[^>]*data-chart="' + re.escape(chart) + r'"[^>]*>(.*?)</figure>', dom, re.S)
        if not m:
            check(False, f"{name}: chart '{chart}' present")
            continue
        marks = int(attrs(m.group(0)[:m.group(0).index(">") + 1]).get("data-marks", "0"))
        inner = m.group(1)
        has_body = "<svg" in inner or "<table" in inner
        check(chart in drawn and has_body and marks > 0,
              f"{name}: chart '{chart}' present and non-empty ({marks} marks drawn)")
        titles = re.findall(r"<h3>([^<]+)</h3>", inner)
        check(bool(titles), f"{name}: chart '{chart}' has a title ({titles[0] if titles else 'none'})")
        if "<svg" in inner:
            check("font-weight=\"600\"" in inner, f"{name}: chart '{chart}' has labelled axes")
    shot = out / f"{name}.png"
    shot.unlink(missing_ok=True)
    p = chromium(binary, ["--virtual-time-budget=10000", f"--screenshot={shot}", "--window-size=1400,2000",
                          page.resolve().as_uri()])
    check(shot.exists() and shot.stat().st_size > 10_000, f"{name}: screenshot {shot}")


def bench_json(path, times):
    """A Google Benchmark JSON file: name -> list of cpu times (ns), one per repetition."""
    runs = []
    for name, ts in times.items():
        for i, t in enumerate(ts):
            runs.append({"name": name, "run_name": name, "run_type": "iteration", "repetitions": len(ts),
                         "repetition_index": i, "threads": 1, "iterations": 1000, "real_time": t * 1.1,
                         "cpu_time": t, "time_unit": "ns"})
    path.write_text(json.dumps({"context": {"num_cpus": 2, "load_avg": [1.0, 1.0, 1.0]}, "benchmarks": runs}))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hpsim", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", required=True, help="the checkout's validation/ directory")
    args = ap.parse_args()
    binary = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
    if not binary:
        print("SKIP: chromium is not installed (apt-get install chromium; .ci/run installs it)")
        return 77
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    hpsim = args.hpsim

    plan = out / "plan.html"
    run([hpsim, "plan", "--model", "llama3-70b", "--cluster", "dgx-h100:8", "--global-batch-size", "512",
         "--top", "8", "--html", str(plan)])
    sweep = out / "sweep.html"
    run([hpsim, "plan", "--model", "llama3-70b", "--cluster", "dgx-h100:8", "--global-batch-size", "512",
         "--set", "nic_bandwidth_gbit_per_s=100,200,400", "--html", str(sweep)])

    # The report page: a synthetic benchmark run against a baseline made from another, and accuracy on the project's
    # copies of the published data sets (validation/).
    work = pathlib.Path(tempfile.mkdtemp(prefix="hpsim_html_test_"))
    try:
        base = {"BM_EventQueue/65536": [30, 31, 29], "BM_SimulateGpt3": [2.0e6, 2.1e6, 1.9e6],
                "BM_CostTables": [1.5e5, 1.6e5, 1.4e5], "BM_StepGraph": [1.0e6, 1.05e6, 0.98e6]}
        now = {"BM_EventQueue/65536": [33, 34, 32], "BM_SimulateGpt3": [2.0e6, 2.2e6, 2.1e6],
               "BM_CostTables": [2.2e5, 2.3e5, 2.25e5], "BM_StepGraph": [0.8e6, 0.85e6, 0.82e6]}
        bench_json(work / "base.json", base)
        bench_json(work / "now.json", now)
        validate = [pathlib.Path(args.data, name) for name in PUBLISHED]
        missing = [str(v) for v in validate if not v.is_file()]
        if missing:
            print(f"FAIL: validation files missing: {', '.join(missing)}")
            return 1
        validate = [str(v) for v in validate]
        baseline = work / "baseline.json"
        run([hpsim, "report", "--bench", str(work / "base.json"), "--baseline", str(baseline), "--update-baseline",
             "--validate", *validate])
        report = out / "report.html"
        run([hpsim, "report", "--bench", str(work / "now.json"), "--baseline", str(baseline), "--html", str(report),
             "--validate", *validate], ok_codes=(0, 4))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    check_page(binary, plan, PLAN_CHARTS, out)
    check_page(binary, sweep, PLAN_CHARTS, out)
    check_page(binary, report, REPORT_CHARTS, out)
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print(f"all checks passed; screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
