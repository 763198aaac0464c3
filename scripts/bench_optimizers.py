"""Median time per optimizer step: minitrain vs plain NumPy vs PyTorch CPU (fused/foreach).

    python scripts/bench_optimizers.py [--sizes 1e3,1e4,1e5,1e6,1e7] [--only adam,sgd]

For every float32 size N and registry optimizer it prints the median seconds per step of

- minitrain: ``opt.step(p, g)`` (a new Python-float lr each step, as a trainer does);
- numpy:     the same update written with vectorised NumPy expressions, the way
             scikit-learn's ``_stochastic_optimizers`` does it (temporaries allocated);
- torch:     ``torch.optim`` with ``fused=True`` where torch has a fused CPU kernel, else
             ``foreach=True`` (only when torch is installed);

the ratios minitrain/torch and numpy/minitrain, and minitrain's effective GB/s (bytes
of the arrays it must read and write per step). Targets: minitrain/torch <= 1 at every
N; numpy/minitrain >= 4 for N <= 1e5. It also reports compile time with a cold cache and
load time with a warm one (each in a fresh process).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

# arrays read + written per element and step (params, grads, state), for GB/s
TRAFFIC = {"sgd": 3, "momentum": 5, "nesterov": 5, "adagrad": 5, "rmsprop": 5, "adam": 7,
           "adamax": 7, "nadam": 7, "adamw": 7, "radam": 7, "lion": 5}


def numpy_step(name):
    """A vectorised NumPy update (torch semantics, default hyperparameters)."""
    st = {}

    def sgd(p, g, lr, t, mu=0.0, nesterov=False):
        if mu:
            b = st.setdefault("b", g.copy()) if t == 1 else st["b"]
            if t > 1:
                b *= mu
                b += g
            g = g + mu * b if nesterov else b
        p -= lr * g

    def adagrad(p, g, lr, t):
        s = st.setdefault("s", np.zeros_like(p))
        s += g * g
        p -= lr * g / (np.sqrt(s) + np.float32(1e-10))

    def rmsprop(p, g, lr, t):
        v = st.setdefault("v", np.zeros_like(p))
        v *= np.float32(0.99)
        v += np.float32(0.01) * g * g
        p -= lr * g / (np.sqrt(v) + np.float32(1e-8))

    def adam(p, g, lr, t, wd=0.0):
        m = st.setdefault("m", np.zeros_like(p)); v = st.setdefault("v", np.zeros_like(p))
        if wd:
            p *= np.float32(1 - lr * wd)
        m += np.float32(0.1) * (g - m)
        v *= np.float32(0.999)
        v += np.float32(0.001) * g * g
        step = np.float32(lr / (1 - 0.9 ** t))
        p -= step * m / (np.sqrt(v) / np.float32((1 - 0.999 ** t) ** 0.5) + np.float32(1e-8))

    def adamax(p, g, lr, t):
        m = st.setdefault("m", np.zeros_like(p)); u = st.setdefault("u", np.zeros_like(p))
        m += np.float32(0.1) * (g - m)
        np.maximum(np.float32(0.999) * u, np.abs(g) + np.float32(1e-8), out=u)
        p -= np.float32(lr / (1 - 0.9 ** t)) * m / u

    def nadam(p, g, lr, t):
        m = st.setdefault("m", np.zeros_like(p)); v = st.setdefault("v", np.zeros_like(p))
        mp = st.setdefault("mp", [1.0])
        mu = 0.9 * (1 - 0.5 * 0.96 ** (t * 4e-3)); mu1 = 0.9 * (1 - 0.5 * 0.96 ** ((t + 1) * 4e-3))
        mp[0] *= mu
        m += np.float32(0.1) * (g - m)
        v *= np.float32(0.999)
        v += np.float32(0.001) * g * g
        den = np.sqrt(v / np.float32(1 - 0.999 ** t)) + np.float32(1e-8)
        p -= np.float32(lr * (1 - mu) / (1 - mp[0])) * g / den
        p -= np.float32(lr * mu1 / (1 - mp[0] * mu1)) * m / den

    def radam(p, g, lr, t):
        m = st.setdefault("m", np.zeros_like(p)); v = st.setdefault("v", np.zeros_like(p))
        m += np.float32(0.1) * (g - m)
        v *= np.float32(0.999)
        v += np.float32(0.001) * g * g
        rho_inf = 2 / 0.001 - 1
        rho_t = rho_inf - 2 * t * 0.999 ** t / (1 - 0.999 ** t)
        m_hat = m / np.float32(1 - 0.9 ** t)
        if rho_t > 5:
            r = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** .5
            p -= m_hat * np.float32(lr) * (np.float32((1 - 0.999 ** t) ** 0.5)
                                           / (np.sqrt(v) + np.float32(1e-8))) * np.float32(r)
        else:
            p -= m_hat * np.float32(lr)

    def lion(p, g, lr, t):
        m = st.setdefault("m", np.zeros_like(p))
        p -= np.float32(lr) * np.sign(m * np.float32(0.9) + g * np.float32(0.1))
        m *= np.float32(0.99)
        m += np.float32(0.01) * g

    return {"sgd": sgd, "momentum": lambda *a: sgd(*a, mu=0.9),
            "nesterov": lambda *a: sgd(*a, mu=0.9, nesterov=True), "adagrad": adagrad,
            "rmsprop": rmsprop, "adam": adam, "adamax": adamax, "nadam": nadam,
            "adamw": lambda *a: adam(*a, wd=1e-2), "radam": radam, "lion": lion}[name]


def torch_optimizer(torch, name, params):
    """torch.optim's optimizer for ``name`` (None for Lion: torch has none)."""
    o = torch.optim
    if name == "lion":
        return None, "-"
    cls, hp = {"sgd": (o.SGD, {}), "momentum": (o.SGD, {"momentum": 0.9}),
               "nesterov": (o.SGD, {"momentum": 0.9, "nesterov": True}),
               "adagrad": (o.Adagrad, {}), "rmsprop": (o.RMSprop, {}), "adam": (o.Adam, {}),
               "adamax": (o.Adamax, {}), "nadam": (o.NAdam, {}), "adamw": (o.AdamW, {}),
               "radam": (o.RAdam, {})}[name]
    try:
        return cls(params, fused=True, **hp), "fused"
    except (RuntimeError, TypeError, ValueError):
        return cls(params, foreach=True, **hp), "foreach"


