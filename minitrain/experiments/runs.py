"""Runs: from a dict of resolved options to a trained model in a run directory.

``minitrain fit`` (and ``compare``, ``sweep`` and the estimators) go through here,
so everything the command line does is importable and testable without Click.

A run directory ``runs/NAME/`` holds::

    config.toml    the resolved options (re-running with --config reproduces the run)
    history.csv    one row per epoch: epoch, step, lr, momentum, train_loss, val_loss,
                   val_metric, seconds
    model.npz      the checkpoint: params, optimizer, schedule and trainer state, the
                   architecture, the data scalers and class labels (written every epoch)
    summary.json   final train/val/test metrics, steps, seconds, params_sha256
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np

from minitrain import checkpoint as ckpt

# The trainer's default learning rate per optimizer: tuned on the registry datasets with
# batch 32 (PyTorch's own defaults are in `minitrain optimizers`).
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.01, "nesterov": 0.01, "adagrad": 0.05,
              "rmsprop": 1e-3, "adam": 1e-3, "adamax": 2e-3, "nadam": 1e-3, "adamw": 1e-3}

OPTIMIZER_OPTIONS = ("lr", "momentum", "beta1", "beta2", "eps", "rho", "weight_decay",
                     "amsgrad", "centered", "momentum_decay", "initial_accumulator",
                     "decoupled_weight_decay")

DEFAULTS = {
    "dataset": None, "data": None, "target": None, "task": None,
    "n_samples": None, "noise": None, "n_features": None, "n_classes": None,
    "hidden": [64, 64], "activation": "relu", "loss": None, "dtype": "float32",
    "optimizer": "nadam", "schedule": None, "schedule_params": {},
    "epochs": 40, "batch_size": 32, "val_split": 0.2, "test_split": 0.2, "seed": 0,
    "early_stopping": False, "patience": 10, "min_delta": 0.0, "on_diverge": "stop",
    "convention": "torch",
}


# Per-dataset defaults where the general ones overfit (used when the option is not given).
DATASET_DEFAULTS = {"diabetes": {"hidden": [16]}, "iris": {"epochs": 100}, "wine": {"epochs": 60}}


class RunError(ValueError):
    """A problem with a run directory or its files (exit 1 on the command line)."""


def resolve(options):
    """Fill defaults into ``options`` (a dict of the names in DEFAULTS + optimizer hps)."""
    unknown = set(options) - set(DEFAULTS) - set(OPTIMIZER_OPTIONS)
    if unknown:
        raise RunError(f"unknown option(s): {', '.join(sorted(unknown))}")
    resolved = dict(DEFAULTS)
    resolved.update(DATASET_DEFAULTS.get(options.get("dataset"), {}))
    resolved.update({k: v for k, v in options.items() if v is not None})
    if (resolved["dataset"] is None) == (resolved["data"] is None):
        raise RunError("give exactly one of --dataset NAME or --data FILE.csv")
    if resolved.get("lr") is None:
        resolved["lr"] = DEFAULT_LR[resolved["optimizer"]]
    resolved["schedule_params"] = dict(resolved["schedule_params"] or {})
    resolved["hidden"] = [int(h) for h in resolved["hidden"]]
    return resolved


def load_data(cfg):
    """The dataset of a run, split and standardised: (train, val, test, scalers, ds)."""
    from minitrain import data
    if cfg["dataset"] is not None:
        ds = data.load(cfg["dataset"], n_samples=cfg["n_samples"], noise=cfg["noise"],
                       n_features=cfg["n_features"], n_classes=cfg["n_classes"],
                       seed=cfg["seed"])
    else:
        ds = data.load_csv(cfg["data"], cfg["target"], task=cfg["task"])
    if ds.task == "classification" and ds.n_classes < 2:
        raise data.DataError(f"{ds.name}: only one class ({ds.classes[0]!r}); "
                             "classification needs at least two")
    train, val, test = data.split(ds, val=cfg["val_split"], test=cfg["test_split"],
                                  seed=cfg["seed"])
    scaler = data.Scaler.fit(train.X)
    target_scaler = data.TargetScaler.fit(train.y) if ds.task == "regression" else None
    return train, val, test, scaler, target_scaler, ds


def arrays(part, scaler, target_scaler):
    """(X, y) of a Dataset part, with the run's scalers applied (None for None)."""
    if part is None:
        return None
    y = part.y if target_scaler is None else target_scaler.transform(part.y)
    return scaler.transform(part.X), y


