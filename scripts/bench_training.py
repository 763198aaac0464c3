"""Training speed: minitrain vs scikit-learn's MLPClassifier vs PyTorch eager, per step.

Same architecture, optimizer (Adam, lr 1e-3), batch size, epochs and float32 data for
all three; the table prints microseconds per optimizer step, the ratios, and the GEMM
floor: the step's matrix products alone (3 per layer, minus one), timed with NumPy in
the same run. Then a memory check with tracemalloc: growth across epochs and the peak
over the bytes of data + parameters + gradients + optimizer state.

    python scripts/bench_training.py            # all cases
    python scripts/bench_training.py --quick    # fewer epochs

Not a test: machines here are shared and noisy; run it and read the ratios. Every
measurement runs in a fresh process: PyTorch's OpenMP threads keep spinning after its
last call and would slow whatever runs next in the same process.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np


def make_case(name, rng):
    from sklearn.datasets import load_digits, make_classification
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        return X, y, [64]
    if name == "classification":
        X, y = make_classification(n_samples=4000, n_features=100, n_informative=30,
                                   n_classes=10, random_state=0)
        return X, y, [256, 128]
    X = rng.normal(size=(4096, 784))
    y = rng.integers(0, 10, 4096)
    return X, y, [512, 256]


CASES = [("digits", 32), ("classification", 32), ("classification", 256), ("random784", 128)]


def time_minitrain(X, y, hidden, batch, epochs):
    import minitrain as mt          # imported here only: it sets OMP_WAIT_POLICY for its process
    model = mt.MLP([X.shape[1], *hidden, 10], activation="relu", dtype="float32", seed=0)
    opt = mt.optim.get("adam", lr=1e-3)
    mt.fit(model, opt, (X, y), epochs=1, batch_size=batch, progress=False)   # warm-up
    model = mt.MLP([X.shape[1], *hidden, 10], activation="relu", dtype="float32", seed=0)
    opt = mt.optim.get("adam", lr=1e-3)
    t = time.perf_counter()
    h = mt.fit(model, opt, (X, y), epochs=epochs, batch_size=batch, progress=False)
    return (time.perf_counter() - t) / h.rows[-1]["step"]


def time_sklearn(X, y, hidden, batch, epochs):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=hidden, solver="adam", learning_rate_init=1e-3,
                        batch_size=batch, max_iter=epochs, tol=0, n_iter_no_change=10**9,
                        alpha=0.0, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t = time.perf_counter()
        clf.fit(X, y)
        dt = time.perf_counter() - t
    return dt / (clf.n_iter_ * -(-X.shape[0] // batch))


def time_torch(X, y, hidden, batch, epochs):
    try:
        import torch
    except ImportError:
        return None
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
    g = torch.Generator().manual_seed(0)
    steps = 0
    t = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        for s in range(0, n, batch):
            idx = perm[s:s + batch]
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(net(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            steps += 1
    return (time.perf_counter() - t) / steps


def gemm_floor(X, hidden, batch, repeats=2000):
    sizes = [X.shape[1], *hidden, 10]
    rng = np.random.default_rng(0)
    Ws = [rng.normal(size=(a, b)).astype(np.float32) for a, b in zip(sizes[:-1], sizes[1:])]
    A0 = X[:batch]
    outs = [np.empty((batch, b), np.float32) for b in sizes[1:]]
    dWs = [np.empty_like(W) for W in Ws]
    deltas = [np.empty((batch, a), np.float32) for a in sizes[1:-1]]
    times = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(repeats // 5):
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
        times.append((time.perf_counter() - t) / (repeats // 5))
    return statistics.median(times)


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


TIMERS = {"minitrain": lambda *a: time_minitrain(*a), "sklearn": lambda *a: time_sklearn(*a),
          "torch": lambda *a: time_torch(*a), "gemm": lambda X, y, h, b, e: gemm_floor(X, h, b)}


def one(case, batch, framework, quick):
    """Time one framework on one case (run in its own process); print seconds per step."""
    rng = np.random.default_rng(0)
    X, y, hidden = make_case(case, rng)
    X = ((X - X.mean(0)) / (X.std(0) + 1e-8)).astype(np.float32)
    n_batches = -(-X.shape[0] // batch)
    epochs = max(2, min(20, 600 // n_batches)) if not quick else 2
    if framework in ("sklearn", "torch"):
        epochs = max(2, epochs // 2)
    t = TIMERS[framework](X, y, hidden, batch, epochs)
    print("nan" if t is None else repr(t))


def measure(case, batch, framework, quick):
    cmd = [sys.executable, __file__, "--one", case, str(batch), framework]
    out = subprocess.run(cmd + (["--quick"] if quick else []), capture_output=True,
                         text=True, check=True, env=peer_env()).stdout.strip().splitlines()[-1]
    value = float(out)
    return None if value != value else value


def peer_env():
    """The environment without the OMP_WAIT_POLICY that importing minitrain set, so that
    PyTorch and scikit-learn run with their own OpenMP defaults."""
    import minitrain
    env = dict(os.environ)
    if minitrain.SET_OMP_WAIT_POLICY:
        env.pop("OMP_WAIT_POLICY", None)
    return env


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--one", nargs=3, metavar=("CASE", "BATCH", "FRAMEWORK"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one[0], int(args.one[1]), args.one[2], args.quick)
        return
    rng = np.random.default_rng(0)
    print(f"{'case':<28}{'minitrain':>10}{'sklearn':>10}{'torch':>10}{'GEMM':>8}"
          f"{'skl/mt':>8}{'torch/mt':>9}{'mt/GEMM':>8}   (us per step)")
    for name, batch in CASES:
        X, y, hidden = make_case(name, rng)
        mt_t, sk_t, th_t, floor = (measure(name, batch, f, args.quick)
                                   for f in ("minitrain", "sklearn", "torch", "gemm"))
        label = f"{name} {X.shape[1]}-{'-'.join(map(str, hidden))}-10 b{batch}"
        th = f"{th_t * 1e6:>10.1f}" if th_t else f"{'-':>10}"
        th_r = f"{th_t / mt_t:>9.2f}" if th_t else f"{'-':>9}"
        print(f"{label:<28}{mt_t * 1e6:>10.1f}{sk_t * 1e6:>10.1f}{th}{floor * 1e6:>8.1f}"
              f"{sk_t / mt_t:>8.2f}{th_r}{mt_t / floor:>8.2f}", flush=True)
    print("\nmemory (tracemalloc, 5 epochs after warm-up)")
    print(f"{'case':<28}{'core MB':>9}{'peak MB':>9}{'peak/core':>10}{'growth B':>10}")
    for name, batch in CASES:
        X, y, hidden = make_case(name, rng)
        X = ((X - X.mean(0)) / (X.std(0) + 1e-8)).astype(np.float32)
        core, peak, growth = memory_check(X, y, hidden, batch)
        label = f"{name} b{batch}"
        print(f"{label:<28}{core / 1e6:>9.2f}{peak / 1e6:>9.2f}{peak / core:>10.2f}"
              f"{growth:>10d}")


if __name__ == "__main__":
    main()
