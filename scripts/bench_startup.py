"""Start-up time: `minitrain --help`, a one-epoch `minitrain fit` with warm caches, and
the first run after installing (an empty Numba cache).

Targets: `minitrain --help` <= 0.3 s, `minitrain fit --dataset moons --epochs 1 --quiet`
<= 1.5 s wall (Numba kernels loaded from the cache, the dataset from minitrain's cache),
`minitrain fit --dataset digits --epochs 1` with an empty Numba cache <= 4 s (issue 17).
Warm commands run once to warm the caches, then 5 times; a cold run gets a new empty
``NUMBA_CACHE_DIR`` each time (3 times). The table prints median, min and max wall
seconds, the median CPU seconds of the process (the part a busy machine does not
inflate) and the cores other processes kept busy meanwhile (bg).

    python scripts/bench_startup.py
    python scripts/bench_startup.py --cold 1      # one cold run (each takes ~10 s today)
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from _bench import Background

TARGETS = {"help": 0.3, "fit": 1.5, "import": None, "cold": 4.0}


def exe():
    found = shutil.which("minitrain")
    return [found] if found else [sys.executable, "-m", "minitrain"]


def run_once(cmd, env=None):
    """(wall seconds, CPU seconds of the child) of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def fit_cmd(out, dataset="digits"):
    return [*exe(), "fit", "--dataset", dataset, "--epochs", "1", "--quiet", "--force",
            "--out", out]


def cold_fit(dataset="digits"):
    """(wall, CPU) seconds of one ``minitrain fit --dataset digits --epochs 1`` with an
    empty Numba cache (the dataset itself comes from minitrain's warm data cache)."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(fit_cmd(f"{tmp}/warm", dataset), check=True, capture_output=True)
        env = {**os.environ, "NUMBA_CACHE_DIR": f"{tmp}/numba"}
        return run_once(fit_cmd(f"{tmp}/run", dataset), env=env)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=3, help="cold runs (0: none)")
    args = parser.parse_args()
    out = tempfile.mkdtemp()
    cases = [
        ("python -c 'import minitrain'", "import", [sys.executable, "-c", "import minitrain"]),
        ("minitrain --help", "help", [*exe(), "--help"]),
        ("minitrain fit --dataset moons --epochs 1 --quiet", "fit",
         fit_cmd(f"{out}/run", "moons")),
    ]
    print(f"{'command':<56}{'median':>8}{'min':>7}{'max':>7}{'CPU':>7}{'target':>8}  ok"
          f"{'bg':>6}")

    def row(label, key, results, bg):
        walls = [w for w, _ in results]
        cpu = statistics.median(c for _, c in results)
        t, target = statistics.median(walls), TARGETS[key]
        ok = "-" if target is None else ("yes" if t <= target else "NO")
        print(f"{label:<56}{t:>8.2f}{min(walls):>7.2f}{max(walls):>7.2f}{cpu:>7.2f}"
              f"{(target or float('nan')):>8.2f}  {ok:<3}{bg.cores:>5.2f}", flush=True)

    for label, key, cmd in cases:
        subprocess.run(cmd, check=True, capture_output=True)          # warm the caches
        with Background() as bg:
            results = [run_once(cmd) for _ in range(5)]
        row(label, key, results, bg)
    if args.cold:
        with Background() as bg:
            results = [cold_fit() for _ in range(args.cold)]
        row("minitrain fit --dataset digits --epochs 1 (empty cache)", "cold", results, bg)
    shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
