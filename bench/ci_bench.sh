#!/usr/bin/env bash
# The benchmark run that `hpsim report` compares with bench/baseline.json: the whole suite, N repetitions in random
# interleaved order, with the allocator's thresholds pinned, as JSON. CI (.ci/run) and bench/update_baseline.sh use it,
# so a run and the baseline are always measured the same way (bench/README.md, "Regression report").
#
#   bench/ci_bench.sh OUT.json                 5 repetitions (HPSIM_BENCH_REPETITIONS overrides), about 30 s
#   bench/ci_bench.sh OUT.json --benchmark_filter=Simulate    extra arguments go to hpsim_bench
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench_bin="${HPSIM_BENCH:-$root/build/bench/hpsim_bench}"
if [[ $# -lt 1 ]]; then
  echo "usage: bench/ci_bench.sh OUT.json [hpsim_bench arguments]" >&2
  exit 2
fi
out="$1"
shift
if [[ ! -x "$bench_bin" ]]; then
  echo "ci_bench.sh: $bench_bin not found; build it first: cmake --build build -j2 --target hpsim_bench" >&2
  exit 1
fi
repetitions="${HPSIM_BENCH_REPETITIONS:-5}"

# Fixed mmap/trim thresholds: a benchmark's time then no longer depends on which benchmarks ran before it in the
# process (glibc adapts both to earlier frees; see "(alone)" in bench/README.md), which random interleaving would
# otherwise turn into noise. Random interleaving spreads a burst of load from other processes over many benchmarks'
# single repetitions instead of all repetitions of one.
GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=1073741824 \
  "$bench_bin" --benchmark_repetitions="$repetitions" --benchmark_min_time=0.05 \
  --benchmark_enable_random_interleaving=true \
  --benchmark_out="$out" --benchmark_out_format=json "$@" >/dev/null
echo "ci_bench.sh: $repetitions repetitions of the suite written to $out" >&2
