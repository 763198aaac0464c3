"""Training speed: minitrain vs scikit-learn's MLPClassifier vs PyTorch eager, per step.

Same architecture, optimizer (Adam, lr 1e-3), batch size and float32 data for all three.
Every framework runs in its own process (PyTorch's OpenMP threads keep spinning after
its last call and would slow whatever runs next in the same process), trains one
warm-up epoch, then reports the time per optimizer step of every further epoch; the
table prints the median, min and max over those epochs (microseconds), the ratios of
the medians, and:

* the GEMM floor: the step's matrix products alone (3 per layer, minus one), timed with
  NumPy at 1 and at 2 threads; the faster is shown, with its thread count;
* minitrain's thread count: its default policy (:func:`minitrain.threads.use` with
  "auto"), scikit-learn and PyTorch run with their own defaults;
* "x2": the same case as two processes started together, per step in each, and the
  ratio to the lone run's median;
* the cold start: ``minitrain fit --dataset digits --epochs 1`` with an empty Numba
  cache (``NUMBA_CACHE_DIR`` in a new temporary folder), wall and CPU seconds;
* "bg": the cores other processes kept busy while a row was measured. Rows measured on
  a busy machine are slow for reasons that are not minitrain's; read them with that.

Then a memory check with tracemalloc: growth across epochs and the peak over the bytes
of data + parameters + gradients + optimizer state.

    python scripts/bench_training.py            # all cases, a few minutes
    python scripts/bench_training.py --quick    # fewer epochs, no memory check
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np

from _bench import Background, background_now, fmt_stats

CASES = [("digits", 32), ("classification", 32), ("classification", 256), ("random784", 128)]
PAIR_CASES = [("classification", 32), ("random784", 128)]
FRAMEWORKS = ("minitrain", "sklearn", "torch")
BUDGET = 1.5                      # seconds of timed training per framework and case


# case -> (inputs, hidden layers); 10 classes each
SHAPES = {"digits": (64, [64]), "classification": (100, [256, 128]),
          "random784": (784, [512, 256])}


def make_case(name, rng):
    from sklearn.datasets import load_digits, make_classification
    if name == "digits":
        X, y = load_digits(return_X_y=True)
    elif name == "classification":
        X, y = make_classification(n_samples=4000, n_features=100, n_informative=30,
                                   n_classes=10, random_state=0)
    else:
        X = rng.normal(size=(4096, 784))
        y = rng.integers(0, 10, 4096)
    return X, y, SHAPES[name][1]


def epochs_for(first_epoch_seconds, budget):
    return max(3, min(100, int(budget / max(first_epoch_seconds, 1e-4))))


def time_minitrain(X, y, hidden, batch, budget):
    """Per-step seconds of each epoch after a warm-up epoch, under the default policy."""
    import minitrain as mt          # imported here only: it sets OMP_WAIT_POLICY for its process
    from minitrain import threads
    model = mt.MLP([X.shape[1], *hidden, 10], activation="relu", dtype="float32", seed=0)
    opt = mt.optim.get("adam", lr=1e-3)
    with threads.use("auto", model.layer_sizes, batch, "float32") as pool:
        rows = mt.fit(model, opt, (X, y), epochs=1, batch_size=batch, progress=False).rows
        epochs = epochs_for(rows[0]["seconds"], budget)
        h = mt.fit(model, opt, (X, y), epochs=epochs + 1, start_epoch=1, batch_size=batch,
                   progress=False, callbacks=[pool])
    steps = -(-X.shape[0] // batch)
    return [r["seconds"] / steps for r in h.rows], pool.chosen


def time_sklearn(X, y, hidden, batch, budget):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=hidden, solver="adam", learning_rate_init=1e-3,
                        batch_size=batch, alpha=0.0, shuffle=True, random_state=0)
    classes = np.unique(y)
    steps = -(-X.shape[0] // batch)
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        epochs = 1
        while len(times) < epochs + 1:          # partial_fit: one epoch per call
            t = time.perf_counter()
            clf.partial_fit(X, y, classes=classes)
            times.append((time.perf_counter() - t) / steps)
            if len(times) == 1:
                epochs = epochs_for(times[0] * steps, budget)
    return times[1:], None


def time_torch(X, y, hidden, batch, budget):
    try:
        import torch
    except ImportError:
        return [], None
    sizes = [X.shape[1], *hidden, 10]
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    Xt, yt = torch.tensor(X), torch.tensor(y, dtype=torch.long)
    n = X.shape[0]
    steps = -(-n // batch)
    g = torch.Generator().manual_seed(0)
    times, epochs = [], 1
    while len(times) < epochs + 1:
        t = time.perf_counter()
        perm = torch.randperm(n, generator=g)
        for s in range(0, n, batch):
            idx = perm[s:s + batch]
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(net(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        times.append((time.perf_counter() - t) / steps)
        if len(times) == 1:
            epochs = epochs_for(times[0] * steps, budget)
    return times[1:], torch.get_num_threads()


def gemm_floor(X, hidden, batch, budget):
    """Per-step seconds of the step's matrix products alone, at 1 and 2 BLAS threads:
    (times at the faster count, that count)."""
    from threadpoolctl import threadpool_limits
    sizes = [X.shape[1], *hidden, 10]
    rng = np.random.default_rng(0)
    Ws = [rng.normal(size=(a, b)).astype(np.float32) for a, b in zip(sizes[:-1], sizes[1:])]
    A0 = X[:batch]
    outs = [np.empty((batch, b), np.float32) for b in sizes[1:]]
    dWs = [np.empty_like(W) for W in Ws]
    deltas = [np.empty((batch, a), np.float32) for a in sizes[1:-1]]

    def step():
        A = A0
        for W, out in zip(Ws, outs):
            np.dot(A, W, out)
            A = out
        D = outs[-1]
        for i in range(len(Ws) - 1, -1, -1):
            np.dot((outs[i - 1] if i else A0).T, D, dWs[i])
            if i:
                np.dot(D, Ws[i].T, deltas[i - 1])
                D = deltas[i - 1]

    best = None
    for n in (1, 2):
        with threadpool_limits(n):
            t = time.perf_counter()
            for _ in range(20):
                step()
            reps = max(50, int(budget / 10 / ((time.perf_counter() - t) / 20)))
            times = []
            for _ in range(9):
                t = time.perf_counter()
                for _ in range(reps):
                    step()
                times.append((time.perf_counter() - t) / reps)
        if best is None or statistics.median(times) < statistics.median(best[0]):
            best = (times, n)
    return best


def memory_check(X, y, hidden, batch, epochs=6):
    import minitrain as mt
    model = mt.MLP([X.shape[1], *hidden, 10], dtype="float32", seed=0)
    opt = mt.optim.get("adam", lr=1e-3)
    Xc = model.check_X(X)
    Y = model.check_y(y, X.shape[0])
    mt.fit(model, opt, (Xc, y), epochs=1, batch_size=batch, progress=False)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    peaks = []
    for e in range(2, epochs + 1):
        tracemalloc.reset_peak()
        mt.fit(model, opt, (Xc, y), epochs=1, batch_size=batch, progress=False)
        peaks.append(tracemalloc.get_traced_memory())
    tracemalloc.stop()
    state = sum(v.nbytes for v in opt.state.values())
    core = Xc.nbytes + Y.nbytes + model.params.nbytes + model.grads.nbytes + state
    growth = peaks[-1][0] - peaks[0][0]
    peak = max(p[1] for p in peaks) - base
    return core, peak, growth


TIMERS = {"minitrain": time_minitrain, "sklearn": time_sklearn, "torch": time_torch,
          "gemm": lambda X, y, h, b, budget: gemm_floor(X, h, b, budget)}


def load(case):
    X, y, hidden = make_case(case, np.random.default_rng(0))
    X = ((X - X.mean(0)) / (X.std(0) + 1e-8)).astype(np.float32)
    return X, y, hidden


def one(case, batch, framework, budget):
    """Time one framework on one case (run in its own process); print a JSON line."""
    X, y, hidden = load(case)
    times, threads = TIMERS[framework](X, y, hidden, batch, budget)
    print(json.dumps({"times": times, "threads": threads}))


def peer_env():
    """The environment without the OMP_WAIT_POLICY that importing minitrain set, so that
    PyTorch and scikit-learn run with their own OpenMP defaults."""
    import minitrain
    env = dict(os.environ)
    if minitrain.SET_OMP_WAIT_POLICY:
        env.pop("OMP_WAIT_POLICY", None)
    return env


def start(case, batch, framework, budget):
    cmd = [sys.executable, __file__, "--one", case, str(batch), framework,
           "--budget", str(budget)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=peer_env())


def finish(proc):
    out, _ = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"benchmark process failed: {' '.join(proc.args)}")
    return json.loads(out.strip().splitlines()[-1])


def measure(case, batch, framework, budget, copies=1):
    """Results of ``copies`` processes started together."""
    procs = [start(case, batch, framework, budget) for _ in range(copies)]
    return [finish(p) for p in procs]


def median(result):
    return statistics.median(result["times"]) if result["times"] else None


def ratio(a, b, width):
    return f"{a / b:>{width}.2f}" if a and b else f"{'-':>{width}}"


def label_of(case, batch):
    n_in, hidden = SHAPES[case]
    return f"{case} {n_in}-{'-'.join(map(str, hidden))}-10 b{batch}"


def speed_table(budget):
    print(f"{'':<34}{'minitrain':^26}{'scikit-learn':^22}{'PyTorch':^26}{'GEMM floor':^18}"
          f"{'skl/':>6}{'torch/':>7}{'mt/':>6}")
    print(f"{'case (us per step)':<34}" + f"{'median   min   max  thr':>26}"
          + f"{'median   min   max':>22}" + f"{'median   min   max  thr':>26}"
          + f"{'median  thr':>18}{'mt':>6}{'mt':>7}{'GEMM':>6}{'bg':>6}")
    lone = {}
    for case, batch in CASES:
        with Background() as bg:
            res = {f: measure(case, batch, f, budget)[0] for f in (*FRAMEWORKS, "gemm")}
        lone[case, batch] = res
        mt, sk, th, gm = (median(res[f]) for f in (*FRAMEWORKS, "gemm"))
        print(f"{label_of(case, batch):<34}"
              f"{fmt_stats(res['minitrain']['times'])}{res['minitrain']['threads']:>5}"
              f"{fmt_stats(res['sklearn']['times'])}"
              f"{fmt_stats(res['torch']['times'])}{res['torch']['threads'] or '-':>5}"
              f"{gm * 1e6:>13.0f}{res['gemm']['threads']:>5}"
              f"{ratio(sk, mt, 6)}{ratio(th, mt, 7)}{ratio(mt, gm, 6)}{bg.cores:>6.2f}",
              flush=True)
    return lone


def pair_table(lone, budget):
    print("\ntwo processes started together (x2): us per step, median of each process, "
          "and the slower one / the lone run's median")
    print(f"{'case':<34}" + "".join(f"{f:>24}" for f in FRAMEWORKS) + f"{'bg':>6}")
    for case, batch in PAIR_CASES:
        cells = []
        with Background() as bg:
            for f in FRAMEWORKS:
                res = measure(case, batch, f, budget, copies=2)
                meds = [median(r) for r in res]
                solo = median(lone[case, batch][f]) if (case, batch) in lone else None
                if None in meds:
                    cells.append(f"{'-':>24}")
                    continue
                worst = f"{max(meds) / solo:.2f}x" if solo else "-"
                cells.append(f"{meds[0] * 1e6:>9.0f}{meds[1] * 1e6:>8.0f}{worst:>7}")
        print(f"{label_of(case, batch) + ' x2':<34}" + "".join(cells) + f"{bg.cores:>6.2f}",
              flush=True)


def cold_start_line():
    from bench_startup import cold_fit
    wall, cpu = cold_fit()
    print(f"\ncold start: minitrain fit --dataset digits --epochs 1, empty Numba cache: "
          f"{wall:.2f} s wall, {cpu:.2f} s CPU (target 4 s)")


def memory_table():
    print("\nmemory (tracemalloc, 5 epochs after warm-up)")
    print(f"{'case':<28}{'core MB':>9}{'peak MB':>9}{'peak/core':>10}{'growth B':>10}")
    for name, batch in CASES:
        X, y, hidden = load(name)
        core, peak, growth = memory_check(X, y, hidden, batch)
        label = f"{name} b{batch}"
        print(f"{label:<28}{core / 1e6:>9.2f}{peak / 1e6:>9.2f}{peak / core:>10.2f}"
              f"{growth:>10d}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter timings, no memory")
    parser.add_argument("--budget", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--no-cold", action="store_true", help="skip the cold start")
    parser.add_argument("--one", nargs=3, metavar=("CASE", "BATCH", "FRAMEWORK"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    budget = args.budget or (0.5 if args.quick else BUDGET)
    if args.one:
        one(args.one[0], int(args.one[1]), args.one[2], budget)
        return
    print(f"load average {os.getloadavg()[0]:.2f}; other processes use "
          f"{background_now():.2f} cores now (bg column: during each row)")
    lone = speed_table(budget)
    pair_table(lone, budget)
    if not args.no_cold:
        cold_start_line()
    if not args.quick:
        memory_table()


if __name__ == "__main__":
    main()
