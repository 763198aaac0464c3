"""The training loop: minibatches, schedules, metrics, early stopping, checkpoints.

One epoch, in order::

    perm = permutation of the training rows, from default_rng([seed, epoch])
    for each minibatch idx in perm (the last one may be smaller):
        optimizer.lr = schedule.lr(step)          # and momentum, when it cycles it
        loss = model.loss_and_grad(X[idx], y[idx])   # fills model.grads
        optimizer.step(model.params, model.grads)
        step += 1
    evaluate train/validation loss and metric; schedule.observe(val loss) for plateau
    early stopping; checkpoint

The shuffling of epoch ``e`` depends only on ``(seed, e)``, so a run resumed from
a checkpoint -- even one saved in the middle of an epoch -- sees exactly the
minibatches the uninterrupted run would have seen, and ends bit-identical.

Ctrl-C (SIGINT) and SIGTERM are caught between two steps, never inside one: the
loop finishes the current step, saves a checkpoint (when a path was given) and
raises :class:`Interrupted`.
"""
from __future__ import annotations

import hashlib
import math
import signal
import sys
import threading
import time

import numpy as np

from minitrain import checkpoint as ckpt
from minitrain._validation import check_choice, check_int, check_number, check_range

HISTORY_COLUMNS = ("epoch", "step", "lr", "momentum", "train_loss", "val_loss",
                   "val_metric", "seconds")


class TrainingDiverged(ValueError, RuntimeError):
    """The loss or the parameters became NaN or infinite.

    A ``ValueError`` (as scikit-learn raises on divergence) and, for code written
    against minitrain 0.1, still a ``RuntimeError``.
    """

    def __init__(self, epoch, step, loss, lr):
        self.epoch, self.step, self.loss, self.lr = epoch, step, loss, lr
        super().__init__(f"training diverged at epoch {epoch}, step {step} (loss={loss})")


class Interrupted(Exception):
    """Training was stopped by SIGINT/SIGTERM; ``checkpoint`` is where the state is."""

    def __init__(self, epoch, step, checkpoint):
        self.epoch, self.step, self.checkpoint = epoch, step, checkpoint
        where = f"; state saved to {checkpoint}" if checkpoint else ""
        super().__init__(f"interrupted at epoch {epoch}, step {step}{where}")


class History:
    """One row per epoch: epoch, step, lr, momentum, train_loss, val_loss, val_metric, seconds.

    ``history["val_loss"]`` gives a column as a list; ``history.rows`` the dicts.
    ``metric_name`` is "accuracy" for classification and "r2" for regression.
    """

    def __init__(self, rows=(), metric_name="accuracy"):
        self.rows = [dict(r) for r in rows]
        self.metric_name = metric_name

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, key):
        if isinstance(key, str):
            return [row[key] for row in self.rows]
        return self.rows[key]

    def __repr__(self):
        last = self.rows[-1] if self.rows else {}
        return f"History({len(self)} epochs, last={last})"

    def to_csv(self, path):
        """Write the rows as CSV (``val_metric`` keeps its column name)."""
        from minitrain.files import write_csv
        write_csv(path, HISTORY_COLUMNS, self.rows)


class EarlyStopping:
    """Stop when the monitored loss has not improved by ``min_delta`` for ``patience`` epochs.

    The validation loss is monitored (the training loss when there is no
    validation set). An epoch improves when ``loss < best - min_delta``. After
    ``patience`` epochs in a row without improvement training stops, and with
    ``restore_best=True`` the parameters of the best epoch are put back.
    """

    def __init__(self, patience=10, min_delta=0.0, restore_best=True):
        self.patience = check_int("patience", patience, 1, owner="EarlyStopping")
        self.min_delta = check_range("min_delta", min_delta, 0.0, owner="EarlyStopping")
        self.restore_best = bool(restore_best)
        self.best = math.inf
        self.best_epoch = None
        self.wait = 0
        self.best_params = None

    def __repr__(self):
        return (f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, "
                f"restore_best={self.restore_best})")

    def update(self, loss, epoch, params):
        """Record one epoch's monitored loss; return True when training should stop."""
        if loss < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = loss, epoch, 0
            if self.restore_best:
                self.best_params = params.copy()
            return False
        self.wait += 1
        return self.wait >= self.patience

    def state_dict(self):
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "best_params": self.best_params}

    def load_state_dict(self, state):
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        self.best_params = state["best_params"]


def params_sha256(params):
    """SHA-256 of the parameter bytes: a fingerprint to compare runs exactly."""
    return hashlib.sha256(np.ascontiguousarray(params).tobytes()).hexdigest()


