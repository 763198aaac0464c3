"""optax schedule goldens: ``tests/goldens/schedules_optax.npz``.

optax's schedules in float64 (``jax_enable_x64``), at every step ``0 .. N-1``. Keys
``<kind>/<case>/config`` (JSON of the *minitrain* side) and ``<kind>/<case>/lr``:

==============  ======================================================  ====================
kind            optax                                                   minitrain
==============  ======================================================  ====================
warmup_cosine   warmup_cosine_decay_schedule(start, lr, W, T, min_lr)   cosine(lr, T, min_lr,
                                                                        W, warmup_start)
join            join_schedules([...], boundaries)                       sequential
warmup          join_schedules([linear_schedule(start, lr0, W), s],     with_warmup(s, W,
                [W])                                                    warmup_start)
==============  ======================================================  ====================

Needs ``pip install optax`` (pulls jax). Run: ``python scripts/goldens_optax_schedules.py
[OUTDIR]`` or ``scripts/make_goldens.py``. minitrain and its tests never import optax.
"""
from __future__ import annotations

import json
import pathlib
import sys

import numpy as np

N = 400
WARMUP_COSINE = {   # minitrain cosine parameters
    "W50_T300": dict(lr=0.1, total_steps=300, warmup_steps=50),
    "W30_T100_start_min": dict(lr=1.0, total_steps=100, min_lr=0.05, warmup_steps=30,
                               warmup_start=0.1),
    "W4_T10_min": dict(lr=1.0, total_steps=10, min_lr=0.1, warmup_steps=4),
}


def join_cases(optax):
    """{case: (minitrain sequential config, optax schedule)}."""
    return {
        "linear_cosine": (
            dict(schedules=[dict(name="linear", lr=0.1, start_factor=0.1, total_steps=20),
                            dict(name="cosine", lr=0.1, total_steps=200, min_lr=0.001)],
                 boundaries=[20]),
            optax.join_schedules([optax.linear_schedule(0.01, 0.1, 20),
                                  optax.cosine_decay_schedule(0.1, 200, alpha=0.01)], [20])),
        "constant_staircase_polynomial": (
            dict(schedules=[dict(name="constant", lr=0.05),
                            dict(name="exponential", lr=0.05, rate=0.5, steps=10,
                                 staircase=True),
                            dict(name="polynomial", lr=0.02, total_steps=100, end_lr=0.001,
                                 power=2.0)],
                 boundaries=[30, 130]),
            optax.join_schedules([optax.constant_schedule(0.05),
                                  optax.exponential_decay(0.05, 10, 0.5, staircase=True),
                                  optax.polynomial_schedule(0.02, 0.001, 2.0, 100)],
                                 [30, 130])),
    }


def warmup_cases(optax):
    """{case: (minitrain with_warmup config, optax schedule)}."""
    return {
        "exponential_W25": (
            dict(warmup_steps=25, warmup_start=0.0,
                 schedule=dict(name="exponential", lr=0.2, rate=0.3, steps=40)),
            optax.join_schedules([optax.linear_schedule(0.0, 0.2, 25),
                                  optax.exponential_decay(0.2, 40, 0.3)], [25])),
        "polynomial_W10_start": (
            dict(warmup_steps=10, warmup_start=0.01,
                 schedule=dict(name="polynomial", lr=0.1, total_steps=200, end_lr=0.001)),
            optax.join_schedules([optax.linear_schedule(0.01, 0.1, 10),
                                  optax.polynomial_schedule(0.1, 0.001, 1.0, 200)], [10])),
    }


def main(outdir: pathlib.Path):
    try:
        import jax
        import optax
    except ImportError:                    # make_goldens.py runs every script: say so
        print("optax is not installed (pip install optax): schedules_optax.npz kept")
        return
    jax.config.update("jax_enable_x64", True)

    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    out = {}

    def put(kind, case, cfg, f):
        out[f"{kind}/{case}/config"] = np.array(json.dumps(cfg))
        out[f"{kind}/{case}/lr"] = np.array([float(f(k)) for k in range(N)])

    for case, cfg in WARMUP_COSINE.items():
        f = optax.warmup_cosine_decay_schedule(
            cfg.get("warmup_start", 0.0), cfg["lr"], cfg["warmup_steps"],
            cfg["total_steps"], end_value=cfg.get("min_lr", 0.0))
        put("warmup_cosine", case, cfg, f)
    for case, (cfg, f) in join_cases(optax).items():
        put("join", case, cfg, f)
    for case, (cfg, f) in warmup_cases(optax).items():
        put("warmup", case, cfg, f)
    out["versions"] = np.array(json.dumps({"optax": optax.__version__,
                                           "jax": jax.__version__}))
    path = outdir / "schedules_optax.npz"
    np.savez_compressed(path, **out)
    print(f"wrote {path}")


if __name__ == "__main__":
    root = pathlib.Path(__file__).resolve().parent.parent
    main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root / "tests" / "goldens")
