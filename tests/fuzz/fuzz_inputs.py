#!/usr/bin/env python3
"""Seeded fuzzing of hpsim's input files: every mutated plan, model or cluster file must end in exit 0, 2 or 3,
within a time and memory bound, and an exit 0 must print finite, positive figures.

Usage: fuzz_inputs.py HPSIM SOURCE_DIR [--cases N] [--seed S] [--jobs J] [--keep DIR]
The seed is fixed (deterministic cases); a failure prints the command and keeps the input under --keep (default
a temporary directory) so that it can be run again by hand.
"""
import argparse
import concurrent.futures
import glob
import json
import math
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time

TIME_LIMIT_S = 5.0          # one case: a small input, so seconds mean a missing bound
MEMORY_LIMIT_BYTES = 1 << 30  # address space of one case: a bad_alloc (exit 1) instead of swapping the machine
MEMORY_REPORT_KB = 200 * 1024  # peak resident set a small input must stay under

NUMBER = re.compile(r"(?<![\w.])-?\d+(\.\d+)?([eE][-+]?\d+)?(?![\w.])")
KEY = re.compile(r"^(\s*-?\s*)([A-Za-z_][A-Za-z0-9_]*)(\s*:)")
WILD_NUMBERS = ["2147483648", "4294967296", "9223372036854775808", "-9223372036854775809", "1e308", "1e-308",
                ".nan", "nan", ".inf", "-.inf", "inf", "NaN"]
WRONG_TYPES = ["[1, 2]", "{a: 1}", "abc", "true", "\"\"", "~", "1.5"]


def mutate_number(rng, text):
    """One number of the text scaled by 10^k, negated, zeroed or replaced by an extreme."""
    found = list(NUMBER.finditer(text))
    if not found:
        return None
    m = rng.choice(found)
    v = m.group(0)
    kind = rng.randrange(4)
    if kind == 0:
        k = rng.choice([-6, -3, -1, 1, 2, 3, 6, 9, 12, 18])
        new = repr(float(v) * 10.0 ** k) if "." in v or "e" in v.lower() or k < 0 else v + "0" * k
    elif kind == 1:
        new = v[1:] if v.startswith("-") else "-" + v
    elif kind == 2:
        new = "0"
    else:
        new = rng.choice(WILD_NUMBERS)
    return text[:m.start()] + new + text[m.end():]


def key_lines(lines):
    return [i for i, line in enumerate(lines) if KEY.match(line) and not line.lstrip().startswith("#")]


def mutate_key(rng, text):
    """A key deleted (its line), renamed with a typo, or given a value of the wrong type."""
    lines = text.split("\n")
    candidates = key_lines(lines)
    if not candidates:
        return None
    i = rng.choice(candidates)
    m = KEY.match(lines[i])
    kind = rng.randrange(3)
    if kind == 0:
        del lines[i]
    elif kind == 1:
        key = m.group(2)
        j = rng.randrange(len(key))
        typo = key[:j] + key[j + 1:] if len(key) > 1 and rng.random() < 0.5 else key[:j] + "x" + key[j:]
        lines[i] = m.group(1) + typo + lines[i][len(m.group(1)) + len(key):]
    else:
        lines[i] = lines[i][:m.end()] + " " + rng.choice(WRONG_TYPES)
    return "\n".join(lines)


def mutate_text(rng, text):
    """The file truncated, or followed by junk."""
    if rng.random() < 0.5:
        return text[:rng.randrange(1, max(2, len(text)))]
    return text + rng.choice(["\n}{ junk: [", "\n---\nmore: 1\n", "\x00\x01", "\n  - stray", "\n:::\n"])


def mutate(rng, text):
    for _ in range(1 + (rng.random() < 0.3)):  # sometimes two mutations
        roll = rng.random()
        out = (mutate_number if roll < 0.5 else mutate_key if roll < 0.85 else mutate_text)(rng, text)
        text = out if out is not None else text
    return text


def inputs(source):
    """(kind, path) of each file mutated: plans, executor plans, model presets, cluster files and presets."""
    out = [("plan", p) for p in sorted(glob.glob(os.path.join(source, "examples/plans/*.yaml")))]
    out += [("plan", p) for p in sorted(glob.glob(os.path.join(source, "examples/run/*.yaml")))]
    out += [("model", p) for p in sorted(glob.glob(os.path.join(source, "models/presets/*.yaml")))]
    out += [("cluster", p) for p in sorted(glob.glob(os.path.join(source, "examples/clusters/*.yaml")))]
    out += [("cluster", p) for p in sorted(glob.glob(os.path.join(source, "topologies/presets/dgx-*.yaml")))]
    out += [("validate", p) for p in sorted(glob.glob(os.path.join(source, "tests/fuzz/seeds/*.yaml")))]
    return out