def evaluate(model, X, Y):
    """Mean loss and metric (accuracy or R^2) of ``model`` on checked arrays X, Y."""
    Z = model._forward(X)
    D = np.empty_like(Z)
    from minitrain.nn import _loss
    loss = float(_loss(model._loss_code, Z, Y, D))
    if model.loss == "softmax_crossentropy":
        metric = float(np.mean(Z.argmax(axis=1) == Y[:, 0]))
    elif model.loss == "binary_crossentropy":
        metric = float(np.mean((Z[:, 0] > 0) == (Y[:, 0] > 0.5)))
    else:
        resid = ((Y.astype(np.float64) - Z) ** 2).sum()
        total = ((Y.astype(np.float64) - Y.mean(axis=0)) ** 2).sum()
        metric = float(1.0 - resid / total) if total > 0 else float("nan")
    return loss, metric


def _as_arrays(model, data, name):
    if data is None:
        return None
    if hasattr(data, "X") and hasattr(data, "y"):
        X, y = data.X, data.y
    else:
        try:
            X, y = data
        except (TypeError, ValueError):
            raise TypeError(f"fit: {name} must be an (X, y) pair or a Dataset, "
                            f"got {type(data).__name__}") from None
    X = model.check_X(X, name=f"{name} X")
    return X, model.check_y(y, X.shape[0])


class _Progress:
    """A one-line progress bar on a terminal; one line per epoch otherwise."""

    def __init__(self, enabled, epochs, n_batches, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.epochs, self.n_batches = epochs, n_batches
        self.last = 0.0

    def batch(self, epoch, b, loss, lr):
        if not self.tty:
            return
        now = time.perf_counter()
        if now - self.last < 0.1 and b < self.n_batches:
            return
        self.last = now
        width = 24
        done = int(width * b / self.n_batches)
        bar = "#" * done + "." * (width - done)
        self.stream.write(f"\repoch {epoch + 1}/{self.epochs} [{bar}] {b}/{self.n_batches} "
                          f"loss {loss:.4f} lr {lr:.3g}  ")
        self.stream.flush()

    def epoch_end(self, row, metric_name):
        if not self.enabled:
            return
        text = (f"epoch {row['epoch']}/{self.epochs}  step {row['step']}  "
                f"train_loss {row['train_loss']:.4f}")
        if row["val_loss"] is not None:
            text += f"  val_loss {row['val_loss']:.4f}  val_{metric_name} {row['val_metric']:.4f}"
        text += f"  lr {row['lr']:.3g}  {row['seconds']:.2f}s"
        self.stream.write(("\r" if self.tty else "") + text + (" " * 8 if self.tty else "") + "\n")
        self.stream.flush()


class _StopRequest:
    """Turns SIGINT/SIGTERM into a flag checked between steps (main thread only)."""

    def __init__(self):
        self.signum = None
        self.saved = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.saved[sig] = signal.signal(sig, self._handler)
        return self

    def _handler(self, signum, frame):
        if self.signum is not None:           # a second Ctrl-C: stop right now
            raise KeyboardInterrupt
        self.signum = signum

    def __exit__(self, *exc):
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)
        return False


def _momentum_of(optimizer):
    attr = getattr(optimizer, "momentum_attr", None)
    value = getattr(optimizer, attr, None) if attr else None
    return None if value is None else float(value)


