"""PyTorch goldens for the schedules: OneCycleLR, ReduceLROnPlateau, CosineAnnealingLR.

Needs ``pip install torch==2.13.0`` (CPU). Never imported by minitrain or its tests.
Run standalone (``python scripts/goldens_schedules.py [OUTDIR]``) or through
``scripts/make_goldens.py``. Writes three small files into ``tests/goldens/``:

``schedules_onecycle.npz``
    per case ``<case>/config`` (JSON of minitrain ``onecycle`` parameters) and, for steps
    k = 0 .. T-1, the values torch had in force for the k-th update: ``<case>/lr`` and
    ``<case>/momentum`` (SGD's ``momentum``) from a ``SGD(momentum=0.9)`` run, and
    ``<case>/lr_adam`` and ``<case>/beta1`` (``betas[0]``) from an ``Adam`` run.
``schedules_plateau.npz``
    per case ``<case>/config`` (minitrain ``plateau`` parameters), ``<case>/metric``
    (one value per epoch) and, after each ``scheduler.step(metric)``: ``<case>/lr``,
    ``<case>/best``, ``<case>/num_bad`` and ``<case>/cooldown``.
``schedules_cosine.npz``
    per case ``<case>/config`` (minitrain ``cosine`` parameters, no warm-up) and
    ``<case>/lr`` for k = 0 .. T from ``CosineAnnealingLR(T_max=T, eta_min=min_lr)``.
"""
from __future__ import annotations

import json
import pathlib
import sys
import warnings

import numpy as np

ONECYCLE = {
    "cos2_T1000": dict(max_lr=0.01, total_steps=1000),
    "lin2_T1000": dict(max_lr=0.01, total_steps=1000, anneal="linear"),
    "cos3_T1000": dict(max_lr=0.05, total_steps=1000, three_phase=True),
    "lin3_T1000_seed": dict(max_lr=0.1, total_steps=1000, pct_start=0.45, anneal="linear",
                            three_phase=True, div_factor=10.0, final_div_factor=100.0),
    "cos2_T997_frac": dict(max_lr=0.3, total_steps=997, pct_start=0.25),
    "lin3_T37_frac": dict(max_lr=1.0, total_steps=37, pct_start=0.33, anneal="linear",
                          three_phase=True, div_factor=5.0, final_div_factor=50.0,
                          base_momentum=0.8, max_momentum=0.9),
    "cos2_T20": dict(max_lr=1.0, total_steps=20),
    "cos2_T3_short_warmup": dict(max_lr=1.0, total_steps=3),      # pct*T - 1 < 0
    "lin2_T2": dict(max_lr=0.5, total_steps=2, anneal="linear"),
    "nomom_T100": dict(max_lr=0.02, total_steps=100, cycle_momentum=False),
}


def _onecycle_kwargs(cfg):
    kw = dict(cfg)
    kw["anneal_strategy"] = kw.pop("anneal", "cos")
    return kw


def onecycle_case(cfg, adam):
    import torch
    p = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    p.grad = torch.zeros_like(p)
    opt = (torch.optim.Adam([p], lr=0.1) if adam
           else torch.optim.SGD([p], lr=0.1, momentum=0.9))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, **_onecycle_kwargs(cfg))
    lrs, moms = [], []
    for _ in range(cfg["total_steps"]):
        group = opt.param_groups[0]
        lrs.append(group["lr"])
        moms.append(group["betas"][0] if adam else group["momentum"])
        opt.step()
        sched.step()
    return np.array(lrs), np.array(moms)


