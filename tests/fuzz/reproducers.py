#!/usr/bin/env python3
"""The inputs that once crashed, hung or misled hpsim (tests/fuzz/reproducers/README.md): each must now end in
exit 2 or 3 with one line on stderr, within a second or two and 100 MB.

Usage: reproducers.py HPSIM SOURCE_DIR [--mpirun "mpirun -np 2 ..."]   (--mpirun: the `hpsim run` reproducers too)
"""
import argparse
import glob
import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzz_inputs  # noqa: E402  (run_case: time, memory and exit status of one command)

# Still open, printed as such and not failed (none now: gbs 1e8, once killed on a rank while its per-micro-batch
# buffers were allocated, is refused by the executor's own limits on every rank before any work).
KNOWN_OPEN = set()
TIME_LIMIT_S = 2.0     # "within a second", with room for a busy 2-core CI machine
MEMORY_LIMIT_KB = 100 * 1024  # under mpirun too: mpirun's and every rank's peak
MPI_TIME_LIMIT_S = 1.0


def cases(h, d):
    """(command, statuses allowed) of every reproducer, as tests/fuzz/reproducers/README.md runs it."""
    out = []
    for f in ("llama3-70b_hidden_typo_x1000.yaml", "llama3-70b_ffn_typo_x1000.yaml"):
        out.append([h, "simulate", "--model", f"{d}/{f}", "--cluster", "dgx-h100:64", "--tp", "8", "--pp", "4",
                    "--global-batch-size", "512"])
    for f in ["huge_ffn_dgx.yaml", "plan_empty_cluster.yaml", "trailing_garbage_accepted.json",
              "plan_toplevel_typo_ignored.yaml"] + [os.path.relpath(p, d) for p in
                                                    sorted(glob.glob(f"{d}/fuzz_run*/*_simulate.yaml"))]:
        out.append([h, "simulate", "--plan", f"{d}/{f}"])
    out.append([h, "simulate", "--model", "llama3-8b", "--cluster", f"{d}/cluster_without_gpu.yaml",
                "--global-batch-size", "16"])
    out.append([h, "simulate", "--model", f"{d}/model_key_typo_ignored.yaml", "--cluster", "dgx-h100:1", "--tp", "8",
                "--global-batch-size", "8"])
    for m in sorted(glob.glob(f"{d}/fuzz_run*/*_plan_model.yaml")):
        out.append([h, "plan", "--model", m, "--cluster", m.replace("_model.yaml", "_cluster.yaml"),
                    "--global-batch-size", "64"])
    for v in sorted(glob.glob(f"{d}/fuzz_run*/*_validate.yaml")):
        out.append([h, "validate", v])
    # seq_overflow.sh: sequence lengths that overflowed int64 time and FLOP counts.
    for s in ("268435456", "1073741824", "2147483647", "4294967296"):
        out.append([h, "simulate", "--model", "llama3-8b", "--cluster", "dgx-h100:1", "--tp", "8",
                    "--global-batch-size", "8", "--seq-length", s])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("hpsim")
    ap.add_argument("source")
    ap.add_argument("--mpirun", default="")
    a = ap.parse_args()
    d = os.path.join(a.source, "tests/fuzz/reproducers")
    commands = cases(a.hpsim, d)
    if a.mpirun:  # the executor ones: refused by the pre-flight, before any training
        for f in sorted(glob.glob(f"{d}/exec/*.yaml")):
            commands.append(shlex.split(a.mpirun) + [a.hpsim, "run", "--plan", f, "--steps", "1"])
    mpirun_start_s = 0.0
    if a.mpirun:
        # mpirun alone, its ranks exiting 2 at once: its start and the teardown it does after a failed rank.
        mpirun_start_s = fuzz_inputs.run_case(shlex.split(a.mpirun) + ["sh", "-c", "exit 2"])[1]
    failures = 0
    for cmd in commands:
        code, secs, rss_kb, out, err = fuzz_inputs.run_case(cmd)
        mpi = bool(a.mpirun) and "run" in cmd
        problems = []
        if mpi and code != 2:  # bad input under mpirun: every rank agrees and exits 2, no abort's 1
            problems.append(f"exit {code} (2 expected): {err.strip()[-300:]}")
        elif code not in (2, 3):
            problems.append(f"exit {code} (2 or 3 expected): {err.strip()[-300:]}")
        lines = [l for l in err.splitlines() if l.startswith("hpsim")] if mpi else err.splitlines()
        if len(lines) != 1 and not mpi:
            problems.append(f"{len(lines)} lines on stderr (one expected): {err.strip()[-300:]}")
        if mpi and not lines:
            problems.append(f"no hpsim line on stderr: {err.strip()[-300:]}")
        # Under mpirun hpsim refuses the plan before hpsim-run (MPI, OpenBLAS) starts: a second beyond mpirun's own
        # start, which takes about a second on a busy 2-core machine (measured here with ranks that only exit 2).
        if mpi and secs > MPI_TIME_LIMIT_S + mpirun_start_s:
            # mpirun's own start varies with the machine's load: measure it again beside a second run of the case.
            mpirun_start_s = fuzz_inputs.run_case(shlex.split(a.mpirun) + ["sh", "-c", "exit 2"])[1]
            secs = min(secs, fuzz_inputs.run_case(cmd)[1])
        if secs > (TIME_LIMIT_S if not mpi else MPI_TIME_LIMIT_S + mpirun_start_s):
            problems.append(f"{secs:.2f} s" + (f" (mpirun alone {mpirun_start_s:.2f} s)" if mpi else ""))
        if rss_kb > MEMORY_LIMIT_KB:
            problems.append(f"peak memory {rss_kb // 1024} MB")
        known = mpi and os.path.basename(cmd[-3]) in KNOWN_OPEN
        status = "OPEN" if problems and known else "FAIL" if problems else "ok"
        problems = problems if not known else [f"(known, open) {p}" for p in problems]
        print(f"{status} exit {code} {secs:.2f} s {rss_kb // 1024} MB: {' '.join(cmd[cmd.index(a.hpsim) + 1:])}")
        for p in problems:
            print("  " + p)
        failures += bool(problems) and not known
    print(f"reproducers: {len(commands) - failures} of {len(commands)} refused quickly and in bounded memory")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