def fit(model, optimizer, train, val=None, *, epochs, batch_size=32, schedule=None, seed=0,
        early_stopping=None, checkpoint=None, resume=None, callbacks=(), progress=True,
        extra=None, on_diverge="stop", log=None):
    """Train ``model`` with ``optimizer`` for ``epochs`` epochs (in total, when resuming).

    Parameters
    ----------
    model : MLP
    optimizer : minitrain.optim.Optimizer
    train, val : (X, y) pair or Dataset
        ``val`` is optional; without it plateau and early stopping watch the
        training loss.
    epochs : int
        Total number of epochs, counting those done before a resume.
    batch_size : int, default=32
        The last minibatch of an epoch holds the remainder.
    schedule : schedule object, optional
        Sets ``optimizer.lr = schedule.lr(step)`` before every step and, when
        ``schedule.momentum(step)`` is a number, ``optimizer.set_momentum(...)``.
        A schedule with ``observe`` (plateau) sees the monitored loss once per epoch.
    seed : int, default=0
        Epoch ``e`` shuffles with ``np.random.default_rng([seed, e])``.
    early_stopping : EarlyStopping, optional
    checkpoint : path, optional
        Saved atomically after every epoch and when interrupted.
    resume : path, optional
        A checkpoint of this run to continue from (exactly where it stopped).
    callbacks : sequence of callables
        Each is called as ``cb(row)`` with the epoch's history row; returning
        True stops training.
    progress : bool, default=True
        Progress bar on a terminal, one line per epoch otherwise (stderr).
    extra : dict, optional
        JSON-able (or array) data stored in every checkpoint (e.g. the scaler).
    on_diverge : {"stop", "rollback"}, default="stop"
        "stop" raises :class:`TrainingDiverged`. "rollback" restores the state of the
        last completed epoch (parameters, optimizer, schedule, counters), halves the
        learning rate from then on (the history's lr column shows it) and carries on;
        after 3 rollbacks the next divergence raises.
    log : callable, optional
        Receives one-line notices (rollbacks); default: print to stderr when
        ``progress`` is on.

    Returns
    -------
    History

    Raises
    ------
    TrainingDiverged
        When a minibatch loss is NaN or infinite (parameters are left as they
        were after the last finite step; the last checkpoint is not touched).
    Interrupted
        On SIGINT/SIGTERM, after saving the checkpoint.
    """
    epochs = check_int("epochs", epochs, 1, owner="fit")
    check_choice("on_diverge", on_diverge, ("stop", "rollback"), owner="fit")
    if log is None:
        log = (lambda text: print(text, file=sys.stderr)) if progress else (lambda text: None)
    batch_size = check_int("batch_size", batch_size, 1, owner="fit")
    seed = check_int("seed", seed, 0, owner="fit")
    X, Y = _as_arrays(model, train, "train")
    val = _as_arrays(model, val, "val")
    n = X.shape[0]
    n_batches = -(-n // batch_size)
    metric_name = "accuracy" if model.is_classifier else "r2"
    history = History(metric_name=metric_name)
    run = {"epoch": 0, "batch": 0, "step": 0, "loss_sum": 0.0, "loss_count": 0,
           "lr_scale": 1.0, "rollbacks": 0}
    if resume is not None:
        state = ckpt.load(resume)
        _restore(state, model, optimizer, schedule, early_stopping, n, batch_size, seed, resume)
        run = {"lr_scale": 1.0, "rollbacks": 0, **state["trainer"]["run"]}
        history = History(state["history"], metric_name)

    def save(path):
        ckpt.save(path, {
            "model": {"config": model.config(), "params": model.params},
            "optimizer": {"class": type(optimizer).__name__, "state": optimizer.state_dict()},
            "schedule": schedule.state_dict() if schedule is not None else None,
            "early_stopping": early_stopping.state_dict() if early_stopping else None,
            "trainer": {"run": run, "n_train": n, "batch_size": batch_size, "seed": seed,
                        "epochs": epochs},
            "history": history.rows,
            "extra": extra,
        })

    _warm_up(model, optimizer, X, Y)
    bar = _Progress(progress, epochs, n_batches)
    params, grads = model.params, model.grads

    def _epoch():
        """One epoch (or the rest of one); returns True when training should stop."""
        epoch = run["epoch"]
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        started = time.perf_counter()
        lr = optimizer.lr
        for b in range(run["batch"], n_batches):
            step = run["step"]
            if schedule is not None:
                lr = optimizer.lr = schedule.lr(step) * run["lr_scale"]
                m = schedule.momentum(step)
                if m is not None:
                    optimizer.set_momentum(m)
            idx = perm[b * batch_size:(b + 1) * batch_size]
            loss = model._loss_and_grad(X, Y, idx)
            if not math.isfinite(loss):
                raise TrainingDiverged(epoch + 1, step + 1, loss, lr)
            optimizer.step(params, grads)
            run["step"] = step + 1
            run["batch"] = b + 1
            run["loss_sum"] += loss * idx.shape[0]
            run["loss_count"] += idx.shape[0]
            if request.signum is not None:
                break
            if bar.tty:
                bar.batch(epoch, b + 1, run["loss_sum"] / run["loss_count"], lr)
        if request.signum is not None and run["batch"] < n_batches:
            if checkpoint is not None:
                save(checkpoint)
            raise Interrupted(epoch + 1, run["step"], checkpoint)
        if not np.isfinite(params).all():
            raise TrainingDiverged(epoch + 1, run["step"], float("nan"), lr)
        train_loss = run["loss_sum"] / run["loss_count"]
        val_loss = val_metric = None
        if val is not None:
            val_loss, val_metric = evaluate(model, *val)
        monitored = val_loss if val_loss is not None else train_loss
        if schedule is not None and hasattr(schedule, "observe"):
            schedule.observe(monitored)
        row = {"epoch": epoch + 1, "step": run["step"], "lr": float(lr),
               "momentum": _momentum_of(optimizer), "train_loss": train_loss,
               "val_loss": val_loss, "val_metric": val_metric,
               "seconds": time.perf_counter() - started}
        history.rows.append(row)
        run.update(epoch=epoch + 1, batch=0, loss_sum=0.0, loss_count=0)
        bar.epoch_end(row, metric_name)
        stop = False
        if early_stopping is not None and early_stopping.update(monitored, epoch + 1, params):
            stop = True
        for cb in callbacks:
            stop = bool(cb(row)) or stop
        if checkpoint is not None:
            save(checkpoint)
        if request.signum is not None:
            raise Interrupted(epoch + 1, run["step"], checkpoint)
        return stop

    request = _StopRequest()
    base_lr = optimizer.lr / run["lr_scale"]      # without a schedule, lr = base_lr * scale
    stop = False
    rollback = on_diverge == "rollback"
    good = _snapshot(model, optimizer, schedule, early_stopping, run, history) if rollback \
        else None
    with request:
        while run["epoch"] < epochs and not stop:
            try:
                stop = _epoch()
            except TrainingDiverged as diverged:
                if not rollback or run["rollbacks"] >= 3:
                    raise
                _rollback(good, model, optimizer, schedule, early_stopping, run, history)
                run["rollbacks"] += 1
                run["lr_scale"] *= 0.5
                if schedule is None:
                    optimizer.lr = base_lr * run["lr_scale"]
                log(f"{diverged}; rolled back to epoch {run['epoch']} with the lr halved "
                    f"(scale {run['lr_scale']:g}, rollback {run['rollbacks']} of 3)")
                continue
            if rollback:
                good = _snapshot(model, optimizer, schedule, early_stopping, run, history)
    if early_stopping is not None and early_stopping.restore_best \
            and early_stopping.best_params is not None:
        params[:] = early_stopping.best_params
    return history


def _snapshot(model, optimizer, schedule, early_stopping, run, history):
    """Everything a rollback restores: the state after the last completed epoch."""
    return {"params": model.params.copy(), "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict() if schedule is not None else None,
            "early_stopping": dict(early_stopping.state_dict()) if early_stopping else None,
            "run": dict(run), "rows": len(history.rows)}


def _rollback(good, model, optimizer, schedule, early_stopping, run, history):
    model.params[:] = good["params"]
    optimizer.load_state_dict(good["optimizer"])
    if schedule is not None:
        schedule.load_state_dict(good["schedule"])
    if early_stopping is not None:
        early_stopping.load_state_dict(good["early_stopping"])
    keep = {k: run[k] for k in ("lr_scale", "rollbacks")}
    run.clear()
    run.update(good["run"], **keep)
    del history.rows[good["rows"]:]


def _warm_up(model, optimizer, X, Y):
    """Load the compiled kernels before the clock starts (grads are overwritten anyway)."""
    model._loss_and_grad(X, Y, np.zeros(1, dtype=np.int64))
    spare = type(optimizer)(**optimizer.hyperparameters())
    spare.step(np.zeros(1, model.dtype), np.zeros(1, model.dtype))


def _restore(state, model, optimizer, schedule, early_stopping, n, batch_size, seed, path):
    """Load a checkpoint into the live objects, refusing anything that differs."""
    config = state["model"]["config"]
    mine = model.config()
    for key in ("layer_sizes", "activation", "loss", "dtype"):
        if config.get(key) != mine[key]:
            raise ckpt.CheckpointError(f"{path}: model {key} differs: checkpoint has "
                                       f"{config.get(key)!r}, this run has {mine[key]!r}")
    trainer = state["trainer"]
    for key, value in (("n_train", n), ("batch_size", batch_size), ("seed", seed)):
        if trainer[key] != value:
            raise ckpt.CheckpointError(f"{path}: {key} differs: checkpoint has "
                                       f"{trainer[key]!r}, this run has {value!r}")
    saved_class = state["optimizer"]["class"]
    if saved_class != type(optimizer).__name__:
        raise ckpt.CheckpointError(f"{path}: optimizer differs: checkpoint has {saved_class}, "
                                   f"this run has {type(optimizer).__name__}")
    model.params[:] = state["model"]["params"]
    optimizer.load_state_dict(state["optimizer"]["state"])
    if schedule is not None and state["schedule"] is not None:
        schedule.load_state_dict(state["schedule"])
    if early_stopping is not None and state["early_stopping"] is not None:
        early_stopping.load_state_dict(state["early_stopping"])
    check_number("epoch", trainer["run"]["epoch"])
