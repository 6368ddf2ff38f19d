#!/usr/bin/env python3
"""Regenerates docs/accuracy.md: hpsim's predictions beside every measured run in the checkout's validation/.

Usage: scripts/accuracy_report.py [--hpsim build/apps/hpsim] [--data validation] [--as-given DIR] [--out docs/accuracy.md]
--data DIR reads another directory's .yaml files (and those of its published/ and measured/) instead.
--as-given DIR (default ../shared/data/published, when present) adds the published tables as their files give them:
the settings their sources state only in prose at hpsim's defaults, where validation/ spells them with hpsim's keys.
Only the figures come from hpsim; nothing in the page is typed by hand.
"""
import argparse
import datetime
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def validate(hpsim, path, planner=False):
    args = [hpsim, "validate", str(path), "--format", "json"] + (["--planner"] if planner else [])
    p = subprocess.run(args, capture_output=True, text=True)
    # Exit 2 with a JSON report: some cases were refused (hpsim cannot express them); they are listed, not predicted.
    if p.returncode not in (0, 2) or not p.stdout.strip():
        sys.exit(f"{' '.join(args)} failed ({p.returncode}): {p.stderr}")
    report = json.loads(p.stdout)
    report["refused_cases"] = [c for c in report["cases"] if "refused" in c]
    report["cases"] = [c for c in report["cases"] if "refused" not in c]
    return report


# Tables published by papers and by the teams that ran them (validation/, from scripts/validation_sets.py): for
# these the report also asks the planner what it would have chosen.
PUBLISHED = {"korthikanti2022_table5.yaml", "narayanan2021_table1.yaml", "h100_dev.yaml",
             "h100_405b_uneven_pipeline.yaml"}


def published(path):
    return path.name in PUBLISHED or path.parent.name == "published"


def plan_text(p):
    return (f"tp {p['tp']} pp {p['pp']} dp {p['dp']} cp {p['cp']} vpp {p['vpp']} mbs {p['micro_batch_size']} "
            f"{p['recompute']} sp {'on' if p['sp'] else 'off'} zero {p['zero']}")


def pct(x):
    return f"{x * 100:+.1f}"


def errors_by_precision(report):
    """|error| of the answered cases, per training precision."""
    by_precision = {}
    for c in report["cases"]:
        by_precision.setdefault(c["result"]["plan"]["precision"], []).append(abs(c["error"]))
    return by_precision


def section(title, path, report, with_cases=True):
    refused = report["refused_cases"]
    lines = [f"## {title}", "", f"Source: `{path.name}` ({len(report['cases'])} runs answered, {len(refused)} refused).",
             "",
             f"**MAPE {report['mape'] * 100:.2f} %, worst |error| {report['max_abs_error'] * 100:.2f} %**"]
    if report.get("rankings"):
        lines.append(f", mean Kendall τ {report['mean_kendall_tau']:.3f} within groups of the same model and GPU count")
    lines.append("")
    memory = report.get("memory", {})
    if memory.get("cases"):
        lines += ["", f"Peak memory per GPU against the {memory['cases']} runs whose source reports it (the allocator's "
                  f"peak reserved): MAPE {memory['mape'] * 100:.2f} %, worst |error| "
                  f"{memory['max_abs_error'] * 100:.2f} %, mean error {memory['mean_error'] * 100:+.2f} % (below 0: "
                  "hpsim expects less than the runs took).", ""]
    by_precision = errors_by_precision(report)
    if len(by_precision) > 1:
        lines += ["", "By training precision: " + "; ".join(
            f"{p} {len(e)} runs, MAPE {sum(e) / len(e) * 100:.2f} %, worst {max(e) * 100:.2f} %"
            for p, e in sorted(by_precision.items())), ""]
    if report.get("rankings"):
        lines += ["", "Within each group (same model, same GPU count): the rank correlation of predicted and measured "
                  "times, and how the run hpsim predicts fastest really did (its measured rank, 1 = fastest, and "
                  "how much slower it was than the fastest measured run).", "",
                  "| group | runs | Kendall τ | predicted fastest | its measured rank | slower than the fastest |",
                  "| --- | ---: | ---: | --- | ---: | ---: |"]
        lines += [f"| {g['group']} | {g['cases']} | {g['kendall_tau']:+.3f} | {g['predicted_fastest']} | "
                  f"{g['predicted_fastest_measured_rank']} | {g['predicted_fastest_measured_gap'] * 100:.1f} % |"
                  for g in report["rankings"]]
        lines.append("")
    if report.get("planner"):
        lines += ["", "Planner: for each case, `hpsim plan` over the same model, GPU count, global batch, sequence, "
                  "precision and overlap settings. The published plan is ranked among the plans that use its own "
                  "features (its recomputation, SP, ZeRO stage, cp; tp, pp, vpp and micro-batch searched), since "
                  "its software offered no others; the best plan of the whole space (ZeRO, SP, selective "
                  "recomputation, cp included) is shown beside it.", "",
                  "| case | published plan s | its rank (same features) | best, same features s | best s | "
                  "best plan | search s |", "| --- | ---: | ---: | ---: | ---: | --- | ---: |"]
        for q in report["planner"]:
            if q.get("note"):
                lines.append(f"| {q['id']} | {q['case_plan_step_time_s']:.3f} | – | – | – | {q['note']} | "
                             f"{q['search_time_s']:.2f} |")
                continue
            lines.append(f"| {q['id']} | {q['case_plan_step_time_s']:.3f} | {q['case_plan_rank']} of "
                         f"{q['same_features_feasible']} | {q['same_features_best_step_time_s']:.3f} | "
                         f"{q['best_step_time_s']:.3f} | {plan_text(q['best_plan'])} | {q['search_time_s']:.2f} |")
        lines.append("")
    if with_cases:
        lines += ["", "| case | predicted s | measured s | error % | fits | peak GiB | measured GiB |",
                  "| --- | ---: | ---: | ---: | :---: | ---: | ---: |"]
        for c in report["cases"]:
            measured = c.get("measured_peak_memory_gib")
            lines.append(f"| {c['id']} | {c['predicted_step_time_s']:.3f} | {c['measured_step_time_s']:.3f} | "
                         f"{pct(c['error'])} | {'yes' if c['fits'] else 'NO'} | "
                         f"{c['peak_bytes_per_gpu'] / 2**30:.1f} | {'' if measured is None else f'{measured:g}'} |")
        lines.append("")
    if refused:
        lines += ["", "Cases hpsim cannot express yet (excluded from MAPE):", "", "| case | why |", "| --- | --- |"]
        lines += [f"| {c['id']} | {c['refused']} |" for c in refused]
        lines.append("")
    return lines


