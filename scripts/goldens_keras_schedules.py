"""Keras 3 schedule goldens: ``tests/goldens/keras_schedules.npz``.

Keras's own schedule classes (``keras.optimizers.schedules``, float64 via
``keras.config.set_floatx("float64")``), evaluated at every step ``0 .. N-1``, well past
the end of each decay; plus torch's periodic ``CosineAnnealingLR`` past ``T_max`` (the
other convention of minitrain's ``cosine``). Keys ``<kind>/<case>/config`` (JSON of the
*minitrain* schedule's parameters) and ``<kind>/<case>/lr``:

=================  ==========================================================  =================
kind               Keras / torch                                               minitrain
=================  ==========================================================  =================
piecewise          PiecewiseConstantDecay(boundaries, values)                  piecewise(boundary_inclusive=True)
cosine_keras       CosineDecay(lr, T, alpha=min_lr/lr)                         cosine
cosine_torch       torch CosineAnnealingLR(T_max=T, eta_min=min_lr)            cosine(periodic=True)
inverse_time       InverseTimeDecay(lr, steps, rate, staircase)                power (power=1)
polynomial         PolynomialDecay(lr, T, end_lr, power, cycle)                polynomial
cosine_warmup      CosineDecay(warmup_start, T - W, alpha=min_lr/lr,           cosine(warmup_steps=W,
                   warmup_target=lr, warmup_steps=W)                             warmup_start)
cosine_restarts    CosineDecayRestarts(lr, first, t_mul, m_mul, alpha=min/lr)  cosine_restarts
=================  ==========================================================  =================

Needs ``pip install keras`` beside the CPU torch (``KERAS_BACKEND=torch``; this script
sets it). Run: ``python scripts/goldens_keras_schedules.py [OUTDIR]`` or
``scripts/make_goldens.py``. minitrain and its tests never import keras or torch.
"""
from __future__ import annotations

import json
import os
import pathlib
import sys

import numpy as np

PIECEWISE = {"two": dict(boundaries=[10, 25], values=[1.0, 0.5, 0.1]),
             "at0": dict(boundaries=[0, 3], values=[0.3, 0.2, 0.1])}
COSINE_KERAS = {"T40": dict(lr=0.1, total_steps=40), "T25_min": dict(lr=1.0, total_steps=25,
                                                                     min_lr=0.2)}
COSINE_TORCH = {"T20": dict(lr=0.1, total_steps=20), "T15_min": dict(lr=1.0, total_steps=15,
                                                                     min_lr=0.2)}
INVERSE_TIME = {   # minitrain power parameters (power = 1)
    "keras_test": dict(lr=0.1, steps=10, rate=0.96),               # Keras's own test
    "keras_test_staircase": dict(lr=0.1, steps=10, rate=0.96, staircase=True),
    "rate1": dict(lr=1.0, steps=25),
    "frac_steps_staircase": dict(lr=0.5, steps=7.5, rate=2.0, staircase=True),
}
POLYNOMIAL = {
    "T100_end": dict(lr=0.1, total_steps=100, end_lr=0.005),
    "T50_sqrt": dict(lr=0.05, total_steps=50, end_lr=0.001, power=0.5),
    "T37_cycle": dict(lr=0.05, total_steps=37, end_lr=0.001, cycle=True),
    "T20_p2_cycle": dict(lr=1.0, total_steps=20, power=2.0, cycle=True),
    "T60_p3": dict(lr=0.3, total_steps=60, power=3.0),
}
COSINE_WARMUP = {   # minitrain cosine parameters
    "W50_T300": dict(lr=0.1, total_steps=300, warmup_steps=50),
    "W30_T100_start_min": dict(lr=1.0, total_steps=100, min_lr=0.05, warmup_steps=30,
                               warmup_start=0.1),
    "W7_T40_min": dict(lr=0.01, total_steps=40, min_lr=1e-4, warmup_steps=7),
    "W1_T9": dict(lr=2.0, total_steps=9, warmup_steps=1, warmup_start=0.5),
}
COSINE_RESTARTS = {   # minitrain cosine_restarts parameters
    "T20_x2": dict(lr=1.0, first_steps=20, t_mult=2.0),
    "T10_m09_min": dict(lr=0.1, first_steps=10, m_mul=0.9, min_lr=0.001),
    "T7_x1.5_m08_min": dict(lr=0.5, first_steps=7, t_mult=1.5, m_mul=0.8, min_lr=0.05),
    "T5_x3": dict(lr=1.0, first_steps=5, t_mult=3.0),
    "T13": dict(lr=0.2, first_steps=13),
}
N = 400


