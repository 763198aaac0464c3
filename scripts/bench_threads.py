"""Thread counts measured: minitrain's step time at 1 and 2 threads, alone, two runs at
once, and next to a busy process.

Each measurement is a fresh process that builds a run from the registry datasets
(:func:`minitrain.experiments.runs.build_run`), trains one warm-up epoch, then trains
inside :func:`minitrain.threads.limit` and reports the median, min and max time per step
over the epochs (the trainer's per-epoch ``seconds`` divided by the steps).

    python scripts/bench_threads.py                      # the grid, lone runs, 1 vs 2
    python scripts/bench_threads.py --mode pair          # two runs started together
    python scripts/bench_threads.py --mode busy          # next to `while True: pass`
    python scripts/bench_threads.py --threads 1 2 auto   # "auto": threads.choose
    python scripts/bench_threads.py --cases c784 --batches 128

Machines here are shared: read the load printed at the top (``uptime``) first.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from _bench import Background, wait_quiet

# name -> (run options, layer sizes as printed)
CASES = {
    "digits": ({"dataset": "digits", "hidden": [64, 64]}, "64-64-64-10"),
    "c100": ({"dataset": "classification", "n_samples": 6000, "n_features": 100,
              "n_classes": 10, "hidden": [256, 128]}, "100-256-128-10"),
    "c784": ({"dataset": "classification", "n_samples": 4000, "n_features": 784,
              "n_classes": 10, "hidden": [512, 256]}, "784-512-256-10"),
}
BATCHES = (32, 128, 256)
BUDGET = 1.5          # seconds of training per measurement (after the warm-up epoch)
SPIN = "while True: pass"


def one(case, batch, threads, budget):
    """In a fresh process: train one case; print a JSON line with per-step times."""
    from minitrain import threads as th
    from minitrain.experiments import runs
    options, _ = CASES[case]
    cfg = runs.resolve({**options, "batch_size": batch, "optimizer": "adam", "epochs": 1,
                        "val_split": 0.1, "test_split": 0.1})
    run = runs.build_run(cfg)
    from minitrain.train import fit          # not Run.train: it applies its own policy
    data = (run.data.arrays("train"), run.data.arrays("val"))
    with th.use(threads, run.model.layer_sizes, batch, cfg["dtype"]) as handle:
        kwargs = {**run.fit_kwargs(), "progress": False}
        rows = fit(run.model, run.optimizer, *data, **{**kwargs, "epochs": 1}).rows
        epochs = max(3, min(200, int(budget / max(rows[-1]["seconds"], 1e-4))))
        rows = fit(run.model, run.optimizer, *data, **{**kwargs, "epochs": epochs + 1},
                   start_epoch=1, callbacks=[handle]).rows    # "auto": adapts to the load
    steps = run.steps_per_epoch
    per_step = [r["seconds"] / steps for r in rows]
    print(json.dumps({"threads": handle.chosen, "now": handle.n,
                      "changes": len(handle.changes), "median": statistics.median(per_step),
                      "min": min(per_step), "max": max(per_step), "epochs": len(rows)}))


def launch(case, batch, threads, budget, env):
    cmd = [sys.executable, __file__, "--one", case, str(batch), str(threads),
           "--budget", str(budget)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)


def collect(proc):
    out, _ = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"measurement failed: {proc.args}")
    return json.loads(out.strip().splitlines()[-1])


def measure(case, batch, threads, mode, budget, env):
    """[result per process] for one case in one mode (lone, pair, busy)."""
    if mode == "pair":
        procs = [launch(case, batch, threads, budget, env) for _ in range(2)]
        return [collect(p) for p in procs]
    spinner = None
    if mode == "busy":
        spinner = subprocess.Popen([sys.executable, "-c", SPIN])
        time.sleep(0.5)
    try:
        return [collect(launch(case, batch, threads, budget, env))]
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()      # its CPU time counts as our children's: not background


def fmt(r):
    return (f"{r['median'] * 1e6:>8.0f}{r['min'] * 1e6:>7.0f}{r['max'] * 1e6:>7.0f}"
            f" ({r['threads']}{'>' + str(r['now']) if r['changes'] else ''})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("lone", "pair", "busy"), default="lone")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--batches", nargs="+", type=int, default=list(BATCHES))
    parser.add_argument("--threads", nargs="+", default=["1", "2"])
    parser.add_argument("--budget", type=float, default=BUDGET)
    parser.add_argument("--no-wait", action="store_true",
                        help="do not wait for a quiet machine before each measurement")
    parser.add_argument("--one", nargs=3, metavar=("CASE", "BATCH", "THREADS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one[0], int(args.one[1]), args.one[2], args.budget)
        return
    env = dict(os.environ)
    print(f"load {os.getloadavg()[0]:.2f}, mode {args.mode}, OMP_WAIT_POLICY="
          f"{env.get('OMP_WAIT_POLICY', '(minitrain default)')}; us per step: "
          "median min max (threads)")
    width = 29 if args.mode != "pair" else 58
    head = "".join(f"{'threads ' + t:>{width}}" for t in args.threads)
    print(f"{'case':<24}{head}   background cores")
    for case in args.cases:
        for batch in args.batches:
            cells, noise = [], []
            for t in args.threads:
                if not args.no_wait:
                    wait_quiet()
                with Background() as bg:
                    results = measure(case, batch, t, args.mode, args.budget, env)
                noise.append(f"{bg.cores:.2f}")
                cells.append(" |".join(fmt(r) for r in results))
            label = f"{CASES[case][1]} b{batch}"
            width = 29 if args.mode != "pair" else 58
            print(f"{label:<24}" + "".join(f"{c:>{width}}" for c in cells)
                  + "   " + " ".join(noise), flush=True)


if __name__ == "__main__":
    main()