def median_time(fn, n, budget=0.4, max_reps=2000):
    fn(0)                                                  # warm-up (state, first step)
    times = []
    start = time.perf_counter()
    for k in range(1, max_reps + 1):
        t0 = time.perf_counter()
        fn(k)
        times.append(time.perf_counter() - t0)
        if k >= 5 and time.perf_counter() - start > budget:
            break
    return statistics.median(times)


def torch_times(sizes, only):
    """{(name, n): (seconds, path)} measured in a separate process: torch's OpenMP threads
    spin after each call and would steal both cores from Numba's threads (and vice versa)."""
    import json
    code = (f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); "
            f"import bench_optimizers as b; b.torch_worker({sizes!r}, {only!r})")
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, env=peer_env()).stdout
    except subprocess.CalledProcessError as e:
        print("torch not available:", e.stderr.strip().splitlines()[-1])
        return {}
    return {(name, n): (t, path) for name, n, t, path in json.loads(out)}


def torch_worker(sizes, only):
    import json

    import torch
    torch.set_num_threads(os.cpu_count())
    rows = []
    for n in sizes:
        rng = np.random.default_rng(0)
        p0 = rng.normal(0, 1, n).astype(np.float32)
        g = (rng.normal(0, 1, n) * 1e-3).astype(np.float32)
        for name in only:
            tp = torch.nn.Parameter(torch.from_numpy(p0.copy()))
            tp.grad = torch.from_numpy(g)
            topt, path = torch_optimizer(torch, name, [tp])
            if topt is None:
                continue

            def torch_step(k):
                topt.param_groups[0]["lr"] = 1e-3 * (1 + 1e-3 * k)
                topt.step()
            rows.append((name, n, median_time(torch_step, n), path))
    print(json.dumps(rows))


def bench(sizes, only, use_torch):
    import minitrain as mt

    ref = torch_times(sizes, only) if use_torch else {}

    print(f"{'optimizer':9s} {'N':>8s} {'minitrain':>10s} {'numpy':>10s} {'torch':>10s} "
          f"{'torch path':10s} {'mt/torch':>8s} {'np/mt':>6s} {'mt GB/s':>8s}")
    for n in sizes:
        rng = np.random.default_rng(0)
        p0 = rng.normal(0, 1, n).astype(np.float32)
        g = (rng.normal(0, 1, n) * 1e-3).astype(np.float32)
        for name in only:
            p = p0.copy(); opt = mt.optim.get(name)

            def mt_step(k):
                opt.lr = 1e-3 * (1 + 1e-3 * k)
                opt.step(p, g)
            t_mt = median_time(mt_step, n)

            p = p0.copy(); np_fn = numpy_step(name)
            t_np = median_time(lambda k: np_fn(p, g, 1e-3 * (1 + 1e-3 * k), k + 1), n)

            t_torch, path = ref.get((name, n), (float("nan"), "-"))
            gbs = TRAFFIC[name] * 4 * n / t_mt / 1e9
            print(f"{name:9s} {n:8.0e} {t_mt * 1e6:8.1f}us {t_np * 1e6:8.1f}us "
                  f"{t_torch * 1e6:8.1f}us {path:10s} {t_mt / t_torch:8.2f} {t_np / t_mt:6.1f} "
                  f"{gbs:8.1f}", flush=True)