def as_given_section(hpsim, directory):
    """The published tables as given (no setting spelled from the prose of `source`): what a user feeding those files
    to hpsim sees; validation/ is the same runs with the stated settings written as keys (scripts/validation_sets.py)."""
    lines = ["## The published H100 tables as given", "",
             f"The files of `{directory.name}/` read as they are: settings their sources state only in prose (framework, "
             "torch.compile, the 500 W part, FP8 recipe, optimizer-state dtypes, MoE dispatch) take hpsim's defaults. "
             "The difference from the table above is what spelling those settings as keys is worth.", "",
             "| data set | answered | MAPE % | worst % | bf16 MAPE % | fp8 MAPE % | judged out of memory |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for f in sorted(directory.glob("h100*.yaml")):
        report = validate(hpsim, f)
        mean = {k: f"{sum(v) / len(v) * 100:.2f}" for k, v in errors_by_precision(report).items()}
        oom = sum(1 for c in report["cases"] if not c["fits"])
        lines.append(f"| {f.name} | {len(report['cases'])} | {report['mape'] * 100:.2f} | "
                     f"{report['max_abs_error'] * 100:.2f} | {mean.get('bf16', '–')} | {mean.get('fp8', '–')} | {oom} |")
    return lines + [""]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hpsim", default=str(ROOT / "build" / "apps" / "hpsim"))
    ap.add_argument("--data", default=str(ROOT / "validation"))
    ap.add_argument("--as-given", default=str(ROOT.parent / "shared" / "data" / "published"))
    ap.add_argument("--out", default=str(ROOT / "docs" / "accuracy.md"))
    args = ap.parse_args()
    data = pathlib.Path(args.data)
    files = [f for d in (data, data / "published", data / "measured") for f in d.glob("*.yaml")]
    files.sort(key=lambda f: (not published(f), f.name))  # the papers' and authors' tables first
    if not files:
        sys.exit(f"no validation files under {data}")
    lines = ["# Accuracy of hpsim against measured training runs", "",
             "Generated by `scripts/accuracy_report.py` from `hpsim validate` on "
             f"{datetime.date.today().isoformat()}; do not edit by hand. One set of physical parameters (the presets "
             "in `topologies/presets`) serves every case; error = (predicted − measured) / measured.", ""]
    summary = ["| data set | answered | refused | MAPE % | worst % | Kendall τ |",
               "| --- | ---: | ---: | ---: | ---: | ---: |"]
    body = []
    for f in files:
        report = validate(args.hpsim, f, planner=published(f))
        tau = f"{report['mean_kendall_tau']:.3f}" if report.get("rankings") else "–"
        summary.append(f"| {f.name} | {len(report['cases'])} | {len(report['refused_cases'])} | {report['mape'] * 100:.2f} | "
                       f"{report['max_abs_error'] * 100:.2f} | {tau} |")
        body += section(f.stem, f, report, with_cases=len(report["cases"]) <= 200)
    given = pathlib.Path(args.as_given)
    if given.is_dir() and any(given.glob("h100*.yaml")):
        summary += [""] + as_given_section(args.hpsim, given)
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text("\n".join(lines + summary + [""] + body) + "\n")
    print("\n".join(summary))


if __name__ == "__main__":
    main()
