"""Sweep throughput: the same 8 digits configs with 1 worker and with 2 workers.

    python scripts/bench_sweep.py [--epochs 40] [--hidden 256,256] [--repeats 3]

"1 worker" is ``--jobs 1`` (runs one after another in this process); "2 workers" is
``--jobs 2`` (two loky worker processes, one BLAS and one Numba thread each). Every
timing is a whole ``mt.sweep`` call into an empty directory, so the 2-worker time
includes starting the workers, importing minitrain there and loading the Numba cache
(the first repeat starts the processes; loky reuses them afterwards, as it does
within one sweep). The table shows the median of the repeats; the target on a
2-core machine is a speed-up of at least 1.7x. The results of both are compared
bit for bit (params_sha256 of every run).

"run wall/CPU" is the runs' wall time over their CPU time: about 1 when every run
has a core to itself, about 2 when two runs share one. A control line measures what
two processes can get on this machine at all: a
pure-Python loop, 4 chunks, serial vs 2 loky processes. On a machine whose two cores
are shared with other work the sweep cannot beat that number.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import minitrain as mt
from minitrain.experiments.sweep import expand


def grid(epochs, hidden):
    return {"dataset": "digits", "epochs": epochs, "hidden": hidden,
            "optimizer": ["adam", "nadam", "momentum", "rmsprop"], "seed": [0, 1]}


def _spin(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def control(n=3_000_000):
    """Speed-up of 2 loky processes over serial on a pure-Python loop."""
    from joblib import Parallel, delayed
    Parallel(n_jobs=2)(delayed(_spin)(10) for _ in range(2))       # start the workers
    started = time.perf_counter()
    for _ in range(4):
        _spin(n)
    serial = time.perf_counter() - started
    started = time.perf_counter()
    Parallel(n_jobs=2)(delayed(_spin)(n) for _ in range(4))
    return serial / (time.perf_counter() - started)


def timed_sweep(g, jobs):
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        result = mt.sweep(g, out, jobs=jobs, progress=False)
        seconds = time.perf_counter() - started
    assert not result.failed and result.ran == len(result.configs)
    wait = sum(r["wall_seconds"] for r in result.results) / \
        sum(r["cpu_seconds"] for r in result.results)
    return seconds, {r["hash"]: r["summary"]["params_sha256"] for r in result.results}, wait


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--hidden", default="256,256")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    hidden = [int(h) for h in args.hidden.split(",")]
    g = grid(args.epochs, hidden)
    load_before = os.getloadavg()[0]
    n = len(expand(g))
    mt.data.load("digits")                       # fill the dataset cache first
    timed_sweep({**g, "epochs": 1, "seed": 0}, 1)   # and the Numba cache
    times, waits = {1: [], 2: []}, {1: [], 2: []}
    hashes = {}
    for _ in range(args.repeats):
        for jobs in (1, 2):
            seconds, hashes[jobs], wait = timed_sweep(g, jobs)
            times[jobs].append(seconds)
            waits[jobs].append(wait)
    one, two = statistics.median(times[1]), statistics.median(times[2])
    print(f"sweep throughput: {n} configs of digits (hidden {args.hidden}, {args.epochs} "
          f"epochs, batch 32), {os.cpu_count()} cores, median of {args.repeats}; 1-min load "
          f"average before/after {load_before:.2f}/{os.getloadavg()[0]:.2f}")
    print(f"{'workers':>8}  {'seconds':>8}  {'runs/min':>8}  {'speed-up':>8}  "
          f"{'run wall/CPU':>12}  all repeats (s)")
    for jobs, median in ((1, one), (2, two)):
        runs = " ".join(f"{t:.2f}" for t in times[jobs])
        wait = statistics.median(waits[jobs])
        print(f"{jobs:>8}  {median:>8.2f}  {60 * n / median:>8.1f}  {one / median:>7.2f}x  "
              f"{wait:>11.2f}x  {runs}")
    same = hashes[1] == hashes[2]
    print(f"results identical (params_sha256 of all {n} runs): {same}")
    print(f"target >= 1.7x: {'met' if one / two >= 1.7 else 'NOT met'} ({one / two:.2f}x); "
          f"control, pure-Python loop on 2 processes: {control():.2f}x")


if __name__ == "__main__":
    main()