def keras_values(f, n=N):
    return np.array([float(f(k)) for k in range(n)])


def schedules(keras):
    import torch
    keras.config.set_floatx("float64")
    out = {}
    sch = keras.optimizers.schedules

    def put(kind, case, cfg, values):
        out[f"{kind}/{case}/config"] = np.array(json.dumps(cfg))
        out[f"{kind}/{case}/lr"] = values

    for case, cfg in PIECEWISE.items():
        f = sch.PiecewiseConstantDecay(cfg["boundaries"], cfg["values"])
        put("piecewise", case, cfg, keras_values(f, max(cfg["boundaries"]) + 10))
    for case, cfg in COSINE_KERAS.items():
        lr, T, lo = cfg["lr"], cfg["total_steps"], cfg.get("min_lr", 0.0)
        put("cosine_keras", case, cfg, keras_values(sch.CosineDecay(lr, T, alpha=lo / lr),
                                                    2 * T + 5))
    for case, cfg in COSINE_TORCH.items():
        p = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
        p.grad = torch.zeros_like(p)
        opt = torch.optim.SGD([p], lr=cfg["lr"])
        s = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg["total_steps"],
                                                       eta_min=cfg.get("min_lr", 0.0))
        lrs = []
        for _ in range(4 * cfg["total_steps"] + 3):       # two full periods and a bit
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            s.step()
        put("cosine_torch", case, cfg, np.array(lrs))
    for case, cfg in INVERSE_TIME.items():
        f = sch.InverseTimeDecay(cfg["lr"], cfg["steps"], cfg.get("rate", 1.0),
                                 staircase=cfg.get("staircase", False))
        put("inverse_time", case, cfg, keras_values(f))
    for case, cfg in POLYNOMIAL.items():
        f = sch.PolynomialDecay(cfg["lr"], cfg["total_steps"], cfg.get("end_lr", 0.0),
                                power=cfg.get("power", 1.0), cycle=cfg.get("cycle", False))
        put("polynomial", case, cfg, keras_values(f))
    for case, cfg in COSINE_WARMUP.items():
        lr, T, W = cfg["lr"], cfg["total_steps"], cfg["warmup_steps"]
        f = sch.CosineDecay(cfg.get("warmup_start", 0.0), T - W,
                            alpha=cfg.get("min_lr", 0.0) / lr, warmup_target=lr,
                            warmup_steps=W)
        put("cosine_warmup", case, cfg, keras_values(f))
    for case, cfg in COSINE_RESTARTS.items():
        lr = cfg["lr"]
        f = sch.CosineDecayRestarts(lr, cfg["first_steps"], t_mul=cfg.get("t_mult", 1.0),
                                    m_mul=cfg.get("m_mul", 1.0),
                                    alpha=cfg.get("min_lr", 0.0) / lr)
        put("cosine_restarts", case, cfg, keras_values(f))
    out["versions"] = np.array(json.dumps({"keras": keras.__version__,
                                           "torch": torch.__version__}))
    return out


def main(outdir: pathlib.Path):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    if keras.backend.backend() != "torch":
        raise SystemExit(f"KERAS_BACKEND must be torch, got {keras.backend.backend()}")
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    floatx = keras.config.floatx()
    try:
        path = outdir / "keras_schedules.npz"
        np.savez_compressed(path, **schedules(keras))
        print(f"wrote {path}")
    finally:
        keras.config.set_floatx(floatx)        # no global side effects for make_goldens.py


if __name__ == "__main__":
    root = pathlib.Path(__file__).resolve().parent.parent
    main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root / "tests" / "goldens")
