"""The run builder: the ONLY place where options become a model, an optimizer, a
schedule and the trainer's arguments, and where they are checked to fit together.

``minitrain fit``, ``evaluate``, ``predict``, ``compare``, ``sweep``, ``lr-find``, resume
and the estimators all come through here, so one mistake gets one message everywhere:

>>> cfg = resolve({"dataset": "moons", "optimizer": "adagrad",
...                "schedule": "onecycle"})               # doctest: +SKIP
RunError: schedule onecycle cycles momentum, but optimizer adagrad has no momentum ...

The steps: :func:`resolve` fills defaults (one table, :data:`RUN_OPTIONS`; the
optimizers' from their registry) and validates every value (:func:`check`);
:func:`build_run` loads the data and builds the pieces into a :class:`Run`;
:func:`fit_run` trains a run into a run folder.

A run folder ``runs/NAME/`` holds::

    config.toml    the resolved options (re-running with --config reproduces the run)
    history.csv    one row per epoch: epoch, step, lr, momentum, train_loss, val_loss,
                   val_metric, seconds
    model.npz      the checkpoint: params, optimizer, schedule and trainer state, the
                   architecture, the data scalers, class labels and the fingerprint
                   (SHA-256) of the training data and config (written every epoch)
    summary.json   final train/val/test metrics, steps, seconds, params_sha256

It belongs to one run: locked while written (:class:`minitrain.files.FolderLock`);
``--force`` sets the old run's files aside until the new run's first checkpoint exists
(and puts them back if it fails before); a run that fails before its first checkpoint
leaves nothing behind; resume refuses a checkpoint whose data or config differ.
"""
from __future__ import annotations

import hashlib
import json
import math
import numbers
import time
from dataclasses import dataclass
from pathlib import Path

from minitrain import files


class RunError(ValueError):
    """A problem with a run's options, folder or files (exit 1 on the command line)."""


class OptionError(RunError):
    """Options that do not fit together or are out of range (a usage error on the command
    line when they come from it)."""


# ------------------------------------------------------------------ the options

#: Largest number of values (rows x features) a generated or loaded dataset may hold,
#: and largest number of parameters a model may have: refused before allocating.
MAX_DATA_VALUES = 2 * 10**8
MAX_PARAMS = 5 * 10**7
MAX_WORK_BYTES = 4 * 2**30

# name: (default, kind, constraint). kinds: "str" (None allowed), "int" (lo, hi),
# "float" (lo, hi, lo_open) finite, "bool", "choice" (a tuple, or "module:attr" read
# from a registry), "sizes" (list of ints >= 1).
RUN_OPTIONS = {
    "dataset": (None, "str", None),
    "data": (None, "str", None),
    "target": (None, "str", None),
    "task": (None, "choice", ("classification", "regression")),
    "n_samples": (None, "int", (1, 10**8)),
    "noise": (None, "float", (0.0, None, False)),
    "n_features": (None, "int", (1, 10**6)),
    "n_classes": (None, "int", (2, 10**4)),
    "hidden": ([64, 64], "sizes", (1, 10**6)),
    "activation": ("relu", "choice", "minitrain.nn:ACTIVATIONS"),
    "loss": (None, "choice", "minitrain.nn:LOSSES"),
    "dtype": ("float32", "choice", ("float32", "float64")),
    "optimizer": ("nadam", "choice", "minitrain.optim:names"),
    "convention": (None, "choice", "minitrain.optim:CONVENTIONS"),   # None: the optimizer's own
    "lr": (None, "float", (0.0, None, True)),
    "schedule": (None, "choice", "minitrain.schedules:names"),
    "schedule_params": ({}, "table", None),
    "warmup_steps": (0, "int", (0, 10**9)),
    "warmup_start": (0.0, "float", (0.0, None, False)),
    "epochs": (40, "int", (1, 10**7)),
    "batch_size": (32, "int", (1, 10**8)),
    "val_split": (0.2, "float", (0.0, 1.0, False)),
    "test_split": (0.2, "float", (0.0, 1.0, False)),
    "seed": (0, "int", (0, 2**63 - 1)),
    "early_stopping": (False, "bool", None),
    "patience": (10, "int", (1, 10**7)),
    "min_delta": (0.0, "float", (0.0, None, False)),
    "on_diverge": ("stop", "choice", ("stop", "rollback")),
    "bias_decay": (True, "bool", None),
}
DEFAULTS = {k: v[0] for k, v in RUN_OPTIONS.items()}

# Per-dataset defaults where the general ones overfit (used when the option is not given).
DATASET_DEFAULTS = {"diabetes": {"hidden": [16]}, "iris": {"epochs": 100}, "wine": {"epochs": 60}}

#: Options that may differ between a checkpoint and its resume (how long to train).
RESUMABLE = ("epochs",)


