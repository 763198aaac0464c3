"""Golden trajectories and schedules from Keras 3 (torch backend) for ``convention="keras"``.

For every registry optimizer and two or three hyperparameter sets, in float64
(``keras.config.set_floatx("float64")``) and float32, run T steps of Keras's own
optimizer on a noisy quadratic whose gradient depends on the parameters, with a
learning rate that changes at every step (``optimizer.learning_rate = ...``), and store
the parameters after every step in ``tests/goldens/keras_<name>.npz``. The first set of
each optimizer is Keras's defaults except the lr; the others are chosen so that the
torch and keras conventions differ far above the test tolerances (large eps, weight
decay, momentum under a changing lr).

The problem (stored in each file; the tests compute the gradient the same way):

    g_t  = A * (p - c) + noise[t]          (in NumPy, in the array dtype)
    lr_t = lr0 * (1 + 0.5 * sin(0.7 t)) * 0.995**t

Each file also stores ``keras_defaults``: the defaults of the Keras class as Keras
reports them (``get_config()`` of a default-constructed optimizer), so the tests check
minitrain's keras defaults against Keras itself.

The schedule goldens (``tests/goldens/keras_schedules.npz``) are written by
``scripts/goldens_keras_schedules.py``.

Needs ``pip install keras`` beside the CPU torch (``KERAS_BACKEND=torch``; this script
sets it). Run: ``python scripts/goldens_keras.py [OUTDIR] [--only lion,extras]`` or
scripts/make_goldens.py.
minitrain and its tests never import keras or torch.
"""
from __future__ import annotations

import json
import os
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import goldens_optim  # noqa: E402  (same problem and gradient as the PyTorch goldens)

N, T, SEED = 16, 200, 20261010

# registry name -> hyperparameter sets (minitrain names). lr is always given: Keras's
# default lrs barely move in 200 steps.
CONFIGS = {
    "sgd": [{"lr": 0.05}, {"lr": 0.05, "weight_decay": 0.1}],
    "momentum": [{"lr": 0.02}, {"lr": 0.02, "momentum": 0.5, "weight_decay": 0.05}],
    "nesterov": [{"lr": 0.02}, {"lr": 0.02, "momentum": 0.8, "weight_decay": 0.05}],
    "adagrad": [{"lr": 0.1}, {"lr": 0.1, "eps": 1e-2, "initial_accumulator": 0.5,
                              "weight_decay": 0.05}],
    "rmsprop": [{"lr": 0.005}, {"lr": 0.005, "rho": 0.8, "eps": 1e-3, "momentum": 0.5,
                                "centered": True, "weight_decay": 0.05},
                {"lr": 0.003, "momentum": 0.9}],
    "adam": [{"lr": 0.01}, {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-3,
                            "amsgrad": True, "weight_decay": 0.05}],
    "adamax": [{"lr": 0.01}, {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-2,
                              "weight_decay": 0.05}],
    "nadam": [{"lr": 0.01}, {"lr": 0.01, "beta1": 0.8, "eps": 1e-3, "weight_decay": 0.05}],
    "adamw": [{"lr": 0.01}, {"lr": 0.01, "eps": 1e-3, "weight_decay": 0.1, "amsgrad": True}],
    "lion": [{"lr": 0.003}, {"lr": 0.003, "beta1": 0.8, "beta2": 0.9, "weight_decay": 0.5}],
}

# minitrain name -> Keras argument name
KERAS_NAMES = {"lr": "learning_rate", "beta1": "beta_1", "beta2": "beta_2", "eps": "epsilon",
               "initial_accumulator": "initial_accumulator_value"}
KERAS_CLASS = {"sgd": "SGD", "momentum": "SGD", "nesterov": "SGD", "adagrad": "Adagrad",
               "rmsprop": "RMSprop", "adam": "Adam", "adamax": "Adamax", "nadam": "Nadam",
               "adamw": "AdamW", "lion": "Lion"}
PRESETS = {"momentum": {"momentum": 0.9}, "nesterov": {"momentum": 0.9, "nesterov": True}}


def problem():
    """The noisy quadratic of the PyTorch goldens (scripts/goldens_optim.py), own seed."""
    return goldens_optim.problem(SEED)


gradient = goldens_optim.gradient


def keras_optimizer(keras, name, hp):
    """The Keras optimizer for a minitrain registry name and hyperparameters."""
    kw = {**PRESETS.get(name, {}), **hp}
    kw = {KERAS_NAMES.get(k, k): v for k, v in kw.items()}
    return getattr(keras.optimizers, KERAS_CLASS[name])(**kw)


def keras_defaults(keras, name):
    """Keras's defaults in minitrain names (only the names minitrain has)."""
    keras.config.set_floatx("float64")          # else the lr variable rounds 0.01
    config = getattr(keras.optimizers, KERAS_CLASS[name])().get_config()
    back = {v: k for k, v in KERAS_NAMES.items()}
    out = {back.get(k, k): v for k, v in config.items()}
    keep = ("lr", "momentum", "nesterov", "beta1", "beta2", "eps", "rho", "centered",
            "amsgrad", "initial_accumulator", "weight_decay")
    return {k: (0.0 if k == "weight_decay" and v is None else v)
            for k, v in out.items() if k in keep}


