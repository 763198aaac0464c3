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

The minibatches run in compiled chunks of about 50 ms (:mod:`minitrain._chunks`, same
results as the loop above, one step at a time, which runs when the optimizer needs the
gradient's values: clipping, ``maximize``). Ctrl-C (SIGINT) and SIGTERM are caught
between two chunks, never inside a step: the loop finishes the current chunk, saves a
checkpoint (when a path was given) and raises :class:`Interrupted`.
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
from minitrain._validation import check_choice, check_int, check_range

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
    loss = float(model._mean_loss(Z, Y))
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
    """Keras-like progress on stderr: a bar with steps/s and time left on a terminal
    (redrawn at most 10 times a second), one line per epoch, all within 80 columns."""

    def __init__(self, enabled, epochs, n_batches, first_epoch=0, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.epochs, self.n_batches = epochs, n_batches
        self.steps_left = (epochs - first_epoch) * n_batches
        self.started = time.perf_counter()
        self.steps_done = 0
        self.last = 0.0

    def batch(self, epoch, b, loss, steps=1):
        self.steps_done += steps
        if not self.tty:
            return
        now = time.perf_counter()
        if now - self.last < 0.1 and b < self.n_batches:
            return
        self.last = now
        rate = self.steps_done / max(now - self.started, 1e-9)
        left = max(self.steps_left - self.steps_done, 0) / rate
        width = 20
        done = int(width * b / self.n_batches)
        bar = "=" * done + ">" * (done < width) + "." * (width - done - 1)
        text = (f"{epoch + 1}/{self.epochs} [{bar[:width]}] loss {loss:.4f} "
                f"{rate:,.0f} steps/s ETA {_clock(left)}")
        self.stream.write("\r" + text[:79].ljust(79))
        self.stream.flush()

    def epoch_end(self, row, metric_name, train_metric=None):
        if not self.enabled:
            return
        short = {"accuracy": "acc", "r2": "r2"}.get(metric_name, metric_name)
        parts = [f"epoch {row['epoch']}/{self.epochs}", f"loss {row['train_loss']:.4g}"]
        if train_metric is not None:
            parts.append(f"{short} {train_metric:.3f}")
        if row["val_loss"] is not None:
            parts += [f"val_loss {row['val_loss']:.4g}", f"val_{short} {row['val_metric']:.3f}"]
        text = " ".join(parts)
        tail = f" lr {row['lr']:.2g} {row['seconds']:.1f}s"
        if len(text + tail) <= 79:             # within 80 columns, or lr and time go
            text += tail
        self.stream.write(("\r" if self.tty else "") + text[:79].ljust(79 if self.tty else 0)
                          + "\n")
        self.stream.flush()

    def note(self, text):
        if self.enabled:
            self.stream.write(("\r" if self.tty else "") + text + "\n")
            self.stream.flush()


def _clock(seconds):
    seconds = int(seconds + 0.5)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


class _StopRequest:
    """Turns SIGINT/SIGTERM into a flag checked between steps (main thread only).

    A second signal stops at once (KeyboardInterrupt), except while a checkpoint is
    being written (``saving``): that write finishes first, so the state on disk is the
    one the message names.
    """

    def __init__(self):
        self.signum = None
        self.saved = {}
        self.saving = False

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.saved[sig] = signal.signal(sig, self._handler)
        return self

    def _handler(self, signum, frame):
        if self.signum is not None and not self.saving:    # a second Ctrl-C: stop now
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
        extra=None, on_diverge="stop", log=None, start_epoch=0, start_step=None,
        between_steps=()):
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
    between_steps : sequence of callables
        Each is called without arguments between two chunks of minibatches (about
        every 50 ms; after every step on the Python loop), e.g. the thread check
        :meth:`minitrain.threads.Threads.check`. Keep them cheap.
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
        Receives one-line notices (rollbacks, early stopping); default: print to
        stderr when ``progress`` is on.
    start_epoch, start_step : int, default 0 and ``start_epoch * batches per epoch``
        Where a fresh run starts counting: epoch ``start_epoch`` shuffles with
        ``default_rng([seed, start_epoch])`` and the schedule is asked for
        ``lr(start_step)`` first. ``partial_fit``-style callers continue a model this
        way without a checkpoint; ``resume`` takes both from the checkpoint.

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
    trainer = Trainer(model, optimizer, train, val, epochs=epochs, batch_size=batch_size,
                      schedule=schedule, seed=seed, early_stopping=early_stopping,
                      checkpoint=checkpoint, callbacks=callbacks, progress=progress,
                      extra=extra, on_diverge=on_diverge, log=log,
                      start_epoch=start_epoch, start_step=start_step,
                      between_steps=between_steps)
    if resume is not None:
        trainer.restore(resume)
    return trainer.run()


class Trainer:
    """The loop of :func:`fit`, in the parts a reader follows: :meth:`run` (epochs and
    the divergence guard), :meth:`epoch` (the minibatches), :meth:`step` (one update),
    :meth:`end_epoch` (evaluation, history, plateau, early stopping, callbacks,
    checkpoint), :meth:`save` / :meth:`restore` (checkpoints)."""

    MAX_ROLLBACKS = 3
    #: run the minibatches in compiled chunks (:mod:`minitrain._chunks`) when the
    #: optimizer allows; False: one Python-level :meth:`step` per minibatch (same bits)
    compiled_loop = True

    def __init__(self, model, optimizer, train, val=None, *, epochs, batch_size=32,
                 schedule=None, seed=0, early_stopping=None, checkpoint=None, callbacks=(),
                 progress=True, extra=None, on_diverge="stop", log=None, start_epoch=0,
                 start_step=None, between_steps=()):
        self.epochs = check_int("epochs", epochs, 1, owner="fit")
        self.batch_size = check_int("batch_size", batch_size, 1, owner="fit")
        self.seed = check_int("seed", seed, 0, owner="fit")
        self.rollback = check_choice("on_diverge", on_diverge, ("stop", "rollback"),
                                     owner="fit") == "rollback"
        self.model, self.optimizer, self.schedule = model, optimizer, schedule
        self.early_stopping, self.checkpoint = early_stopping, checkpoint
        self.callbacks, self.extra = list(callbacks), extra
        self.between_steps = list(between_steps)
        self.X, self.Y = _as_arrays(model, train, "train")
        self.val = _as_arrays(model, val, "val")
        self.n = self.X.shape[0]
        self.n_batches = -(-self.n // self.batch_size)
        self.metric_name = "accuracy" if model.is_classifier else "r2"
        self.history = History(metric_name=self.metric_name)
        start_epoch = check_int("start_epoch", start_epoch, 0, owner="fit")
        start_step = (start_epoch * self.n_batches if start_step is None
                      else check_int("start_step", start_step, 0, owner="fit"))
        # where the run stands; saved in every checkpoint
        self.state = {"epoch": start_epoch, "batch": 0, "step": start_step,
                      "loss_sum": 0.0, "loss_count": 0, "lr_scale": 1.0, "rollbacks": 0}
        self.progress_enabled = progress
        if log is None:
            log = (lambda text: print(text, file=sys.stderr)) if progress else (lambda t: None)
        self.log = log
        self.request = None

    # ---- the loop ------------------------------------------------------------------
    def run(self):
        """Train up to ``epochs`` epochs; the History (all epochs, resumed ones too)."""
        st = self.state
        from minitrain._chunks import Chunks         # (compiles the step on a first run)
        self.chunks = Chunks.for_trainer(self) if self.compiled_loop else None
        if self.chunks is None:
            _warm_up(self.model, self.optimizer, self.X, self.Y)
        self.bar = _Progress(self.progress_enabled, self.epochs, self.n_batches, st["epoch"])
        self.base_lr = self.optimizer.lr / st["lr_scale"]   # no schedule: lr = base * scale
        good = self.snapshot() if self.rollback else None
        stop = False
        with _StopRequest() as self.request:
            while st["epoch"] < self.epochs and not stop:
                try:
                    stop = self.epoch()
                except TrainingDiverged as diverged:
                    if not self.rollback or st["rollbacks"] >= self.MAX_ROLLBACKS:
                        raise
                    self.roll_back(good, diverged)
                    continue
                if self.rollback:
                    good = self.snapshot()
        es = self.early_stopping
        if stop and es is not None and es.best_epoch is not None:
            self.bar.note(f"early stopping: no improvement for {es.wait} epochs; best epoch "
                          f"{es.best_epoch} (monitored loss {es.best:.4f})"
                          + (", its weights restored" if es.restore_best else ""))
        if es is not None and es.restore_best and es.best_params is not None:
            self.model.params[:] = es.best_params
        return self.history

    def epoch(self):
        """One epoch (or the rest of one after a resume); True when training should stop."""
        st = self.state
        perm = np.random.default_rng([self.seed, st["epoch"]]).permutation(self.n)
        started = time.perf_counter()
        lr = self.optimizer.lr
        while st["batch"] < self.n_batches:
            b = st["batch"]
            if self.chunks is not None and self.optimizer.plannable:   # compiled chunk
                lr = self.chunks.run(perm)
            else:
                lr = self.step(perm[b * self.batch_size:(b + 1) * self.batch_size])
                st["batch"] = b + 1
            if self.request.signum is not None:
                break
            for hook in self.between_steps:
                hook()
            self.bar.batch(st["epoch"], st["batch"], st["loss_sum"] / st["loss_count"],
                           steps=st["batch"] - b)
        if self.request.signum is not None and st["batch"] < self.n_batches:
            self.save()
            raise Interrupted(st["epoch"] + 1, st["step"], self.checkpoint)
        if not np.isfinite(self.model.params).all():
            raise TrainingDiverged(st["epoch"] + 1, st["step"], float("nan"), lr)
        return self.end_epoch(lr, time.perf_counter() - started)

    def scheduled_lr(self, step):
        """Set the optimizer's lr (and momentum, when the schedule cycles it) for step
        ``step`` from the schedule; return the lr."""
        opt, schedule = self.optimizer, self.schedule
        if schedule is None:
            return opt.lr
        lr = opt.lr = schedule.lr(step) * self.state["lr_scale"]
        m = schedule.momentum(step)
        if m is not None:
            opt.set_momentum(m)
        return lr

    def step(self, idx):
        """One update on the minibatch ``idx``: the schedule's lr and momentum, the loss
        and its gradient, the optimizer step. Returns the lr used."""
        st = self.state
        lr = self.scheduled_lr(st["step"])
        loss = self.model._loss_and_grad(self.X, self.Y, idx)
        if not math.isfinite(loss):
            raise TrainingDiverged(st["epoch"] + 1, st["step"] + 1, loss, lr)
        self.optimizer.step(self.model.params, self.model.grads)
        st["step"] += 1
        st["loss_sum"] += loss * idx.shape[0]
        st["loss_count"] += idx.shape[0]
        return lr

    def end_epoch(self, lr, seconds):
        """Evaluate, record the history row, let plateau/early stopping/callbacks see
        it, write the checkpoint. True when training should stop."""
        st = self.state
        train_loss = st["loss_sum"] / st["loss_count"]
        val_loss = val_metric = None
        if self.val is not None:
            val_loss, val_metric = evaluate(self.model, *self.val)
        monitored = val_loss if val_loss is not None else train_loss
        if self.schedule is not None and hasattr(self.schedule, "observe"):
            self.schedule.observe(monitored)
        row = {"epoch": st["epoch"] + 1, "step": st["step"], "lr": float(lr),
               "momentum": _momentum_of(self.optimizer), "train_loss": train_loss,
               "val_loss": val_loss, "val_metric": val_metric, "seconds": seconds}
        self.history.rows.append(row)
        st.update(epoch=st["epoch"] + 1, batch=0, loss_sum=0.0, loss_count=0)
        train_metric = (evaluate(self.model, self.X, self.Y)[1]
                        if self.bar.enabled else None)
        self.bar.epoch_end(row, self.metric_name, train_metric)
        es = self.early_stopping
        stop = es is not None and es.update(monitored, st["epoch"], self.model.params)
        for cb in self.callbacks:
            stop = bool(cb(row)) or stop
        self.save()
        if self.request.signum is not None:
            raise Interrupted(st["epoch"], st["step"], self.checkpoint)
        return stop

    # ---- the divergence guard ------------------------------------------------------
    def snapshot(self):
        """Everything a rollback restores: the state after the last completed epoch."""
        es, sched = self.early_stopping, self.schedule
        return {"params": self.model.params.copy(), "optimizer": self.optimizer.state_dict(),
                "schedule": sched.state_dict() if sched is not None else None,
                "early_stopping": dict(es.state_dict()) if es else None,
                "state": dict(self.state), "rows": len(self.history.rows)}

    def roll_back(self, good, diverged):
        """Back to ``good`` with the lr halved from then on."""
        st = self.state
        self.model.params[:] = good["params"]
        self.optimizer.load_state_dict(good["optimizer"])
        if self.schedule is not None:
            self.schedule.load_state_dict(good["schedule"])
        if self.early_stopping is not None:
            self.early_stopping.load_state_dict(good["early_stopping"])
        keep = {"lr_scale": st["lr_scale"] * 0.5, "rollbacks": st["rollbacks"] + 1}
        st.clear()
        st.update(good["state"], **keep)
        del self.history.rows[good["rows"]:]
        if self.schedule is None:
            self.optimizer.lr = self.base_lr * st["lr_scale"]
        self.log(f"{diverged}; rolled back to epoch {st['epoch']} with the lr halved "
                 f"(scale {st['lr_scale']:g}, rollback {st['rollbacks']} of "
                 f"{self.MAX_ROLLBACKS})")

    # ---- checkpoints ---------------------------------------------------------------
    def save(self):
        """Write the checkpoint (when a path was given); a second Ctrl-C waits for it."""
        if self.checkpoint is None:
            return
        es, sched, model = self.early_stopping, self.schedule, self.model
        state = {
            "model": {"config": model.config(), "params": model.params},
            "optimizer": {"class": type(self.optimizer).__name__,
                          "state": self.optimizer.state_dict()},
            "schedule": sched.state_dict() if sched is not None else None,
            "early_stopping": es.state_dict() if es else None,
            "trainer": {"run": self.state, "n_train": self.n, "batch_size": self.batch_size,
                        "seed": self.seed, "epochs": self.epochs},
            "history": self.history.rows,
            "extra": self.extra,
        }
        request = self.request
        if request is not None:
            request.saving = True
        try:
            ckpt.save(self.checkpoint, state)
        finally:
            if request is not None:
                request.saving = False

    def restore(self, path):
        """Continue from the checkpoint at ``path``, refusing one of another run."""
        state = ckpt.load(path)
        try:
            _restore(state, self, path)
        except (KeyError, TypeError, IndexError, AttributeError) as e:
            raise ckpt.CheckpointError(f"{path}: incomplete or malformed checkpoint "
                                       f"({type(e).__name__}: {e})") from None


def _warm_up(model, optimizer, X, Y):
    """Load the compiled kernels before the clock starts (grads are overwritten anyway)."""
    model._loss_and_grad(X, Y, np.zeros(1, dtype=np.int64))
    spare = type(optimizer)(**optimizer.hyperparameters())
    spare.step(np.zeros(1, model.dtype), np.zeros(1, model.dtype))


def _restore(state, trainer, path):
    """Load a checkpoint into the trainer's live objects, checking every field first."""
    model, optimizer, schedule = trainer.model, trainer.optimizer, trainer.schedule
    early_stopping = trainer.early_stopping
    config = state["model"]["config"]
    mine = model.config()
    for key in ("layer_sizes", "activation", "loss", "dtype"):
        if config.get(key) != mine[key]:
            raise ckpt.CheckpointError(f"{path}: model {key} differs: checkpoint has "
                                       f"{config.get(key)!r}, this run has {mine[key]!r}")
    saved = state["trainer"]
    for key, value in (("n_train", trainer.n), ("batch_size", trainer.batch_size),
                       ("seed", trainer.seed)):
        if saved[key] != value:
            raise ckpt.CheckpointError(f"{path}: {key} differs: checkpoint has "
                                       f"{saved[key]!r}, this run has {value!r}")
    saved_class = state["optimizer"]["class"]
    if saved_class != type(optimizer).__name__:
        raise ckpt.CheckpointError(f"{path}: optimizer differs: checkpoint has {saved_class}, "
                                   f"this run has {type(optimizer).__name__}")
    params = state["model"]["params"]
    if not isinstance(params, np.ndarray) or params.shape != model.params.shape \
            or params.dtype != model.params.dtype or not np.isfinite(params).all():
        raise ckpt.CheckpointError(f"{path}: field model.params must be "
                                   f"{model.params.size} finite {model.params.dtype} values")
    run = _checked_run(saved["run"], trainer, path)
    rows = state["history"]
    if not isinstance(rows, list) or len(rows) != run["epoch"] or not all(
            isinstance(r, dict) and set(HISTORY_COLUMNS) <= set(r) for r in rows):
        raise ckpt.CheckpointError(f"{path}: field history must hold one row per finished "
                                   f"epoch ({run['epoch']})")
    model.params[:] = params
    try:
        optimizer.load_state_dict(state["optimizer"]["state"])
        if schedule is not None and state["schedule"] is not None:
            schedule.load_state_dict(state["schedule"])
        if early_stopping is not None and state["early_stopping"] is not None:
            early_stopping.load_state_dict(state["early_stopping"])
    except (ValueError, TypeError, KeyError) as e:
        raise ckpt.CheckpointError(f"{path}: optimizer/schedule state invalid ({e})") from None
    trainer.state = {"lr_scale": 1.0, "rollbacks": 0, **run}
    trainer.history = History(rows, trainer.metric_name)


def _checked_run(run, trainer, path):
    """The trainer counters of a checkpoint, each checked (type, range)."""
    def bad(field, why):
        return ckpt.CheckpointError(f"{path}: field trainer.run.{field} {why}")
    if not isinstance(run, dict):
        raise bad("", "is missing")
    out = {}
    for key in ("epoch", "batch", "step", "loss_count", "rollbacks"):
        v = run.get(key, 0 if key == "rollbacks" else None)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise bad(key, f"must be an integer >= 0, got {v!r:.40}")
        out[key] = v
    for key in ("loss_sum", "lr_scale"):
        v = run.get(key, 1.0 if key == "lr_scale" else None)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise bad(key, f"must be a finite number, got {v!r:.40}")
        out[key] = float(v)
    if out["batch"] > trainer.n_batches:
        raise bad("batch", f"must be <= {trainer.n_batches}, got {out['batch']}")
    if out["lr_scale"] <= 0:
        raise bad("lr_scale", f"must be > 0, got {out['lr_scale']}")
    return out