def default_loss(ds):
    return "softmax_crossentropy" if ds.task == "classification" else "mse"


def build(cfg, ds, steps_per_epoch):
    """Model, optimizer and schedule for a resolved config and its dataset."""
    import minitrain as mt
    loss = cfg["loss"] or default_loss(ds)
    if ds.task == "classification":
        n_out = 1 if loss == "binary_crossentropy" else ds.n_classes
        if loss == "mse":
            raise ValueError("loss mse needs a regression target; this dataset is "
                             "classification")
        if loss == "binary_crossentropy" and ds.n_classes != 2:
            raise ValueError(f"loss binary_crossentropy needs 2 classes, the data has "
                             f"{ds.n_classes}")
    else:
        if loss != "mse":
            raise ValueError(f"loss {loss} needs class labels; this dataset is regression "
                             "(use mse)")
        n_out = 1
    model = mt.MLP([ds.n_features, *cfg["hidden"], n_out], activation=cfg["activation"],
                   loss=loss, dtype=cfg["dtype"], seed=cfg["seed"])
    hp = {k: cfg[k] for k in OPTIMIZER_OPTIONS if cfg.get(k) is not None}
    optimizer = mt.optim.get(cfg["optimizer"], convention=cfg["convention"], **hp)
    schedule = None
    if cfg["schedule"]:
        params = dict(cfg["schedule_params"])
        names = mt.schedules.parameters(cfg["schedule"])
        if "lr" in names and "lr" not in params:
            params["lr"] = cfg["lr"]
        if "max_lr" in names and "max_lr" not in params:
            params["max_lr"] = cfg["lr"]
        if "total_steps" in names and "total_steps" not in params:
            params["total_steps"] = max(2, cfg["epochs"] * steps_per_epoch)
        schedule = mt.schedules.get(cfg["schedule"], **params)
    return model, optimizer, schedule


def metrics(model, part, scaler, target_scaler):
    """{"loss": ..., "accuracy"|"r2": ...} of the model on a Dataset part."""
    from minitrain.train import evaluate
    if part is None:
        return None
    X, y = arrays(part, scaler, target_scaler)
    X = model.check_X(X)
    loss, metric = evaluate(model, X, model.check_y(y, X.shape[0]))
    return {"loss": loss, ("accuracy" if model.is_classifier else "r2"): metric}


def write_toml(path, cfg):
    """Write a flat dict (plus the schedule_params table) as TOML, atomically."""
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v) if math.isfinite(v) else f'"{v}"'
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(str(v))
    lines = ["# minitrain run configuration (the resolved options of `minitrain fit`)"]
    tables = {}
    for key, v in cfg.items():
        if isinstance(v, dict):
            tables[key] = v
        elif v is not None:
            lines.append(f"{key} = {value(v)}")
    for name, table in tables.items():
        lines.append(f"\n[{name}]")
        lines += [f"{k} = {value(v)}" for k, v in table.items() if v is not None]
    tmp = f"{path}.tmp"
    Path(tmp).write_text("\n".join(lines) + "\n")
    os.replace(tmp, path)


def read_toml(path):
    import tomllib
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise RunError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as e:
        raise RunError(f"{path}: not valid TOML ({e})") from None


def default_run_dir(cfg, root="runs"):
    source = cfg["dataset"] or Path(cfg["data"]).stem
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{source}-{cfg['optimizer']}-{stamp}"
    path, i = base, 1
    while path.exists():
        i += 1
        path = Path(f"{base}-{i}")
    return path


