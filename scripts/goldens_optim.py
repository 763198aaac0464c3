"""Golden optimizer trajectories from PyTorch (torch.optim, single-tensor CPU path).

For every registry optimizer and a few hyperparameter sets (the first set is all
defaults), in float32 and float64, run T steps on a noisy quadratic whose gradient
depends on the parameters, with a learning rate that changes at every step, and store
the parameters after every step in ``tests/goldens/optim_<name>.npz``.

The problem (shared by all files, stored in each):

    g_t = A * (p - c) + noise[t]          (computed in NumPy, in the array dtype)
    lr_t = lr0 * (1 + 0.5 * sin(0.7 t)) * 0.995**t

Hyperparameters use minitrain's names; ``torch_optimizer`` maps them to torch's.
Run: ``python scripts/goldens_optim.py [OUTDIR] [--only radam,sgd]`` (or through
scripts/make_goldens.py).
"""
from __future__ import annotations

import json
import pathlib
import sys

import numpy as np

N, T, SEED = 16, 200, 20240603

# registry name -> list of hyperparameter sets (minitrain names); the first is {}.
CONFIGS = {
    "sgd": [{}, {"lr": 0.05, "weight_decay": 0.1}],
    "momentum": [{}, {"lr": 0.02, "momentum": 0.5, "weight_decay": 0.05}],
    "nesterov": [{}, {"lr": 0.02, "momentum": 0.8, "weight_decay": 0.05}],
    "adagrad": [{}, {"lr": 0.1, "eps": 1e-3, "initial_accumulator": 0.1, "weight_decay": 0.05}],
    "rmsprop": [{}, {"lr": 0.005, "rho": 0.9, "momentum": 0.5, "centered": True,
                     "weight_decay": 0.05},
                {"lr": 0.003, "centered": True}, {"lr": 0.003, "momentum": 0.9}],
    "adam": [{}, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.05},
             {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-4,
              "decoupled_weight_decay": True, "weight_decay": 0.1}],
    "adamax": [{}, {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-3,
                    "weight_decay": 0.05}],
    "nadam": [{}, {"lr": 0.01, "momentum_decay": 1.0, "weight_decay": 0.05},
              {"lr": 0.01, "beta1": 0.8, "decoupled_weight_decay": True, "weight_decay": 0.1}],
    "adamw": [{}, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1, "eps": 1e-6}],
    "radam": [{}, {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.05},
              {"lr": 0.01, "decoupled_weight_decay": True, "weight_decay": 0.1, "eps": 1e-4}],
}


# Options applied around the update (maximize, dampening, lr_decay, clipping, weight-decay
# exclusion), in tests/goldens/optim_extras.npz. "layout": the flat array as separate
# torch tensors [start, stop) (minitrain: opt.set_layout); "exclude": indices of the
# blocks in a param group with weight_decay=0 (minitrain: exclude_from_weight_decay).
LAYOUT = [[0, 10], [10, 16]]
EXTRAS = [
    {"name": "sgd", "hp": {"lr": 0.01, "maximize": True}},
    {"name": "adam", "hp": {"lr": 0.01, "maximize": True, "weight_decay": 0.05}},
    {"name": "momentum", "hp": {"lr": 0.02, "dampening": 0.3, "weight_decay": 0.05}},
    {"name": "adagrad", "hp": {"lr": 0.1, "lr_decay": 0.01}},
    {"name": "adam", "hp": {"lr": 0.01, "clipnorm": 0.5}, "layout": LAYOUT},
    {"name": "adam", "hp": {"lr": 0.01, "clipnorm": 0.5}},
    {"name": "rmsprop", "hp": {"lr": 0.005, "global_clipnorm": 1.0}, "layout": LAYOUT},
    {"name": "nadam", "hp": {"lr": 0.01, "global_clipnorm": 0.8}},
    {"name": "momentum", "hp": {"lr": 0.02, "clipvalue": 0.3}},
    {"name": "radam", "hp": {"lr": 0.01, "clipnorm": 1.0, "maximize": True}, "layout": LAYOUT},
    {"name": "adam", "hp": {"lr": 0.01, "weight_decay": 0.1}, "layout": LAYOUT, "exclude": [1]},
    {"name": "adamw", "hp": {"lr": 0.01, "weight_decay": 0.5}, "layout": LAYOUT, "exclude": [1]},
    {"name": "nesterov", "hp": {"lr": 0.02, "weight_decay": 0.1}, "layout": LAYOUT,
     "exclude": [0]},
]
CLIP = ("clipnorm", "clipvalue", "global_clipnorm")


def problem(seed=SEED):
    """The quadratic (A, c), start point, gradient noise and lr multipliers."""
    rng = np.random.default_rng(seed)
    A = rng.uniform(0.5, 2.0, N)
    c = rng.normal(0.0, 1.0, N)
    p0 = rng.normal(0.0, 2.0, N)
    noise = rng.normal(0.0, 0.1, (T, N))
    t = np.arange(T)
    lr_factor = (1 + 0.5 * np.sin(0.7 * t)) * 0.995 ** t
    return A, c, p0, noise, lr_factor


def gradient(p, A, c, noise_t):
    """g = A (p - c) + noise, in p's dtype (the tests compute it the same way)."""
    dt = p.dtype
    return A.astype(dt) * (p - c.astype(dt)) + noise_t.astype(dt)