def trajectory(keras, name, hp, dtype):
    A, c, p0, noise, lr_factor = problem()
    keras.config.set_floatx(np.dtype(dtype).name)
    var = keras.Variable(p0.astype(dtype), dtype=np.dtype(dtype).name)
    opt = keras_optimizer(keras, name, hp)
    opt.build([var])
    lr0 = hp["lr"]
    out = np.empty((T, N), dtype)
    for t in range(T):
        opt.learning_rate = float(lr0 * lr_factor[t])
        g = gradient(np.asarray(var.numpy()), A, c, noise[t])
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), var)])
        out[t] = var.numpy()
    return out


# Clipping and weight-decay exclusion, in tests/goldens/keras_extras.npz. "layout": the
# flat array as separate Keras variables [start, stop) (minitrain: opt.set_layout);
# "exclude": indices of the variables given to exclude_from_weight_decay(var_list=...).
LAYOUT = [[0, 10], [10, 16]]
EXTRAS = [
    {"name": "adam", "hp": {"lr": 0.01, "clipnorm": 0.5}, "layout": LAYOUT},
    {"name": "adam", "hp": {"lr": 0.01, "clipnorm": 0.5}},
    {"name": "momentum", "hp": {"lr": 0.02, "clipvalue": 0.3}},
    {"name": "rmsprop", "hp": {"lr": 0.005, "global_clipnorm": 1.0}, "layout": LAYOUT},
    {"name": "nadam", "hp": {"lr": 0.01, "global_clipnorm": 0.8}},
    {"name": "adamw", "hp": {"lr": 0.01, "weight_decay": 0.5}, "layout": LAYOUT, "exclude": [1]},
    {"name": "sgd", "hp": {"lr": 0.05, "weight_decay": 0.2}, "layout": LAYOUT, "exclude": [0]},
    {"name": "lion", "hp": {"lr": 0.003, "weight_decay": 0.5, "clipnorm": 1.0},
     "layout": LAYOUT, "exclude": [1]},
    {"name": "lion", "hp": {"lr": 0.003, "global_clipnorm": 0.5}, "layout": LAYOUT},
]


def extra_trajectory(keras, case, dtype):
    """The trajectory of one EXTRAS case (parameters after every step)."""
    A, c, p0, noise, lr_factor = problem()
    keras.config.set_floatx(np.dtype(dtype).name)
    layout = case.get("layout") or [[0, N]]
    variables = [keras.Variable(p0[a:b].astype(dtype), dtype=np.dtype(dtype).name)
                 for a, b in layout]
    opt = keras_optimizer(keras, case["name"], case["hp"])
    if case.get("exclude"):
        opt.exclude_from_weight_decay(var_list=[variables[i] for i in case["exclude"]])
    opt.build(variables)
    out = np.empty((T, N), dtype)
    for t in range(T):
        opt.learning_rate = float(case["hp"]["lr"] * lr_factor[t])
        p = np.concatenate([np.asarray(v.numpy()) for v in variables])
        g = gradient(p, A, c, noise[t])
        opt.apply_gradients([(keras.ops.convert_to_tensor(g[a:b]), v)
                             for v, (a, b) in zip(variables, layout)])
        out[t] = np.concatenate([np.asarray(v.numpy()) for v in variables])
    return out


def extras(keras, outdir):
    A, c, p0, noise, lr_factor = problem()
    arrays = dict(A=A, c=c, p0=p0, noise=noise, lr_factor=lr_factor,
                  cases=np.array(json.dumps(EXTRAS)), keras_version=np.array(keras.__version__))
    for k, case in enumerate(EXTRAS):
        for dtype in (np.float32, np.float64):
            arrays[f"traj_{k}_{np.dtype(dtype).name}"] = extra_trajectory(keras, case, dtype)
    path = outdir / "keras_extras.npz"
    np.savez_compressed(path, **arrays)
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


def main(outdir: pathlib.Path, only=None):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    if keras.backend.backend() != "torch":
        raise SystemExit(f"KERAS_BACKEND must be torch, got {keras.backend.backend()}")
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    A, c, p0, noise, lr_factor = problem()
    floatx = keras.config.floatx()
    try:
        for name, configs in CONFIGS.items():
            if only and name not in only:
                continue
            arrays = dict(A=A, c=c, p0=p0, noise=noise, lr_factor=lr_factor,
                          configs=np.array(json.dumps(configs)),
                          keras_defaults=np.array(json.dumps(keras_defaults(keras, name))),
                          keras_version=np.array(keras.__version__))
            for k, hp in enumerate(configs):
                for dtype in (np.float32, np.float64):
                    arrays[f"traj_{k}_{np.dtype(dtype).name}"] = trajectory(keras, name, hp,
                                                                           dtype)
            path = outdir / f"keras_{name}.npz"
            np.savez_compressed(path, **arrays)
            print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
        if only and "extras" in only:
            extras(keras, outdir)
        if not only:
            extras(keras, outdir)
    finally:
        keras.config.set_floatx(floatx)        # no global side effects for make_goldens.py


if __name__ == "__main__":
    root = pathlib.Path(__file__).resolve().parent.parent
    args = sys.argv[1:]
    only = args[args.index("--only") + 1].split(",") if "--only" in args else None
    args = [a for i, a in enumerate(args) if a != "--only" and (i == 0 or args[i - 1] != "--only")]
    main(pathlib.Path(args[0]) if args else root / "tests" / "goldens", only)