def optimizer_options():
    """Every optimizer hyperparameter name (from the optimizer registry) except ``lr``."""
    from minitrain import optim
    return tuple(name for name in optim.options() if name != "lr")


def _choices(source):
    if isinstance(source, tuple):
        return source
    from importlib import import_module
    module, _, attr = source.partition(":")
    value = getattr(import_module(module), attr)
    return tuple(value() if callable(value) else value)


def _check_value(name, value, kind, rule):
    """One option's value, converted and validated; OptionError naming it otherwise."""
    if value is None and kind in ("str", "choice", "int", "float"):
        return None
    if kind == "str":
        if not isinstance(value, str):
            raise OptionError(f"{name} must be a string, got {value!r}")
        return value
    if kind == "choice":
        valid = _choices(rule)
        if value not in valid:
            raise OptionError(f"{name} must be one of {', '.join(map(str, valid))}; "
                              f"got {value!r}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise OptionError(f"{name} must be true or false, got {value!r}")
        return value
    if kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise OptionError(f"{name} must be an integer, got {value!r}")
        lo, hi = rule
        if not lo <= value <= hi:
            raise OptionError(f"{name} must be in [{lo}, {hi}], got {value!r}")
        return int(value)
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise OptionError(f"{name} must be a number, got {value!r}")
        value = float(value)
        lo, hi, lo_open = rule
        if not math.isfinite(value):
            raise OptionError(f"{name} must be a finite number, got {value!r}")
        if value < lo or (lo_open and value == lo) or (hi is not None and value >= hi):
            upper = f", {hi})" if hi is not None else ", inf)"
            raise OptionError(f"{name} must be in {'(' if lo_open else '['}{lo:g}{upper}, "
                              f"got {value!r}")
        return value
    if kind == "sizes":
        if isinstance(value, str):
            try:
                value = [int(v) for v in value.split(",") if v.strip()]
            except ValueError:
                raise OptionError(f"{name} must be layer sizes like [64, 64], "
                                  f"got {value!r}") from None
        if not isinstance(value, (list, tuple)) or not value or not all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value):
            raise OptionError(f"{name} must be a non-empty list of layer sizes like "
                              f"[64, 64], got {value!r}")
        lo, hi = rule
        if not all(lo <= v <= hi for v in value):
            raise OptionError(f"{name} sizes must be in [{lo}, {hi}], got {list(value)!r}")
        return [int(v) for v in value]
    if kind == "table":
        if not isinstance(value, dict):
            raise OptionError(f"{name} must be a table, got {value!r}")
        return dict(value)
    raise AssertionError(kind)                               # pragma: no cover


def resolve(options):
    """Defaults filled into ``options`` and every value checked (see :func:`check`).

    ``options`` holds names of :data:`RUN_OPTIONS` and optimizer hyperparameters; None
    means "not given". The learning rate defaults to the optimizer's trainer default
    (:func:`minitrain.optim.default_lr`).
    """
    known = set(RUN_OPTIONS) | set(optimizer_options())
    unknown = sorted(set(options) - known)
    if unknown:
        raise OptionError(f"unknown option(s): {', '.join(unknown)}")
    cfg = dict(DEFAULTS)
    dataset = options.get("dataset")
    if isinstance(dataset, str):
        cfg.update(DATASET_DEFAULTS.get(dataset, {}))
    cfg.update({k: v for k, v in options.items() if v is not None})
    if cfg.get("schedule") in ("none", ""):
        cfg["schedule"] = None
    return check(cfg)


def _default_lr(name):
    from minitrain import optim
    return optim.default_lr(name)


def check(cfg):
    """Validate a config: every value (type, range, finite) and every combination.

    The one home of these rules. Returns the config with values normalised.
    Raises :class:`OptionError` naming the option, the constraint and the value.
    """
    cfg = dict(cfg)
    for name, (_, kind, rule) in RUN_OPTIONS.items():
        cfg[name] = _check_value(name, cfg.get(name), kind, rule)
    if (cfg["dataset"] is None) == (cfg["data"] is None):
        raise OptionError("give exactly one of dataset (--dataset NAME) or data "
                          "(--data FILE.csv)")
    if cfg["dataset"] is not None:
        _check_dataset_options(cfg)
    if cfg["val_split"] + cfg["test_split"] >= 1:
        raise OptionError(f"val_split + test_split must be < 1, got "
                          f"{cfg['val_split']} + {cfg['test_split']}")
    if cfg["lr"] is None:
        cfg["lr"] = _default_lr(cfg["optimizer"])
    if cfg["convention"] is None:
        from minitrain import optim
        cfg["convention"] = optim.conventions(cfg["optimizer"])[0]
    hp = optimizer_hyperparameters(cfg)
    check_combination(cfg["optimizer"], cfg["convention"], hp, cfg["schedule"],
                      cfg["schedule_params"], warmup=(cfg["warmup_steps"],
                                                      cfg["warmup_start"]))
    return cfg


