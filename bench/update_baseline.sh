#!/usr/bin/env bash
# Rewrites bench/baseline.json, deliberately: run it when a change is meant to move a tracked figure (a faster or
# slower code path, a model change that moves accuracy) or when the CI hardware changes, and commit the file with
# the change. It measures exactly as CI does (bench/ci_bench.sh), with more repetitions.
#
#   bench/update_baseline.sh                 10 repetitions of the suite and every data set of validation/
#   bench/update_baseline.sh --no-accuracy   extra arguments go to `hpsim report` (keep the other section as it is)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
hpsim="${HPSIM:-$root/build/apps/hpsim}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

HPSIM_BENCH_REPETITIONS="${HPSIM_BENCH_REPETITIONS:-10}" "$root/bench/ci_bench.sh" "$work/bench.json"
cd "$root"
"$hpsim" report --bench "$work/bench.json" --baseline bench/baseline.json --update-baseline "$@"
