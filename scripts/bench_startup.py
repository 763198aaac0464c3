"""Start-up time with warm caches: `minitrain --help` and a one-epoch `minitrain fit`.

Targets: `minitrain --help` <= 0.3 s, `minitrain fit --dataset moons --epochs 1 --quiet`
<= 1.5 s wall (Numba kernels loaded from the cache, the dataset from minitrain's cache).
Each command runs once to warm the caches, then 5 times; the median is reported.

    python scripts/bench_startup.py
"""
from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TARGETS = {"help": 0.3, "fit": 1.5, "import": None}


def wall(cmd, repeats=5):
    subprocess.run(cmd, check=True, capture_output=True)          # warm the caches
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    exe = shutil.which("minitrain") or f"{sys.executable} -m minitrain"
    base = exe.split()
    out = tempfile.mkdtemp()
    cases = [
        ("python -c 'import minitrain'", "import", [sys.executable, "-c", "import minitrain"]),
        ("minitrain --help", "help", [*base, "--help"]),
        ("minitrain fit --dataset moons --epochs 1 --quiet", "fit",
         [*base, "fit", "--dataset", "moons", "--epochs", "1", "--quiet", "--force",
          "--out", f"{out}/run"]),
    ]
    print(f"{'command':<52}{'median s':>10}{'target s':>10}  ok")
    for label, key, cmd in cases:
        t = wall(cmd)
        target = TARGETS[key]
        ok = "-" if target is None else ("yes" if t <= target else "NO")
        print(f"{label:<52}{t:>10.3f}{(target or float('nan')):>10.2f}  {ok}")
    shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