def _check_dataset_options(cfg):
    from minitrain import data
    name = cfg["dataset"]
    if name not in data.names():
        raise OptionError(f"unknown dataset {name!r}; valid: {', '.join(data.names())} "
                          "(or a CSV file with --data)")
    accepted = data.options(name)
    spec = data.DATASETS[name]
    for key in ("n_samples", "noise", "n_features", "n_classes"):
        if cfg[key] is None:
            continue
        if key not in accepted:
            raise OptionError(f"dataset {name!r} does not accept {key} (it accepts "
                              f"{', '.join(accepted) or 'no options'}), got {key}={cfg[key]!r}")
        low = spec.minimum.get(key)
        if low is not None and cfg[key] < low:
            raise OptionError(f"{key} must be >= {low} for dataset {name!r}, got {cfg[key]!r}")


def optimizer_hyperparameters(cfg):
    """{name: value} of the optimizer hyperparameters a config gives (lr included)."""
    hp = {k: cfg[k] for k in optimizer_options() if cfg.get(k) is not None}
    return {"lr": cfg["lr"], **hp}


def check_combination(optimizer, convention, hyperparameters, schedule=None,
                      schedule_params=None, *, warmup=(0, 0.0)):
    """Check that an optimizer, its hyperparameters and a schedule fit together.

    Used by :func:`check` and by everything that builds optimizers and schedules
    without a full run (``paths``, the estimators): one rule, one message.
    Raises :class:`OptionError`.
    """
    from minitrain import optim
    check_hyperparameter_names(optimizer, hyperparameters)
    for name, value in hyperparameters.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise OptionError(f"{name} must be a finite number, got {value!r}")
    try:
        opt = optim.get(optimizer, convention=convention, **hyperparameters)
    except (TypeError, ValueError) as e:
        raise OptionError(str(e)) from None
    if schedule is None:
        if schedule_params or warmup[0]:
            given = sorted(schedule_params or ()) + (["warmup_steps"] if warmup[0] else [])
            raise OptionError(f"schedule parameter(s) {', '.join(given)} need a schedule")
        return
    # a provisional length: the real one (epochs x steps per epoch) is known with the data
    sched = build_schedule(schedule, schedule_params, lr=hyperparameters["lr"],
                           total_steps=10**9, warmup=warmup)
    from minitrain import schedules
    if schedules.cycles_momentum(sched) and _momentum_attr(optimizer, opt) is None:
        raise OptionError(f"schedule {schedule} cycles momentum, but optimizer {optimizer} "
                          "has no momentum; turn cycling off (--no-cycle-momentum, "
                          "cycle_momentum = false) or choose an optimizer with momentum")


def check_hyperparameter_names(optimizer, names):
    """OptionError when a name is not a hyperparameter of ``optimizer``."""
    from minitrain import optim
    takes = set(optim.hyperparameters(optimizer))
    stray = sorted(set(names) - takes - {"lr"})
    if stray:
        raise OptionError(f"{', '.join(stray)} is not a hyperparameter of optimizer "
                          f"{optimizer} (it takes: {', '.join(sorted(takes))})")


def _momentum_attr(name, opt):
    from minitrain import optim
    return optim.momentum_attr(name)


def build_schedule(name, params, *, lr, total_steps=None, warmup=(0, 0.0)):
    """The schedule of a run (:func:`minitrain.schedules.build`: lr, max_lr, total_steps
    filled from the run where not given, the run's warm-up in front); OptionError."""
    from minitrain import schedules
    try:
        return schedules.build(name, params, lr=lr, total_steps=total_steps,
                               warmup_steps=warmup[0], warmup_start=warmup[1])
    except (TypeError, ValueError) as e:
        raise OptionError(str(e)) from None


# ------------------------------------------------------------------ data


@dataclass
class RunData:
    """A run's dataset, split and standardised (scalers fitted on the training part)."""

    train: object
    val: object
    test: object
    scaler: object
    target_scaler: object
    dataset: object

    def __iter__(self):          # train, val, test, scaler, target_scaler, ds = load_data()
        return iter((self.train, self.val, self.test, self.scaler, self.target_scaler,
                     self.dataset))

    def arrays(self, part):
        """(X, y) of "train", "val" or "test" with the scalers applied; None if empty."""
        return arrays(getattr(self, part), self.scaler, self.target_scaler)

    def fingerprint(self):
        """SHA-256 of the training data as the model sees it: X, y, classes, scalers."""
        import numpy as np
        h = hashlib.sha256()
        X, y = self.arrays("train")
        for a in (X, y):
            a = np.ascontiguousarray(a)
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.tobytes())
        h.update(json.dumps({"classes": self.dataset.classes,
                             "features": self.dataset.feature_names,
                             "scaler": self.scaler.to_dict(),
                             "target_scaler": self.target_scaler.to_dict()
                             if self.target_scaler else None},
                            sort_keys=True, default=str).encode())
        return h.hexdigest()


