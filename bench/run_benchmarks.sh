#!/usr/bin/env bash
# Runs the Google Benchmark suite and rewrites the generated section of bench/README.md from its JSON output,
# so the figures there always come from a run, never from hand edits.
#
#   bench/run_benchmarks.sh            5 repetitions (the figures committed to the README)
#   bench/run_benchmarks.sh --quick    1 repetition, short minimum time (a smoke test of the suite and script)
#   options after the flags go to hpsim_bench, e.g. --benchmark_filter=Simulate
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench_bin="${HPSIM_BENCH:-$root/build/bench/hpsim_bench}"
readme="$root/bench/README.md"

repetitions=5
extra=()
if [[ "${1:-}" == "--quick" ]]; then
  shift
  repetitions=1
  # libbenchmark 1.7 takes seconds as a bare number; 1.8 also accepts it (it prefers "0.05s").
  extra+=(--benchmark_min_time=0.05)
fi

if [[ ! -x "$bench_bin" ]]; then
  echo "run_benchmarks.sh: $bench_bin not found; build it first: cmake --build build -j2 --target hpsim_bench" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$bench_bin" --benchmark_repetitions="$repetitions" "${extra[@]}" \
  --benchmark_out="$work/suite.json" --benchmark_out_format=json "$@"

# The end-to-end benchmarks again, each alone in a fresh process. Their time depends on the allocator's state:
# glibc adapts its mmap and trim thresholds to earlier frees, so a benchmark that follows others in the suite can
# run several times faster than the same code in a new process (as a one-shot CLI run is).
alone=()
while IFS= read -r name; do
  [[ "$name" =~ ^BM_(SimulateGpt3|SimulateLlama3|CostTables) ]] || continue
  out="$work/alone_${#alone[@]}.json"
  "$bench_bin" --benchmark_repetitions="$repetitions" "${extra[@]}" --benchmark_filter="^${name}\$" \
    --benchmark_out="$out" --benchmark_out_format=json >/dev/null
  alone+=("$out")
done < <("$bench_bin" --benchmark_list_tests "$@")

python3 - "$readme" "$repetitions" "$work/suite.json" "${alone[@]}" <<'PY'
import datetime, json, os, re, statistics, sys

readme_path, repetitions, json_path, alone_paths = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
with open(json_path) as f:
    data = json.load(f)

# Group the per-repetition runs ourselves: with one repetition libbenchmark writes no aggregates.
runs = {}
def collect(benchmarks, suffix=""):
    for b in benchmarks:
        if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
            continue
        runs.setdefault(b["run_name"] + suffix, []).append(b)
collect(data["benchmarks"])
for path in alone_paths:
    with open(path) as f:
        collect(json.load(f)["benchmarks"], " (alone)")

SCALE_TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
RATE_KEYS = ("items_per_second", "events_per_s", "bytes_per_second")
# Keys libbenchmark writes for every run; whatever else is in a run is a user counter.
STANDARD = {"name", "family_index", "per_family_instance_index", "run_name", "run_type", "repetitions",
            "repetition_index", "threads", "iterations", "real_time", "cpu_time", "time_unit",
            "aggregate_name", "aggregate_unit", "error_occurred", "error_message", "label"}

def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale * 0.9995:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"

def fmt_si(x):
    for suffix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale * 0.9995:  # 999,936 is "1 M", not "1e+03 k"
            return f"{x / scale:.3g} {suffix}"
    return f"{x:.3g}"

median_ns, rates = {}, {}
rows = []
# Each benchmark's "alone" row right under its row from the suite.
order = [n for n in runs if not n.endswith(" (alone)")]
order = [m for n in order for m in (n, n + " (alone)") if m in runs]
for name in order:
    reps = runs[name]
    times_ns = [r["real_time"] * SCALE_TO_NS[r["time_unit"]] for r in reps]
    med = statistics.median(times_ns)
    median_ns[name] = med
    # Spread: full range over the repetitions, relative to the median (0 with one repetition).
    spread = (max(times_ns) - min(times_ns)) / med * 100 if med > 0 else 0.0
    rate_cells = []
    for key in RATE_KEYS:
        if key in reps[0]:
            value = statistics.median(r[key] for r in reps)
            rates[(name, key)] = value
            rate_cells.append(f"{fmt_si(value)}/s" + ("" if key == "items_per_second" else f" ({key})"))
    counters = [f"{k}={fmt_si(reps[0][k])}" for k in reps[0]
                if k not in STANDARD and k not in RATE_KEYS and isinstance(reps[0][k], (int, float))]
    rows.append(f"| `{name}` | {fmt_time(med)} | ±{spread / 2:.1f}% | {', '.join(rate_cells) or '–'} | "
                f"{', '.join(counters) or '–'} |")

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"

ctx = data.get("context", {})
load = ", ".join(f"{x:.2f}" for x in ctx.get("load_avg", [])) or "n/a"
lines = [
    f"Generated by `bench/run_benchmarks.sh` on {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}: "
    f"{cpu_model()}, {os.cpu_count()} cores, load average {load} at start, "
    f"libbenchmark build type {ctx.get('library_build_type', 'n/a')}, "
    f"{repetitions} repetition{'s' if repetitions != 1 else ''}.",
    "",
    "| Benchmark | Median time | Spread (half range) | Rate | Counters |",
    "|---|---|---|---|---|",
    *rows,
]

# Targets, checked against the medians above.
checks = []
def check(label, ok, measured):
    checks.append(f"| {label} | {measured} | {'met' if ok else '**missed**'} |")
for name in ("BM_EventQueue/1024", "BM_EventQueue/65536"):
    if (name, "items_per_second") in rates:
        v = rates[(name, "items_per_second")]
        check(f"`{name}` ≥ 20 M events/s", v >= 20e6, f"{fmt_si(v)} events/s")
for name in ("BM_SimulateGpt3_175B_1024A100", "BM_SimulateGpt3_175B_1024A100 (alone)"):
    if name in median_ns:
        v = median_ns[name]
        check(f"`{name}` ≤ 5 ms", v <= 5e6, fmt_time(v))
# The planner's whole-space searches (issue targets): GPT-3 175B on 1024 A100 <= 0.5 s, Llama-3 405B on 16,384 H100
# <= 2 s, with every search's candidates considered per second beside them; and whole processes
# (process_bench.cpp): hpsim models <= 30 ms, the GPT-3 175B plan <= 0.3 s.
for name, limit_ns, text in (("BM_PlanGpt3_175B_1024A100/real_time", 0.5e9, "0.5 s"),
                             ("BM_PlanLlama3_405B_16384H100/real_time", 2e9, "2 s"),
                             ("BM_ProcessModels/real_time", 30e6, "30 ms"),
                             ("BM_ProcessPlanGpt3_175B_1024A100/real_time", 0.3e9, "0.3 s")):
    if name in median_ns:
        v = median_ns[name]
        check(f"`{name}` ≤ {text}", v <= limit_ns, fmt_time(v))
if checks:
    lines += ["", "| Target | Measured (median) | |", "|---|---|---|", *checks]

with open(readme_path) as f:
    readme = f.read()
begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
if not pattern.search(readme):
    sys.exit(f"run_benchmarks.sh: {readme_path} has no {begin} ... {end} section")
readme = pattern.sub(lambda _: begin + "\n" + "\n".join(lines) + "\n" + end, readme, count=1)
with open(readme_path, "w") as f:
    f.write(readme)
print(f"run_benchmarks.sh: wrote {len(rows)} benchmarks to {readme_path}")
PY
