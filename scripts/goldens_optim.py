"""Golden optimizer trajectories from PyTorch (torch.optim, single-tensor CPU path).

For every registry optimizer and a few hyperparameter sets (the first set is all
defaults), in float32 and float64, run T steps on a noisy quadratic whose gradient
depends on the parameters, with a learning rate that changes at every step, and store
the parameters after every step in ``tests/goldens/optim_<name>.npz``.

The problem (shared by all files, stored in each):

    g_t = A * (p - c) + noise[t]          (computed in NumPy, in the array dtype)
    lr_t = lr0 * (1 + 0.5 * sin(0.7 t)) * 0.995**t

Hyperparameters use minitrain's names; ``torch_optimizer`` maps them to torch's.
Run: ``python scripts/goldens_optim.py`` (or through scripts/make_goldens.py).
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
}


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


def torch_optimizer(torch, name, hp, params):
    """torch.optim object for a minitrain registry name and hyperparameters."""
    o = torch.optim
    hp = dict(hp)
    if "beta1" in hp or "beta2" in hp:
        hp["betas"] = (hp.pop("beta1", 0.9), hp.pop("beta2", 0.999))
    if name == "rmsprop" and "rho" in hp:
        hp["alpha"] = hp.pop("rho")
    if name == "adagrad" and "initial_accumulator" in hp:
        hp["initial_accumulator_value"] = hp.pop("initial_accumulator")
    cls = {"sgd": o.SGD, "momentum": o.SGD, "nesterov": o.SGD, "adagrad": o.Adagrad,
           "rmsprop": o.RMSprop, "adam": o.Adam, "adamax": o.Adamax, "nadam": o.NAdam,
           "adamw": o.AdamW}[name]
    if name in ("momentum", "nesterov"):
        hp.setdefault("momentum", 0.9)
    if name == "nesterov":
        hp["nesterov"] = True
    return cls(params, foreach=False, **hp)


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


def main(outdir: pathlib.Path):
    import torch

    torch.set_default_dtype(torch.float32)     # torch's default: float32 step / mu_product
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    A, c, p0, noise, lr_factor = problem()
    for name, configs in CONFIGS.items():
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


if __name__ == "__main__":
    root = pathlib.Path(__file__).resolve().parent.parent
    main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root / "tests" / "goldens")