def fit_run(cfg, out, *, resume=False, force=False, progress=True):
    """Train the run ``cfg`` into the directory ``out``; return the summary dict.

    With ``resume=True`` the run continues from ``out/model.npz`` up to
    ``cfg["epochs"]`` epochs in total.
    """
    import minitrain as mt
    from minitrain.train import EarlyStopping, params_sha256
    out = Path(out)
    model_path = out / "model.npz"
    if resume:
        if not model_path.exists():
            raise RunError(f"{out}: no model.npz to resume from")
    elif out.exists() and any(out.iterdir()) and not force:
        raise RunError(f"{out} already exists; choose another --out, add --force to "
                       "overwrite it, or --resume it")
    out.mkdir(parents=True, exist_ok=True)
    train, val, test, scaler, target_scaler, ds = load_data(cfg)
    steps_per_epoch = -(-len(train) // cfg["batch_size"])
    model, optimizer, schedule = build(cfg, ds, steps_per_epoch)
    early = EarlyStopping(cfg["patience"], cfg["min_delta"]) if cfg["early_stopping"] else None
    extra = {"config": cfg, "scaler": scaler.to_dict(),
             "target_scaler": target_scaler.to_dict() if target_scaler else None,
             "classes": ds.classes, "feature_names": ds.feature_names, "task": ds.task}
    if not resume:
        write_toml(out / "config.toml", cfg)
    started = time.perf_counter()
    history = None
    try:
        history = mt.fit(model, optimizer, arrays(train, scaler, target_scaler),
                         arrays(val, scaler, target_scaler), epochs=cfg["epochs"],
                         batch_size=cfg["batch_size"], schedule=schedule, seed=cfg["seed"],
                         early_stopping=early, checkpoint=model_path,
                         resume=model_path if resume else None, progress=progress,
                         extra=extra, on_diverge=cfg["on_diverge"])
    finally:
        if history is None and model_path.exists():   # interrupted or diverged
            saved = ckpt.load(model_path)
            mt.History(saved["history"]).to_csv(out / "history.csv")
    history.to_csv(out / "history.csv")
    if early is not None and early.restore_best:
        # the checkpoint holds the last epoch; store the restored best weights too
        state = ckpt.load(model_path)
        state["model"]["params"] = model.params
        ckpt.save(model_path, state)
    seconds = sum(r["seconds"] for r in history.rows)
    steps = history.rows[-1]["step"] if history.rows else 0
    summary = {
        "train": metrics(model, train, scaler, target_scaler),
        "val": metrics(model, val, scaler, target_scaler),
        "test": metrics(model, test, scaler, target_scaler),
        "epochs": len(history), "steps": steps, "seconds": seconds,
        "steps_per_second": steps / seconds if seconds > 0 else None,
        "params_sha256": params_sha256(model.params),
        "run": str(out), "wall_seconds": time.perf_counter() - started,
    }
    tmp = out / "summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(tmp, out / "summary.json")
    return summary


def load_run(run):
    """(model, extra) of a finished or interrupted run directory."""
    import minitrain as mt
    path = Path(run) / "model.npz"
    if not Path(run).is_dir():
        raise RunError(f"{run}: no such run directory")
    state = ckpt.load(path)
    try:
        config = state["model"]["config"]
        model = mt.MLP(**config)
        params = np.asarray(state["model"]["params"])
        if params.shape != model.params.shape or params.dtype != model.params.dtype:
            raise ckpt.CheckpointError(f"{path}: params have shape {params.shape} and dtype "
                                       f"{params.dtype}, expected {model.params.shape} "
                                       f"{model.params.dtype}")
        model.params[:] = params
        return model, state["extra"]
    except (KeyError, TypeError) as e:
        raise ckpt.CheckpointError(f"{path}: incomplete checkpoint ({e})") from None