def load_data(cfg):
    """The dataset of a run, split and standardised: a :class:`RunData`."""
    from minitrain import data
    if cfg["dataset"] is not None:
        spec = data.DATASETS[cfg["dataset"]]
        n = cfg["n_samples"] or spec.shape[0]
        d = cfg["n_features"] or spec.shape[1]
        if n * d > MAX_DATA_VALUES:
            raise OptionError(f"n_samples x n_features must be <= {MAX_DATA_VALUES:.0e} "
                              f"values (about {MAX_DATA_VALUES * 8 / 2**30:.1f} GiB), got "
                              f"{n} x {d}")
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
    return RunData(train, val, test, scaler, target_scaler, ds)


def arrays(part, scaler, target_scaler):
    """(X, y) of a Dataset part, with the run's scalers applied (None for None)."""
    if part is None:
        return None
    y = part.y if target_scaler is None else target_scaler.transform(part.y)
    return scaler.transform(part.X), y


def default_loss(task):
    return "softmax_crossentropy" if task == "classification" else "mse"


def _output_units(loss, task, n_classes):
    """Output units for a loss on a task; OptionError when they do not fit."""
    if task == "classification":
        if loss == "mse":
            raise OptionError("loss mse needs a regression target; this dataset is "
                              "classification")
        if loss == "binary_crossentropy":
            if n_classes != 2:
                raise OptionError(f"loss binary_crossentropy needs 2 classes, the data has "
                                  f"{n_classes}")
            return 1
        return n_classes
    if loss != "mse":
        raise OptionError(f"loss {loss} needs class labels; this dataset is regression "
                          "(use mse)")
    return 1


# ------------------------------------------------------------------ the builder


@dataclass
class Run:
    """Everything one training run needs, built from a resolved config."""

    cfg: dict
    data: RunData
    model: object
    optimizer: object
    schedule: object
    early_stopping: object
    steps_per_epoch: int

    def fit_kwargs(self):
        """The trainer's arguments (:func:`minitrain.train.fit`) for this run."""
        cfg = self.cfg
        return dict(epochs=cfg["epochs"], batch_size=cfg["batch_size"],
                    schedule=self.schedule, seed=cfg["seed"],
                    early_stopping=self.early_stopping, on_diverge=cfg["on_diverge"])

    def train(self, threads="auto", **kwargs):
        """Run :func:`minitrain.train.fit` on this run's data; returns the History.

        ``threads``: an int, or "auto" (:func:`minitrain.threads.choose`: one thread for
        small steps or a busy machine; re-checked between chunks of steps), applied to
        OpenBLAS and Numba for the duration of the training only.
        """
        from minitrain import threads as th
        from minitrain.train import fit
        batch = min(self.cfg["batch_size"], len(self.data.train))
        with th.use(threads, self.model.layer_sizes, batch, self.cfg["dtype"]) as handle:
            kwargs["between_steps"] = [*kwargs.get("between_steps", ()), handle.check]
            try:
                return fit(self.model, self.optimizer, self.data.arrays("train"),
                           self.data.arrays("val"), **{**self.fit_kwargs(), **kwargs})
            finally:                 # results depend on it (OpenBLAS at 1 vs 2 threads)
                self.threads = {"chosen": handle.chosen, "auto": handle.auto,
                                "changes": [[round(t, 3), n] for t, n in handle.changes]}

    def extra(self):
        """What the checkpoint stores besides the trainer's state."""
        d = self.data
        return {"config": self.cfg, "scaler": d.scaler.to_dict(),
                "target_scaler": d.target_scaler.to_dict() if d.target_scaler else None,
                "classes": d.dataset.classes, "feature_names": d.dataset.feature_names,
                "task": d.dataset.task, "fingerprint": self.fingerprint()}

    def header(self):
        """Two lines (within 80 columns) saying what is about to train."""
        d, cfg, model = self.data, self.cfg, self.model
        ds = d.dataset
        rows = f"{len(d.train)} train / {len(d.val or ())} val / {len(d.test or ())} test"
        what = (f"{ds.n_classes} classes" if ds.task == "classification" else "regression")
        arch = "-".join(map(str, model.layer_sizes))
        sched = cfg["schedule"] or "constant lr"
        if cfg["warmup_steps"]:
            sched += f" after {cfg['warmup_steps']} warm-up steps"
        conv = "" if cfg["convention"] == "torch" else f"@{cfg['convention']}"
        return (f"{ds.name}: {rows} rows, {ds.n_features} features, {what}\n"
                f"MLP {arch} {cfg['activation']} ({model.params.size:,} params), "
                f"{cfg['optimizer']}{conv} lr {cfg['lr']:g}\n"
                f"{sched}, {cfg['epochs']} epochs x {self.steps_per_epoch} steps of "
                f"batch {cfg['batch_size']}")

    def fingerprint(self):
        """SHA-256 of the training data and of the config (less what resume may change)."""
        config = {k: v for k, v in self.cfg.items() if k not in RESUMABLE}
        text = json.dumps(config, sort_keys=True, default=str)
        return {"data": self.data.fingerprint(),
                "config": hashlib.sha256(text.encode()).hexdigest()}