def command(kind, hpsim, path, rng):
    """Small runs only: the mutation, not the model, must decide the cost."""
    if kind == "plan":
        # examples/run plans name cluster localhost (a calibration): simulate them on a preset instead.
        return [hpsim, "simulate", "--plan", path, "--cluster", "dgx-h100:2", "--format", "json"]
    if kind == "model":
        if rng.random() < 0.2:
            return [hpsim, "plan", "--model", path, "--cluster", "dgx-h100:1", "--global-batch-size", "8",
                    "--format", "json"]
        return [hpsim, "simulate", "--model", path, "--cluster", "dgx-h100:1", "--tp", "8", "--global-batch-size",
                "8", "--format", "json"]
    if kind == "cluster":
        return [hpsim, "simulate", "--model", "gpt-1.7b", "--cluster", path, "--global-batch-size", "512",
                "--format", "json"]
    return [hpsim, "validate", path, "--format", "json"]


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))


def run_case(cmd):
    """Exit status, seconds, peak resident KB, stdout and stderr of one command (killed past the time limit)."""
    start = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, preexec_fn=limit_memory)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > TIME_LIMIT_S:
                proc.kill()
                timed_out = True
            time.sleep(0.01)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (None if timed_out else proc.returncode, time.monotonic() - start, usage.ru_maxrss,
                out.read().decode(errors="replace"), err.read().decode(errors="replace"))


def bad_figures(value, path="$"):
    """Paths of figures in the JSON that are not finite and positive (counts and flags may be zero)."""
    bad = []
    if isinstance(value, dict):
        for k, v in value.items():
            bad += bad_figures(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            bad += bad_figures(v, f"{path}[{i}]")
    elif isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)):
        if not math.isfinite(value) or value < 0:
            bad.append(f"{path}={value}")
    return bad


def positive_keys(j):
    """The headline figures of a step that must be strictly positive."""
    steps = []
    if isinstance(j, dict) and "step_time_s" in j:
        steps.append(j)
    if isinstance(j, dict):
        steps += [c["result"] for c in j.get("cases", []) if isinstance(c, dict) and "result" in c]
        best = j.get("best")
        if isinstance(best, dict) and "step_time_s" in best:
            steps.append(best)
    return [f"{k}={s.get(k)}" for s in steps for k in ("step_time_s", "tokens_per_s")
            if not (isinstance(s.get(k), (int, float)) and s.get(k) > 0)]


def check(case):
    index, cmd, path = case
    code, secs, rss_kb, out, err = run_case(cmd)
    problems = []
    if code is None:
        problems.append(f"still running after {TIME_LIMIT_S} s")
    elif code not in (0, 2, 3):
        problems.append(f"exit {code}: {err.strip()[-300:]}")
    if rss_kb > MEMORY_REPORT_KB:
        problems.append(f"peak memory {rss_kb // 1024} MB")
    if code in (2, 3) and err.count("\n") != 1:
        problems.append(f"exit {code} with {err.count(chr(10))} lines on stderr (one expected)")
    if code == 0:
        try:
            j = json.loads(out)
            problems += [f"figure {b}" for b in bad_figures(j) + positive_keys(j)][:5]
        except json.JSONDecodeError as e:
            problems.append(f"exit 0 without JSON on stdout: {e}")
    return index, cmd, path, code, secs, problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("hpsim")
    ap.add_argument("source")
    ap.add_argument("--cases", type=int, default=300)
    ap.add_argument("--seed", type=int, default=20261203)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", default="")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    files = inputs(a.source)
    work = a.keep or tempfile.mkdtemp(prefix="hpsim_fuzz_")
    os.makedirs(work, exist_ok=True)
    cases = []
    for i in range(a.cases):
        kind, src = files[i % len(files)]
        with open(src) as f:
            text = mutate(rng, f.read())
        path = os.path.join(work, f"{i:04d}_{kind}_{os.path.basename(src)}")
        with open(path, "w") as f:
            f.write(text)
        cases.append((i, command(kind, a.hpsim, path, rng), path))
    start = time.monotonic()
    counts = {}
    failures = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
        for index, cmd, path, code, secs, problems in pool.map(check, cases):
            counts[code] = counts.get(code, 0) + 1
            if problems:
                failures.append((index, cmd, problems))
            else:
                os.remove(path)
    print(f"fuzz: {len(cases)} cases (seed {a.seed}) in {time.monotonic() - start:.1f} s; exit statuses "
          + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=lambda kv: str(kv[0]))))
    for index, cmd, problems in failures:
        print(f"FAIL case {index}: {' '.join(cmd)}\n  " + "\n  ".join(problems))
    if failures:
        print(f"fuzz: {len(failures)} failing cases; their inputs are in {work}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
