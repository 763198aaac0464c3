"""PyTorch goldens for the schedules: OneCycleLR, ReduceLROnPlateau, CosineAnnealingLR,
LinearLR, PolynomialLR, CyclicLR, CosineAnnealingWarmRestarts, SequentialLR.

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
``schedules_linear.npz``, ``schedules_polynomial.npz``, ``schedules_cyclic.npz``,
``schedules_restarts.npz``, ``schedules_sequential.npz``
    per case ``<case>/config`` (JSON of the minitrain schedule's parameters; for
    ``sequential`` the children are tables ``{"name": ..., ...}``), ``<case>/lr``: the lr
    torch had in force for the k-th update, k = 0 .. N-1 (read before ``opt.step()``,
    then ``scheduler.step()``), and ``<case>/momentum`` / ``<case>/beta1`` (cyclic:
    from an SGD(momentum=0.9) and an Adam run; sequential: SGD's momentum).
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


# ---- LinearLR, PolynomialLR, CyclicLR, CosineAnnealingWarmRestarts, SequentialLR --------
N_STEPS = 400
LINEAR = {   # minitrain linear parameters (torch: total_iters = total_steps)
    "doc_T40": dict(lr=0.05, start_factor=0.05, total_steps=40),     # torch's docstring
    "defaults": dict(lr=0.1),
    "decay_T300": dict(lr=0.1, start_factor=1.0, end_factor=0.1, total_steps=300),
    "to_zero_T250": dict(lr=1.0, start_factor=0.5, end_factor=0.0, total_steps=250),
}
POLYNOMIAL = {   # minitrain polynomial (end_lr = 0, cycle False: torch's PolynomialLR)
    "doc_T50_p09": dict(lr=0.05, total_steps=50, power=0.9),          # torch's docstring
    "T300_p2": dict(lr=0.1, total_steps=300, power=2.0),
    "T7_linear": dict(lr=1.0, total_steps=7),
}
CYCLIC = {
    "doc_tri_up10": dict(base_lr=0.01, max_lr=0.1, step_size_up=10),  # torch's docstring
    "tri_up7_down13": dict(base_lr=0.001, max_lr=0.3, step_size_up=7, step_size_down=13),
    "tri2_up20_down30": dict(base_lr=0.01, max_lr=1.0, step_size_up=20, step_size_down=30,
                             mode="triangular2", base_momentum=0.85, max_momentum=0.95),
    "exp_up15_down5": dict(base_lr=0.02, max_lr=0.2, step_size_up=15, step_size_down=5,
                           mode="exp_range", gamma=0.995),
    "saw_up25_down0": dict(base_lr=0.0, max_lr=0.5, step_size_up=25, step_size_down=0),
    "nomom_tri2_up9": dict(base_lr=0.05, max_lr=0.15, step_size_up=9, mode="triangular2",
                           cycle_momentum=False),
}
RESTARTS = {   # minitrain cosine_restarts (torch: T_0, T_mult, eta_min)
    "T20": dict(lr=0.1, first_steps=20),
    "T10_x2_min": dict(lr=0.1, first_steps=10, t_mult=2, min_lr=1e-3),
    "T7_x3_min": dict(lr=1.0, first_steps=7, t_mult=3, min_lr=0.05),
    "T1_x2": dict(lr=0.5, first_steps=1, t_mult=2),
    "T33": dict(lr=0.01, first_steps=33, min_lr=0.001),
}


def _torch_opt(lr, kind="sgd"):
    import torch
    p = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    p.grad = torch.zeros_like(p)
    if kind == "adam":
        return torch.optim.Adam([p], lr=lr)
    return torch.optim.SGD([p], lr=lr, momentum=0.9)


def _record(opt, sched, n=N_STEPS, moment="momentum"):
    lrs, moms = [], []
    for _ in range(n):
        group = opt.param_groups[0]
        lrs.append(group["lr"])
        moms.append(group["betas"][0] if moment == "beta1" else group["momentum"])
        opt.step()
        sched.step()
    return np.array(lrs), np.array(moms)


def linear_case(cfg):
    import torch
    full = {"start_factor": 1.0 / 3, "end_factor": 1.0, "total_steps": 5, **cfg}
    opt = _torch_opt(cfg["lr"])
    sched = torch.optim.lr_scheduler.LinearLR(opt, start_factor=full["start_factor"],
                                              end_factor=full["end_factor"],
                                              total_iters=full["total_steps"])
    return _record(opt, sched)[0]


def polynomial_case(cfg):
    import torch
    opt = _torch_opt(cfg["lr"])
    sched = torch.optim.lr_scheduler.PolynomialLR(opt, total_iters=cfg["total_steps"],
                                                  power=cfg.get("power", 1.0))
    return _record(opt, sched)[0]


def cyclic_case(cfg, kind):
    import torch
    opt = _torch_opt(0.123, kind)           # CyclicLR overwrites the lr with base_lr
    sched = torch.optim.lr_scheduler.CyclicLR(opt, **cfg)
    return _record(opt, sched, moment="beta1" if kind == "adam" else "momentum")


def restarts_case(cfg):
    import torch
    opt = _torch_opt(cfg["lr"])
    sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        opt, T_0=cfg["first_steps"], T_mult=int(cfg.get("t_mult", 1)),
        eta_min=cfg.get("min_lr", 0.0))
    return _record(opt, sched)[0]


def sequential_cases():
    """{case: (minitrain config, function(opt) -> torch SequentialLR)}; lr 0.05 / 0.1."""
    import torch
    S = torch.optim.lr_scheduler

    def doc(opt):      # torch's SequentialLR docstring: ConstantLR then ExponentialLR
        return S.SequentialLR(opt, [S.ConstantLR(opt, factor=0.1, total_iters=20),
                                    S.ExponentialLR(opt, gamma=0.9)], milestones=[20])

    def warm_cos(opt):
        return S.SequentialLR(opt, [S.LinearLR(opt, start_factor=0.01, total_iters=50),
                                    S.CosineAnnealingLR(opt, T_max=350, eta_min=1e-4)],
                              milestones=[50])

    def three(opt):
        return S.SequentialLR(opt, [S.LinearLR(opt, start_factor=0.1, total_iters=10),
                                    S.CyclicLR(opt, base_lr=0.01, max_lr=0.1,
                                               step_size_up=20),
                                    S.PolynomialLR(opt, total_iters=100, power=2.0)],
                              milestones=[10, 110])

    def restarts(opt):
        return S.SequentialLR(opt, [S.CosineAnnealingWarmRestarts(opt, T_0=15, T_mult=2),
                                    S.LinearLR(opt, start_factor=1.0, end_factor=0.1,
                                               total_iters=77)],
                              milestones=[105])

    return {
        "doc_constant_exponential": (0.05, dict(
            schedules=[dict(name="constant", lr=0.005),
                       dict(name="exponential", lr=0.05, rate=0.9, steps=1)],
            boundaries=[20]), doc),
        "linear_cosine": (0.1, dict(
            schedules=[dict(name="linear", lr=0.1, start_factor=0.01, total_steps=50),
                       dict(name="cosine", lr=0.1, total_steps=350, min_lr=1e-4)],
            boundaries=[50]), warm_cos),
        "linear_cyclic_polynomial": (0.1, dict(
            schedules=[dict(name="linear", lr=0.1, start_factor=0.1, total_steps=10),
                       dict(name="cyclic", base_lr=0.01, max_lr=0.1, step_size_up=20),
                       dict(name="polynomial", lr=0.1, total_steps=100, power=2.0)],
            boundaries=[10, 110]), three),
        "restarts_linear": (0.1, dict(
            schedules=[dict(name="cosine_restarts", lr=0.1, first_steps=15, t_mult=2),
                       dict(name="linear", lr=0.1, start_factor=1.0, end_factor=0.1,
                            total_steps=77)],
            boundaries=[105]), restarts),
    }


def _write_new(outdir):
    def save(name, cases):
        np.savez_compressed(outdir / f"schedules_{name}.npz", **cases)

    save("linear", {k: v for case, cfg in LINEAR.items()
                    for k, v in ((f"{case}/config", np.array(json.dumps(cfg))),
                                 (f"{case}/lr", linear_case(cfg)))})
    save("polynomial", {k: v for case, cfg in POLYNOMIAL.items()
                        for k, v in ((f"{case}/config", np.array(json.dumps(cfg))),
                                     (f"{case}/lr", polynomial_case(cfg)))})
    data = {}
    for case, cfg in CYCLIC.items():
        data[f"{case}/config"] = np.array(json.dumps(cfg))
        data[f"{case}/lr"], data[f"{case}/momentum"] = cyclic_case(cfg, "sgd")
        data[f"{case}/lr_adam"], data[f"{case}/beta1"] = cyclic_case(cfg, "adam")
    save("cyclic", data)
    save("restarts", {k: v for case, cfg in RESTARTS.items()
                      for k, v in ((f"{case}/config", np.array(json.dumps(cfg))),
                                   (f"{case}/lr", restarts_case(cfg)))})
    data = {}
    for case, (lr, cfg, make) in sequential_cases().items():
        opt = _torch_opt(lr)
        data[f"{case}/config"] = np.array(json.dumps(cfg))
        data[f"{case}/lr"], data[f"{case}/momentum"] = _record(opt, make(opt))
    save("sequential", data)
    print(f"wrote linear, polynomial, cyclic, restarts and sequential schedule goldens "
          f"({N_STEPS} steps each) to {outdir}")


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
    _write_new(outdir)


if __name__ == "__main__":
    root = pathlib.Path(__file__).resolve().parents[1]
    main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root / "tests" / "goldens")