def check_with_data(cfg, data):
    """The checks that need the data: the loss against the task, the model's size and the
    memory of one batch. Returns (layer sizes, loss); OptionError otherwise."""
    ds = data.dataset
    loss = cfg["loss"] or default_loss(ds.task)
    n_out = _output_units(loss, ds.task, ds.n_classes)
    sizes = [ds.n_features, *cfg["hidden"], n_out]
    n_params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    if n_params > MAX_PARAMS:
        raise OptionError(f"hidden {cfg['hidden']} gives {n_params:.3g} parameters on "
                          f"{ds.n_features} features; the limit is {MAX_PARAMS:.0e}")
    batch = min(cfg["batch_size"], len(data.train))
    work = 4 * batch * sum(sizes) * (4 if cfg["dtype"] == "float32" else 8)
    if work > MAX_WORK_BYTES:
        raise OptionError(f"batch_size {cfg['batch_size']} with layers {sizes} needs about "
                          f"{work / 2**30:.1f} GiB of activations; the limit is "
                          f"{MAX_WORK_BYTES / 2**30:.0f} GiB (use a smaller batch)")
    return sizes, loss


def build_run(cfg, data=None):
    """Load the data (unless given) and build the model, optimizer and schedule.

    ``cfg`` is a resolved config (:func:`resolve`). Checks what needs the data: the loss
    against the task and the model's size. Raises :class:`OptionError`, or the data
    layer's ``DataError``.
    """
    import minitrain as mt
    from minitrain.train import EarlyStopping
    data = data or load_data(cfg)
    sizes, loss = check_with_data(cfg, data)
    model = mt.MLP(sizes, activation=cfg["activation"], loss=loss, dtype=cfg["dtype"],
                   seed=cfg["seed"])
    optimizer = mt.optim.get(cfg["optimizer"], convention=cfg["convention"],
                             **optimizer_hyperparameters(cfg))
    optimizer.set_layout(model.param_blocks)        # Keras's clipnorm is per W_i, b_i
    if not cfg["bias_decay"]:
        optimizer.exclude_from_weight_decay(model.bias_mask)
    steps_per_epoch = -(-len(data.train) // cfg["batch_size"])
    schedule = None
    if cfg["schedule"]:
        schedule = build_schedule(cfg["schedule"], cfg["schedule_params"], lr=cfg["lr"],
                                  total_steps=cfg["epochs"] * steps_per_epoch,
                                  warmup=(cfg["warmup_steps"], cfg["warmup_start"]))
    early = EarlyStopping(cfg["patience"], cfg["min_delta"]) if cfg["early_stopping"] \
        else None
    return Run(cfg, data, model, optimizer, schedule, early, steps_per_epoch)


def metrics(model, part, scaler, target_scaler):
    """{"loss": ..., "accuracy"|"r2": ...} of the model on a Dataset part."""
    from minitrain.train import evaluate
    if part is None:
        return None
    X, y = arrays(part, scaler, target_scaler)
    X = model.check_X(X)
    loss, metric = evaluate(model, X, model.check_y(y, X.shape[0]))
    return {"loss": loss, ("accuracy" if model.is_classifier else "r2"): metric}


# ------------------------------------------------------------------ config files


def to_toml(cfg):
    """A flat dict (plus the schedule_params table) as TOML text."""
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
    return "\n".join(lines) + "\n"


def write_toml(path, cfg):
    """Write a config as TOML, atomically."""
    files.write_atomic(path, to_toml(cfg))


#: Largest config or grid file read (bytes).
MAX_TOML_BYTES = 2**20


def read_toml(path):
    """A TOML file as a dict; RunError when missing, too large or invalid."""
    import tomllib
    path = Path(path)
    try:
        if path.stat().st_size > MAX_TOML_BYTES:
            raise RunError(f"{path}: larger than {MAX_TOML_BYTES} bytes; not a config file")
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise RunError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise RunError(f"{path}: is a folder, not a TOML file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
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


# ------------------------------------------------------------------ fit into a folder

#: The files a run writes into its folder (the only ones --force replaces).
RUN_FILES = ("config.toml", "history.csv", "model.npz", "summary.json", "curves.png")


def fit_run(cfg, out, *, resume=False, force=False, progress=True, plot=True,
            threads="auto"):
    """Train the run ``cfg`` into the folder ``out``; return the summary dict.

    With ``resume=True`` the run continues from ``out/model.npz`` up to
    ``cfg["epochs"]`` epochs in total; the checkpoint's data and config must be the
    ones ``cfg`` describes (else :class:`RunError` naming what differs). With ``plot``
    and matplotlib installed, ``curves.png`` shows loss, metric and lr per epoch.
    """
    out = Path(out)
    if resume:
        if not (out / "model.npz").is_file():
            raise RunError(f"{out}: no model.npz to resume from")
    created = not out.exists()
    files.claim_folder(out, "run", RUN_FILES, force=force or resume)
    with files.FolderLock(out):                # a busy folder: refused, left as it is
        try:
            return _fit_locked(cfg, out, resume=resume, force=force, progress=progress,
                               plot=plot, threads=threads)
        finally:
            if created:                         # only while holding the lock
                files.remove_if_only_ours(out)


def _fit_locked(cfg, out, *, resume, force, progress, plot, threads):
    from minitrain import checkpoint as ckpt
    from minitrain.train import History, params_sha256
    model_path = out / "model.npz"
    if resume:                                  # the config first: it says where the data is
        state = ckpt.load(model_path)
        check_resume_config(state, cfg, model_path)
    run = build_run(cfg)
    if resume:
        check_resume(state, run, model_path)
        done = state.get("trainer", {}).get("run", {}).get("epoch")
        if isinstance(done, int) and done >= cfg["epochs"]:
            raise RunError(f"{out} has already trained {done} epochs; nothing to do for "
                           f"--epochs {cfg['epochs']} (give more epochs to continue it)")
    aside = None if resume else _set_aside(out)
    if progress:
        import sys

        from minitrain.threads import compile_notice
        print(run.header(), file=sys.stderr)
        compile_notice(run.model._fns.pointer_source(run.model.dtype))
    started = time.perf_counter()
    history = None

    config_written = resume                     # a resume rewrites it at the end

    def first_checkpoint(row):
        nonlocal aside, config_written
        if aside is not None:                   # the new run exists: the old one goes
            _drop_aside(aside)
            aside = None
        if not config_written:
            write_toml(out / "config.toml", run.cfg)
            config_written = True

    try:
        history = run.train(threads, checkpoint=model_path,
                            resume=model_path if resume else None, progress=progress,
                            extra=run.extra(), callbacks=[first_checkpoint])
    except BaseException:
        if model_path.exists():                 # interrupted (state saved) or diverged
            first_checkpoint(None)
            History(ckpt.load(model_path)["history"]).to_csv(out / "history.csv")
        elif aside is not None:                 # nothing of the new run: the old comes back
            _restore_aside(out, aside)
        raise
    if aside is not None:                       # no epoch ran (resume past the end)
        _drop_aside(aside)
    history.to_csv(out / "history.csv")
    write_toml(out / "config.toml", run.cfg)
    model = run.model
    if run.early_stopping is not None and run.early_stopping.restore_best:
        state = ckpt.load(model_path)           # the checkpoint holds the last epoch
        state["model"]["params"] = model.params
        ckpt.save(model_path, state)
    seconds = sum(r["seconds"] for r in history.rows)
    steps = history.rows[-1]["step"] if history.rows else 0
    d = run.data
    summary = {
        "train": metrics(model, d.train, d.scaler, d.target_scaler),
        "val": metrics(model, d.val, d.scaler, d.target_scaler),
        "test": metrics(model, d.test, d.scaler, d.target_scaler),
        "epochs": len(history), "steps": steps, "seconds": seconds,
        "steps_per_second": steps / seconds if seconds > 0 else None,
        "params_sha256": params_sha256(model.params),
        "run": str(out), "wall_seconds": time.perf_counter() - started,
        "threads": getattr(run, "threads", None),
    }
    files.write_json(out / "summary.json", summary)
    if plot and plot_history(history, out / "curves.png", title=run.header().splitlines()[1]):
        summary["plot"] = str(out / "curves.png")
    return summary


def plot_history(history, path, title=""):
    """Loss (train and validation), validation metric and lr per epoch into one PNG.
    Returns False, drawing nothing, without matplotlib or without epochs."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return False
    rows = history.rows
    if not rows:
        return False
    epochs = [r["epoch"] for r in rows]
    fig = Figure(figsize=(10, 3.2))
    ax_loss, ax_metric, ax_lr = fig.subplots(1, 3)
    ax_loss.plot(epochs, [r["train_loss"] for r in rows], label="train")
    if rows[0]["val_loss"] is not None:
        ax_loss.plot(epochs, [r["val_loss"] for r in rows], label="validation")
        ax_metric.plot(epochs, [r["val_metric"] for r in rows], color="C1")
    ax_loss.set_yscale("log")
    ax_loss.set_title("loss")
    ax_loss.legend(fontsize=8)
    ax_metric.set_title(f"validation {history.metric_name}")
    ax_lr.plot(epochs, [r["lr"] for r in rows], color="C2")
    ax_lr.set_title("lr (last step of each epoch)")
    for ax in (ax_loss, ax_metric, ax_lr):
        ax.set_xlabel("epoch")
    fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.16, top=0.84, wspace=0.28)
    files.save_figure(fig, path, tight=False)     # fixed margins: drawn once (~0.1 s)
    return True


def _set_aside(out):
    """Move an old run's files into ``out/.previous-PID/`` (atomic renames); None if
    there are none."""
    import os
    old = [out / name for name in RUN_FILES if (out / name).exists()]
    if not old:
        return None
    aside = out / f".previous-{os.getpid()}"
    aside.mkdir()
    for path in old:
        os.replace(path, aside / path.name)
    return aside


def _restore_aside(out, aside):
    import os
    for path in aside.iterdir():
        os.replace(path, out / path.name)
    aside.rmdir()


def _drop_aside(aside):
    for path in aside.iterdir():
        if path.name in RUN_FILES:
            path.unlink()
    aside.rmdir()


def check_resume_config(state, cfg, path):
    """Refuse to resume with a config other than the checkpoint's: name what differs."""
    extra = state.get("extra") if isinstance(state, dict) else None
    if not isinstance(extra, dict) or not isinstance(extra.get("config"), dict):
        raise RunError(f"{path}: checkpoint has no run config; cannot check it is this run")
    saved = extra["config"]
    changed = [k for k in sorted(set(saved) | set(cfg))
               if k not in RESUMABLE and saved.get(k) != cfg.get(k)]
    if changed:
        k = changed[0]
        raise RunError(f"{path}: the run's {k} changed since the checkpoint "
                       f"({saved.get(k)!r} -> {cfg.get(k)!r}); resume continues the "
                       "same run only (start a new one with another --out)")


def check_resume(state, run, path):
    """Refuse to resume a checkpoint that is not this run: its config, then its data."""
    check_resume_config(state, run.cfg, path)
    extra = state["extra"]
    fingerprint = extra.get("fingerprint")
    if not isinstance(fingerprint, dict) or "data" not in fingerprint:
        raise RunError(f"{path}: checkpoint has no data fingerprint; cannot check it is "
                       "this run's data")
    if fingerprint["data"] != run.data.fingerprint():
        source = run.cfg["data"] or f"dataset {run.cfg['dataset']}"
        raise RunError(f"{path}: the training data ({source}) differ from the data this "
                       "run was trained on (SHA-256 mismatch); resume refused")


# ------------------------------------------------------------------ saved runs


@dataclass
class SavedRun:
    """A run folder's model and what the checkpoint says about its data."""

    model: object
    extra: dict

    def __iter__(self):                      # model, extra = load_run(folder)
        return iter((self.model, self.extra))

    @property
    def task(self):
        return self.extra["task"]

    def scalers(self):
        from minitrain import data
        scaler = data.Scaler.from_dict(self.extra["scaler"])
        target = self.extra.get("target_scaler")
        return scaler, data.TargetScaler.from_dict(target) if target else None

    def parts(self, data_path=None, target=None):
        """Dataset parts to score: the run's own split, or a CSV file given by the user."""
        from minitrain import data
        cfg = self.extra["config"]
        if data_path is None:
            d = load_data(resolve(cfg))
            return {"train": d.train, "val": d.val, "test": d.test}
        ds = data.load_csv(data_path, target if target is not None else cfg.get("target"),
                           task=self.task)
        if ds.feature_names != self.extra["feature_names"]:
            raise data.DataError(f"{data_path}: columns {ds.feature_names} differ from the "
                                 f"run's features {self.extra['feature_names']}")
        return {Path(data_path).name: self._encode(ds)}

    def _encode(self, ds):
        """Map a CSV's class labels onto the run's class indices."""
        from minitrain import data
        if self.task != "classification":
            return ds
        index = {str(c): i for i, c in enumerate(self.extra["classes"])}
        labels = [str(ds.classes[k]) for k in ds.y]
        unknown = sorted({lab for lab in labels if lab not in index})
        if unknown:
            raise data.DataError(f"labels {unknown} were not seen in training "
                                 f"(classes: {self.extra['classes']})")
        return data.Dataset(ds.X, [index[lab] for lab in labels], ds.task, ds.name,
                            ds.feature_names, list(self.extra["classes"]))


def class_report(saved, part):
    """Per-class precision, recall, F1 and support, then the confusion matrix (rows: true
    class, columns: predicted), as text, for a classification run on a Dataset part."""
    import numpy as np
    scaler, _ = saved.scalers()
    model, classes = saved.model, [str(c) for c in saved.extra["classes"]]
    pred = model.predict(model.check_X(scaler.transform(part.X))).astype(int).ravel()
    true = np.asarray(part.y).astype(int).ravel()
    k = len(classes)
    matrix = np.zeros((k, k), dtype=int)
    np.add.at(matrix, (true, pred), 1)
    width = max(8, *(len(c) for c in classes))
    lines = [f"{'class':<{width}} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>7}"]
    for i, c in enumerate(classes):
        tp, p_all, t_all = matrix[i, i], matrix[:, i].sum(), matrix[i].sum()
        precision = tp / p_all if p_all else 0.0
        recall = tp / t_all if t_all else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        lines.append(f"{c:<{width}} {precision:>9.3f} {recall:>7.3f} {f1:>6.3f} {t_all:>7d}")
    lines.append("\nconfusion matrix (rows: true, columns: predicted)")
    cell = max(4, len(str(matrix.max())) + 1, *(len(c) + 1 for c in classes))
    lines.append(" " * width + "".join(f"{c:>{cell}}" for c in classes))
    for i, c in enumerate(classes):
        lines.append(f"{c:<{width}}" + "".join(f"{v:>{cell}d}" for v in matrix[i]))
    return "\n".join(lines)


def load_run(run):
    """The :class:`SavedRun` of a run folder; every checkpoint field validated."""
    import numpy as np

    import minitrain as mt
    from minitrain import checkpoint as ckpt
    run = Path(run)
    if not run.is_dir():
        raise RunError(f"{run}: no such run directory")
    path = run / "model.npz"
    state = ckpt.load(path)

    def bad(field, why):
        return ckpt.CheckpointError(f"{path}: field {field} {why}")

    model_state = state.get("model") if isinstance(state, dict) else None
    if not isinstance(model_state, dict):
        raise bad("model", "is missing")
    config = model_state.get("config")
    if not isinstance(config, dict):
        raise bad("model.config", "is missing")
    sizes = config.get("layer_sizes")
    if not (isinstance(sizes, list) and len(sizes) >= 2 and all(
            isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= 10**6
            for s in sizes)):
        raise bad("model.config.layer_sizes", f"must be 2+ sizes in [1, 1e6], got {sizes!r:.60}")
    n_params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    if n_params > MAX_PARAMS:
        raise bad("model.config.layer_sizes", f"give {n_params:.3g} parameters (limit "
                  f"{MAX_PARAMS:.0e})")
    params = model_state.get("params")
    if not isinstance(params, np.ndarray) or params.ndim != 1 or params.size != n_params:
        raise bad("model.params", f"must be a 1-D array of {n_params} values")
    if not np.issubdtype(params.dtype, np.floating) or not np.isfinite(params).all():
        raise bad("model.params", "must be finite floating-point numbers")
    try:
        model = mt.MLP(**config)
    except (TypeError, ValueError) as e:
        raise bad("model.config", f"is invalid ({e})") from None
    if params.dtype != model.params.dtype:
        raise bad("model.params", f"has dtype {params.dtype}, the config says "
                  f"{model.params.dtype}")
    model.params[:] = params
    extra = state.get("extra")
    if not isinstance(extra, dict):
        raise bad("extra", "is missing")
    _check_extra(extra, model, bad)
    return SavedRun(model, extra)


def _check_extra(extra, model, bad):
    task = extra.get("task")
    if task not in ("classification", "regression"):
        raise bad("extra.task", f"must be classification or regression, got {task!r:.40}")
    if (task == "classification") != model.is_classifier:
        raise bad("extra.task", f"is {task} but the model's loss is {model.loss}")
    names = extra.get("feature_names")
    if not (isinstance(names, list) and len(names) == model.layer_sizes[0]
            and all(isinstance(n, str) for n in names)):
        raise bad("extra.feature_names", f"must be {model.layer_sizes[0]} column names")
    scaler = extra.get("scaler")
    try:
        from minitrain import data
        s = data.Scaler.from_dict(scaler)
        if s.n_features != model.layer_sizes[0]:
            raise ValueError("wrong length")
        if extra.get("target_scaler") is not None:
            data.TargetScaler.from_dict(extra["target_scaler"])
    except (ValueError, TypeError, KeyError) as e:
        raise bad("extra.scaler", f"is invalid ({e})") from None
    if task == "classification":
        classes = extra.get("classes")
        n = 2 if model.loss == "binary_crossentropy" else model.layer_sizes[-1]
        if not (isinstance(classes, list) and len(classes) == n
                and all(isinstance(c, (str, int, float)) for c in classes)):
            raise bad("extra.classes", f"must list the {n} class labels")
    if not isinstance(extra.get("config"), dict):
        raise bad("extra.config", "is missing")