def torch_optimizer(torch, name, hp, params, excluded=()):
    """torch.optim object for a minitrain registry name and hyperparameters; the tensors
    in ``excluded`` go in a param group with weight_decay=0."""
    o = torch.optim
    hp = {k: v for k, v in hp.items() if k not in CLIP}
    if "beta1" in hp or "beta2" in hp:
        hp["betas"] = (hp.pop("beta1", 0.9), hp.pop("beta2", 0.999))
    if name == "rmsprop" and "rho" in hp:
        hp["alpha"] = hp.pop("rho")
    if name == "adagrad" and "initial_accumulator" in hp:
        hp["initial_accumulator_value"] = hp.pop("initial_accumulator")
    cls = {"sgd": o.SGD, "momentum": o.SGD, "nesterov": o.SGD, "adagrad": o.Adagrad,
           "rmsprop": o.RMSprop, "adam": o.Adam, "adamax": o.Adamax, "nadam": o.NAdam,
           "adamw": o.AdamW, "radam": o.RAdam}[name]
    if name in ("momentum", "nesterov"):
        hp.setdefault("momentum", 0.9)
    if name == "nesterov":
        hp["nesterov"] = True
    if excluded:
        ids = {id(e) for e in excluded}
        params = [{"params": [p for p in params if id(p) not in ids]},
                  {"params": list(excluded), "weight_decay": 0.0}]
    return cls(params, foreach=False, **hp)


def clip(torch, hp, tensors):
    """torch.nn.utils clipping before the step: clipnorm per tensor, global_clipnorm over
    all tensors (clip_grad_norm_), clipvalue elementwise (clip_grad_value_)."""
    utils = torch.nn.utils
    if hp.get("clipvalue") is not None:
        utils.clip_grad_value_(tensors, hp["clipvalue"], foreach=False)
    if hp.get("clipnorm") is not None:
        for x in tensors:
            utils.clip_grad_norm_(x, hp["clipnorm"], foreach=False)
    if hp.get("global_clipnorm") is not None:
        utils.clip_grad_norm_(tensors, hp["global_clipnorm"], foreach=False)


def extra_trajectory(torch, case, dtype):
    """The trajectory of one EXTRAS case: (lr0, parameters after every step)."""
    A, c, p0, noise, lr_factor = problem()
    layout = case.get("layout") or [[0, N]]
    tensors = [torch.tensor(p0[a:b].astype(dtype)) for a, b in layout]
    for x in tensors:
        x.requires_grad_(False)
    excluded = [tensors[i] for i in case.get("exclude", ())]
    opt = torch_optimizer(torch, case["name"], case["hp"], tensors, excluded)
    lr0 = opt.param_groups[0]["lr"]
    out = np.empty((T, N), dtype)
    for t in range(T):
        for group in opt.param_groups:
            group["lr"] = float(lr0 * lr_factor[t])
        p = np.concatenate([x.numpy() for x in tensors])
        g = gradient(p, A, c, noise[t])
        for x, (a, b) in zip(tensors, layout):
            x.grad = torch.from_numpy(g[a:b].copy())
        clip(torch, case["hp"], tensors)
        opt.step()
        out[t] = np.concatenate([x.numpy() for x in tensors])
    return lr0, out


def trajectory(torch, name, hp, dtype):
    A, c, p0, noise, lr_factor = problem()
    p = torch.tensor(p0.astype(dtype))
    opt = torch_optimizer(torch, name, hp, [p])
    lr0 = opt.param_groups[0]["lr"]
    out = np.empty((T, N), dtype)
    for t in range(T):
        opt.param_groups[0]["lr"] = float(lr0 * lr_factor[t])
        p.grad = torch.from_numpy(gradient(p.detach().numpy(), A, c, noise[t]))
        opt.step()
        out[t] = p.detach().numpy()
    return lr0, out


def main(outdir: pathlib.Path, only=None):
    import torch

    torch.set_default_dtype(torch.float32)     # torch's default: float32 step / mu_product
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    A, c, p0, noise, lr_factor = problem()
    for name, configs in CONFIGS.items():
        if only and name not in only:
            continue
        arrays = dict(A=A, c=c, p0=p0, noise=noise, lr_factor=lr_factor,
                      configs=np.array(json.dumps(configs)),
                      torch_version=np.array(torch.__version__))
        for k, hp in enumerate(configs):
            for dtype in (np.float32, np.float64):
                lr0, traj = trajectory(torch, name, hp, dtype)
                arrays[f"lr0_{k}"] = np.array(lr0)
                arrays[f"traj_{k}_{np.dtype(dtype).name}"] = traj
        path = outdir / f"optim_{name}.npz"
        np.savez_compressed(path, **arrays)
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    if not only or "extras" in only:
        arrays = dict(A=A, c=c, p0=p0, noise=noise, lr_factor=lr_factor,
                      cases=np.array(json.dumps(EXTRAS)),
                      torch_version=np.array(torch.__version__))
        for k, case in enumerate(EXTRAS):
            for dtype in (np.float32, np.float64):
                lr0, traj = extra_trajectory(torch, case, dtype)
                arrays[f"lr0_{k}"] = np.array(lr0)
                arrays[f"traj_{k}_{np.dtype(dtype).name}"] = traj
        path = outdir / "optim_extras.npz"
        np.savez_compressed(path, **arrays)
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    root = pathlib.Path(__file__).resolve().parent.parent
    args = sys.argv[1:]
    only = args[args.index("--only") + 1].split(",") if "--only" in args else None
    args = [a for i, a in enumerate(args) if a != "--only" and (i == 0 or args[i - 1] != "--only")]
    main(pathlib.Path(args[0]) if args else root / "tests" / "goldens", only)