def metric_sequences(rng):
    """Metric sequences with plateaus, slow improvements, exact ties, NaN, negatives."""
    # decreasing loss with long noisy plateaus, quantized so exact ties happen
    n = 1000
    t = np.arange(n)
    level = 2.0 * 0.7 ** (t // 60) + 0.1
    noisy = np.round(level + rng.normal(0, 0.002, n) * (t % 60 > 30), 3)
    # accuracy-like (max mode): rises in steps with small wiggles below threshold
    acc = np.round(np.minimum(0.99, 0.5 + 0.05 * (np.arange(200) // 15))
                   + rng.normal(0, 0.003, 200), 3)
    # slow improvement: better by 0.05 per epoch (below the default rel threshold)
    slow = 1000 - 0.05 * np.arange(60)
    flat = np.full(40, 10.0)
    with_nan = np.round(1.0 + rng.normal(0, 0.05, 80), 2)
    with_nan[[5, 6, 30, 31, 32, 33, 50]] = np.nan
    negative = -1.0 + np.round(np.cumsum(rng.normal(-0.001, 0.01, 120)), 3)
    return dict(noisy=noisy, acc=acc, slow=slow, flat=flat, with_nan=with_nan,
                negative=negative)


def plateau_cases(seqs):
    return {
        "default_1000": (dict(lr=0.1), seqs["noisy"]),
        "min_rel_p5_cd3": (dict(lr=0.1, factor=0.5, patience=5, cooldown=3, min_lr=1e-3),
                           seqs["noisy"][:400]),
        "min_abs_within_threshold": (dict(lr=1.0, factor=0.5, patience=2,
                                          threshold=0.05, threshold_mode="abs"),
                                     seqs["noisy"][:300]),
        "slow_rel_p2": (dict(lr=1.0, patience=2), seqs["slow"]),
        "slow_abs_p2": (dict(lr=1.0, patience=2, threshold=0.06, threshold_mode="abs"),
                        seqs["slow"]),
        "max_rel_p3_cd1_minlr": (dict(lr=0.1, factor=0.3, patience=3, mode="max",
                                      threshold=1e-2, cooldown=1, min_lr=0.005),
                                 seqs["acc"]),
        "max_abs_p0": (dict(lr=0.1, factor=0.5, patience=0, mode="max",
                            threshold=0.01, threshold_mode="abs"), seqs["acc"]),
        "flat_p2_cd2": (dict(lr=1.0, factor=0.5, patience=2, threshold=0.0, cooldown=2),
                        seqs["flat"]),
        "flat_p0": (dict(lr=1.0, factor=0.5, patience=0, threshold=0.0), seqs["flat"]),
        "nan_p1": (dict(lr=0.1, factor=0.5, patience=1, min_lr=0.01), seqs["with_nan"]),
        "negative_rel": (dict(lr=0.1, factor=0.5, patience=3), seqs["negative"]),
        "eps_skip": (dict(lr=3e-8, factor=0.5, patience=1, eps=1e-8), seqs["flat"]),
    }


def plateau_case(cfg, metrics):
    import torch
    p = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=cfg["lr"])
    kw = {k: v for k, v in cfg.items() if k != "lr"}
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
    out = {"lr": [], "best": [], "num_bad": [], "cooldown": []}
    for m in metrics:
        sched.step(float(m))
        out["lr"].append(opt.param_groups[0]["lr"])
        out["best"].append(sched.best)
        out["num_bad"].append(sched.num_bad_epochs)
        out["cooldown"].append(sched.cooldown_counter)
    return {k: np.array(v) for k, v in out.items()}


COSINE = {
    "T1000_min": dict(lr=0.1, total_steps=1000, min_lr=1e-4),
    "T50": dict(lr=1.0, total_steps=50),
}


def cosine_case(cfg):
    import torch
    p = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    p.grad = torch.zeros_like(p)
    opt = torch.optim.SGD([p], lr=cfg["lr"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=cfg["total_steps"], eta_min=cfg.get("min_lr", 0.0))
    lrs = []
    for _ in range(cfg["total_steps"] + 1):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(lrs)


def main(outdir: pathlib.Path):
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():        # no global side effects for make_goldens.py
        warnings.simplefilter("ignore", UserWarning)
        _write(outdir)


def _write(outdir):
    data = {}
    for case, cfg in ONECYCLE.items():
        data[f"{case}/config"] = np.array(json.dumps(cfg))
        data[f"{case}/lr"], data[f"{case}/momentum"] = onecycle_case(cfg, adam=False)
        data[f"{case}/lr_adam"], data[f"{case}/beta1"] = onecycle_case(cfg, adam=True)
    np.savez_compressed(outdir / "schedules_onecycle.npz", **data)

    data = {}
    for case, (cfg, metrics) in plateau_cases(metric_sequences(np.random.default_rng(4))).items():
        data[f"{case}/config"] = np.array(json.dumps(cfg))
        data[f"{case}/metric"] = np.asarray(metrics, dtype=np.float64)
        for k, v in plateau_case(cfg, metrics).items():
            data[f"{case}/{k}"] = v
    np.savez_compressed(outdir / "schedules_plateau.npz", **data)

    data = {}
    for case, cfg in COSINE.items():
        data[f"{case}/config"] = np.array(json.dumps(cfg))
        data[f"{case}/lr"] = cosine_case(cfg)
    np.savez_compressed(outdir / "schedules_cosine.npz", **data)
    print(f"wrote {len(ONECYCLE)} onecycle, 12 plateau and {len(COSINE)} cosine "
          f"schedule goldens to {outdir}")


if __name__ == "__main__":
    root = pathlib.Path(__file__).resolve().parents[1]
    main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root / "tests" / "goldens")