STARTUP = """
import time, numpy as np
t0 = time.perf_counter()
import minitrain as mt
p = np.ones(1000, np.float32); g = np.ones(1000, np.float32)
for name in mt.optim.names():
    opt = mt.optim.get(name); opt.step(p, g)
    {first}
print(time.perf_counter() - t0)
"""


def startup():
    """Cold-cache compile time and warm-cache import + first step, in fresh processes."""
    import minitrain

    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as cache:
        env["NUMBA_CACHE_DIR"] = cache                     # an empty cache: everything compiles
        code = STARTUP.replace("{first}", "")
        cold = float(subprocess.check_output([sys.executable, "-c", code], env=env))
        warm_all = float(subprocess.check_output([sys.executable, "-c", code], env=env))
        code1 = STARTUP.replace("{first}", "break")
        warm_one = min(float(subprocess.check_output([sys.executable, "-c", code1], env=env))
                       for _ in range(3))
    import minitrain.optim
    k = len(minitrain.optim.names())
    print(f"\nimport + first float32 step of all {k} optimizers, cold cache: {cold:.2f} s")
    print(f"import + first float32 step of all {k} optimizers, warm cache: {warm_all:.2f} s")
    print(f"import + first step of one optimizer (sgd), warm cache:      {warm_one:.2f} s "
          f"(target <= 0.5 s)")
    print(f"numba {__import__('numba').__version__}, {os.cpu_count()} CPUs, "
          f"PARALLEL_MIN_SIZE = {minitrain.optim._compile.PARALLEL_MIN_SIZE:.0e}")


#: what --extras times on adam: the gradient preparation options (optional work)
EXTRAS = {"plain": {}, "maximize": {"maximize": True}, "clipvalue": {"clipvalue": 1.0},
          "clipnorm/2 blocks": {"clipnorm": 1.0}, "global_clipnorm": {"global_clipnorm": 1.0},
          "decay mask": {"weight_decay": 0.01}}


def bench_extras(sizes):
    """Median step of adam with each gradient-preparation option (float32); the plain
    row is the path every run without these options takes."""
    import minitrain as mt

    print(f"\n{'adam with':18s} " + " ".join(f"{n:>10.0e}" for n in sizes))
    for label, hp in EXTRAS.items():
        row = []
        for n in sizes:
            rng = np.random.default_rng(0)
            p = rng.normal(0, 1, n).astype(np.float32)
            g = (rng.normal(0, 1, n) * 1e-3).astype(np.float32)
            opt = mt.optim.get("adam", **hp)
            opt.set_layout([(0, n // 2), (n // 2, n)])
            if label == "decay mask":
                opt.exclude_from_weight_decay(np.arange(n) % 10 == 0)

            def step(k):
                opt.lr = 1e-3 * (1 + 1e-3 * k)
                opt.step(p, g)
            row.append(median_time(step, n))
        print(f"{label:18s} " + " ".join(f"{t * 1e6:8.1f}us" for t in row), flush=True)


def peer_env():
    """The environment without the OMP_WAIT_POLICY that importing minitrain set, so that
    PyTorch and scikit-learn run with their own OpenMP defaults."""
    import minitrain
    env = dict(os.environ)
    if minitrain.SET_OMP_WAIT_POLICY:
        env.pop("OMP_WAIT_POLICY", None)
    return env


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1e3,1e4,1e5,1e6,1e7")
    ap.add_argument("--only", default=None, help="comma-separated registry names")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--no-startup", action="store_true")
    ap.add_argument("--extras", action="store_true",
                    help="also time adam with maximize, clipping and a weight-decay mask")
    args = ap.parse_args()
    import minitrain as mt

    sizes = [int(float(s)) for s in args.sizes.split(",")]
    only = args.only.split(",") if args.only else list(mt.optim.names())
    bench(sizes, only, not args.no_torch)
    if args.extras:
        bench_extras(sizes)
    if not args.no_startup:
        startup()


if __name__ == "__main__":
    main()
