"""The compiled minibatch loop (minitrain/_chunks.py) is bit-identical to the Python loop.

Every test trains the same fresh setup twice, with ``Trainer.compiled_loop`` True (chunks
of steps in Numba) and False (one :meth:`Trainer.step` per minibatch, the reference: it
is itself checked against torch/Keras goldens elsewhere), and compares the parameters,
the optimizer's state (arrays, ``t``, scalars, hyperparameters set by schedules), the
trainer's counters and the history exactly, and the progress bar's step count.
"""
import os
import signal
from typing import NamedTuple

import numpy as np
import pytest
import scipy.sparse

import minitrain as mt
from minitrain._chunks import Chunks
from minitrain.train import Interrupted, Trainer, TrainingDiverged

from loop_hooks import before_steps, force_chunk, poison

N, BS, EPOCHS = 60, 8, 3          # 8 steps an epoch, the last one of 4 rows
STEPS = EPOCHS * -(-N // BS)


def blobs(n=N, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, size=(3, 4))
    y = rng.integers(0, 3, n)
    return centers[y] + rng.normal(size=(n, 4)), y


def classifier(dtype="float64", **kw):
    return mt.MLP([4, 8, 3], activation="tanh", dtype=dtype, seed=0, **kw)


# ---- one run, both loops, the comparison -------------------------------------------
class Outcome(NamedTuple):
    params: np.ndarray
    optimizer: dict               # state_dict()
    history: list                 # rows without "seconds"
    state: dict                   # the trainer's counters
    steps_done: int               # the progress bar's count
    error: tuple                  # (class, epoch, step, loss, lr) reprs, or None
    chunks: bool                  # the compiled chunks ran the minibatches


def train(compiled, model, opt, data, *, schedule=None, epochs=EPOCHS, batch_size=BS,
          resume=None, **kw):
    """Train with one loop; what the two loops must agree on."""
    trainer = Trainer(model, opt, data, epochs=epochs, batch_size=batch_size,
                      schedule=schedule, progress=False, **kw)
    trainer.compiled_loop = compiled
    if resume is not None:
        trainer.restore(resume)
    error = None
    try:
        trainer.run()
    except (TrainingDiverged, Interrupted) as e:
        error = (type(e).__name__, *(repr(getattr(e, k, None))
                                     for k in ("epoch", "step", "loss", "lr")))
    rows = [{k: v for k, v in row.items() if k != "seconds"} for row in trainer.history.rows]
    return Outcome(model.params.copy(), opt.state_dict(), rows, dict(trainer.state),
                   trainer.bar.steps_done, error, trainer.chunks is not None)


def assert_same(a, b):
    assert a.params.dtype == b.params.dtype
    np.testing.assert_array_equal(a.params, b.params)
    assert set(a.optimizer) == set(b.optimizer)
    for key, value in a.optimizer.items():
        if key == "state":
            assert set(value) == set(b.optimizer["state"])
            for name, array in value.items():
                other = b.optimizer["state"][name]
                assert array.dtype == other.dtype, name
                np.testing.assert_array_equal(array, other, err_msg=name)
        else:
            assert repr(value) == repr(b.optimizer[key]), key      # exact, NaN too
    assert a.history == b.history
    assert a.state == b.state
    assert a.error == b.error       # (steps_done: see assert_trained and the progress tests)


def run(compiled, setup, **kw):
    """Train ``setup()`` (a fresh model, optimizer, data and fit arguments)."""
    model, opt, data, fit_kw = setup()
    return train(compiled, model, opt, data, **fit_kw, **kw)


def both(setup, **kw):
    """Train ``setup`` on the compiled loop and on the Python loop; assert they agree;
    return the compiled loop's outcome."""
    compiled, python = run(True, setup, **kw), run(False, setup, **kw)
    assert compiled.chunks and not python.chunks             # the loops under test ran
    assert_same(compiled, python)
    return compiled


def assert_trained(out, steps=STEPS):
    assert out.error is None and out.state["step"] == steps == out.steps_done
    assert np.isfinite(out.params).all()
    losses = [row["train_loss"] for row in out.history]
    assert len(set(losses)) == len(losses)            # it moved every epoch


# ---- the setups ----------------------------------------------------------------------
OPTIMIZER_CONVENTIONS = [(name, c) for name in mt.optim.names()
                         for c in mt.optim.conventions(name)]


def schedule(kind, lr, momentum, total=STEPS):
    """A schedule of each kind: lr changing every step (and momentum cycling when the
    optimizer has one), by step ranges, per epoch (plateau)."""
    return {
        "none": lambda: None,
        "onecycle": lambda: mt.schedules.get("onecycle", max_lr=lr, total_steps=total,
                                             cycle_momentum=momentum),
        "cyclic": lambda: mt.schedules.get("cyclic", base_lr=lr / 10, max_lr=lr,
                                           step_size_up=5, cycle_momentum=momentum),
        "cosine_warmup": lambda: mt.schedules.get("cosine", lr=lr, total_steps=total,
                                                  warmup_steps=5, warmup_start=lr / 100),
        "step": lambda: mt.schedules.get("exponential", lr=lr, rate=0.5, steps=5,
                                         staircase=True),
        "plateau": lambda: mt.schedules.get("plateau", lr=lr, factor=0.5, patience=0,
                                            threshold=0.5),
    }[kind]()


SCHEDULES = ["none", "onecycle", "cyclic", "cosine_warmup", "step", "plateau"]


def optimizer_setup(name, convention="torch", dtype="float64", kind="none", data=None,
                    model=classifier, **hp):
    lr = mt.optim.default_lr(name)

    def setup():
        opt = mt.optim.get(name, convention=convention, lr=lr, **hp)
        sched = schedule(kind, lr, mt.optim.momentum_attr(name) is not None)
        return model(dtype), opt, data or blobs(), {"schedule": sched}
    return setup


# ---- every optimizer, convention, dtype and schedule ---------------------------------
@pytest.mark.parametrize("kind", SCHEDULES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, convention", OPTIMIZER_CONVENTIONS,
                         ids=[f"{n}@{c}" for n, c in OPTIMIZER_CONVENTIONS])
def test_every_optimizer_and_schedule(name, convention, dtype, kind):
    out = both(optimizer_setup(name, convention, dtype, kind))
    assert_trained(out)
    if kind != "none":
        assert len({row["lr"] for row in out.history}) > 1         # the lr did change


VARIANTS = [
    ("sgd", "torch", dict(weight_decay=0.01)),
    ("momentum", "torch", dict(dampening=0.3, weight_decay=0.01)),
    ("momentum", "keras", dict(weight_decay=0.01)),
    ("nesterov", "torch", dict(weight_decay=0.01)),
    ("adagrad", "torch", dict(lr_decay=0.01, weight_decay=0.01, initial_accumulator=0.1)),
    ("rmsprop", "torch", dict(momentum=0.5, centered=True, weight_decay=0.01)),
    ("rmsprop", "keras", dict(momentum=0.5, centered=True, weight_decay=0.01)),
    ("adam", "torch", dict(amsgrad=True, weight_decay=0.01)),
    ("adam", "torch", dict(decoupled_weight_decay=True, weight_decay=0.01)),
    ("adamw", "torch", dict(amsgrad=True)),
    ("adamax", "torch", dict(weight_decay=0.01)),
    ("nadam", "torch", dict(decoupled_weight_decay=True, weight_decay=0.01)),
    ("nadam", "keras", dict(weight_decay=0.01)),
    ("radam", "torch", dict(decoupled_weight_decay=True, weight_decay=0.01)),
    ("lion", "keras", dict(weight_decay=0.01)),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, convention, hp", VARIANTS,
                         ids=[f"{n}@{c}-{'-'.join(hp)}" for n, c, hp in VARIANTS])
def test_hyperparameter_variants(name, convention, hp, dtype):
    assert_trained(both(optimizer_setup(name, convention, dtype, "onecycle", **hp)))


# ---- chunks that end early: the kernel's arguments change -----------------------------
def count_replays(monkeypatch):
    calls = []
    replay = Chunks._replay

    def counted(self, saved, first, steps):
        calls.append((first, steps))
        return replay(self, saved, first, steps)

    monkeypatch.setattr(Chunks, "_replay", counted)
    return calls


def chunk_lengths(monkeypatch):
    lengths = []
    run_chunk = Chunks.run

    def measured(self, perm):
        start = self.trainer.state["step"]
        try:
            return run_chunk(self, perm)
        finally:
            lengths.append(self.trainer.state["step"] - start)

    monkeypatch.setattr(Chunks, "run", measured)
    return lengths


@pytest.mark.parametrize("name, kind", [
    ("momentum", "onecycle"),           # torch's buffer starts as g: flag off after step 1
    ("momentum", "none"),
    ("sgd", "cyclic"),                  # plain SGD given momentum by the schedule
    ("nesterov", "onecycle"),
    ("radam", "none"),                  # `rectified` turns on after a few steps
    ("radam", "onecycle"),
])
def test_a_chunk_ends_where_the_kernel_arguments_change(name, kind, monkeypatch):
    force_chunk(monkeypatch, 1000)      # else one chunk per epoch
    replays = count_replays(monkeypatch)
    out = both(optimizer_setup(name, "torch", "float64", kind))
    assert_trained(out)
    assert replays and all(steps >= 1 for _, steps in replays)
    assert replays[0][0] == 0           # in the first chunk


class MomentumFromStep3:
    """A schedule (any object with lr(step) and momentum(step) will do): SGD without
    momentum for 3 steps, then with momentum 0.9 -- its buffer appears mid-chunk."""

    def lr(self, step):
        return 0.05

    def momentum(self, step):
        return 0.0 if step < 3 else 0.9


@pytest.mark.parametrize("convention", ["torch", "keras"])
def test_momentum_switched_on_mid_chunk(convention, monkeypatch):
    force_chunk(monkeypatch, 1000)
    replays = count_replays(monkeypatch)

    def setup():
        opt = mt.optim.get("sgd", convention=convention, lr=0.05)
        return classifier(), opt, blobs(), {"schedule": MomentumFromStep3()}
    out = both(setup)
    assert_trained(out)
    assert replays[0] == (0, 3) and "buf" in out.optimizer["state"]
    assert out.optimizer["hyperparameters"]["momentum"] == 0.9


# ---- minibatch shapes, chunk lengths, inputs, losses ----------------------------------
@pytest.mark.parametrize("batch_size", [1, 7, 8, 60, 100])   # last partial, = n, > n
@pytest.mark.parametrize("chunk", [1, 3, 1000])
def test_batch_sizes_and_chunk_lengths(batch_size, chunk, monkeypatch):
    force_chunk(monkeypatch, chunk)
    lengths = chunk_lengths(monkeypatch)
    out = both(optimizer_setup("adam", kind="onecycle"), batch_size=batch_size)
    n_batches = -(-N // batch_size)
    assert_trained(out, EPOCHS * n_batches)
    assert sum(lengths) == EPOCHS * n_batches
    assert max(lengths) == min(chunk, n_batches)          # chunks never cross an epoch


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["momentum", "adam"])
def test_sparse_input(name, dtype):
    X, y = blobs()
    X[np.abs(X) < 1.5] = 0                                # about a third zeros
    sparse = scipy.sparse.csr_matrix(X)
    assert 0 < sparse.nnz < X.size
    out = both(optimizer_setup(name, "torch", dtype, "onecycle", data=(sparse, y)))
    assert_trained(out)


def regressor(dtype):
    return mt.MLP([4, 8, 2], activation="tanh", loss="mse", dtype=dtype, seed=0)


def binary(dtype):
    return mt.MLP([4, 8, 1], activation="relu", loss="binary_crossentropy", dtype=dtype,
                  seed=0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_regression_and_binary_losses(dtype):
    X, y = blobs()
    targets = np.stack([X[:, 0] - X[:, 1], X[:, 2] * 0.5], axis=1)
    assert_trained(both(optimizer_setup("adam", "torch", dtype, "cosine_warmup",
                                        data=(X, targets), model=regressor)))
    assert_trained(both(optimizer_setup("rmsprop", "keras", dtype, "onecycle",
                                        data=(X, (y == 1).astype(int)), model=binary)))


# ---- optimizers the chunks cannot plan ------------------------------------------------
@pytest.mark.parametrize("hp", [dict(clipnorm=1.0), dict(clipvalue=0.1),
                                dict(global_clipnorm=1.0), dict(maximize=True)],
                         ids=lambda hp: next(iter(hp)))
def test_an_optimizer_that_needs_the_gradient_takes_the_python_loop(hp):
    def setup():
        return classifier(), mt.optim.get("adam", lr=1e-3, **hp), blobs(), {}
    assert not setup()[1].plannable
    out = run(True, setup, epochs=2)                   # asks for the compiled loop
    assert not out.chunks and out.error is None and out.steps_done == 2 * 8
    assert_same(out, run(False, setup, epochs=2))
    losses = [row["train_loss"] for row in out.history]
    assert (losses[1] > losses[0]) == hp.get("maximize", False)


def test_a_weight_decay_mask_takes_the_python_loop():
    def setup():
        model = classifier()
        opt = mt.optim.get("adamw", lr=1e-2)
        opt.exclude_from_weight_decay(model.bias_mask)
        return model, opt, blobs(), {}
    out = run(True, setup)
    assert not out.chunks
    assert_same(out, run(False, setup))
    assert_trained(out)


# ---- divergence, rollback ----------------------------------------------------------------
def rows_of_step(step, epoch=0, batch_size=BS, seed=0):
    """The training rows of step ``step`` (0-based, within epoch ``epoch``)."""
    perm = np.random.default_rng([seed, epoch]).permutation(N)
    return perm[step * batch_size:(step + 1) * batch_size]


@pytest.mark.parametrize("chunk", [1, 3, None])
@pytest.mark.parametrize("name", ["momentum", "adam", "radam"])
def test_divergence_inside_a_chunk(name, chunk, monkeypatch):
    if chunk is not None:
        force_chunk(monkeypatch, chunk)
    poison(monkeypatch, 1, rows_of_step(4, epoch=1))      # step 5 of epoch 2: step 13
    out = both(optimizer_setup(name, "torch", "float64", "onecycle"))
    assert out.error[:3] == ("TrainingDiverged", "2", "13")
    assert out.error[3] == "nan"
    sched = schedule("onecycle", mt.optim.default_lr(name), True)
    assert out.error[4] == repr(sched.lr(12))             # the lr of the step that diverged
    assert out.optimizer["t"] == 12 == out.state["step"] and out.state["batch"] == 4
    assert len(out.history) == 1
    assert np.isfinite(out.params).all()


def test_divergence_at_the_first_step_of_a_chunk(monkeypatch):
    force_chunk(monkeypatch, 4)                              # chunks 8-12, 12-16
    poison(monkeypatch, 1, rows_of_step(4, epoch=1))         # step 13: a chunk's first
    out = both(optimizer_setup("adam", kind="cyclic"))
    assert out.error[:3] == ("TrainingDiverged", "2", "13") and out.optimizer["t"] == 12


@pytest.mark.parametrize("chunk", [3, None])
def test_rollback_gives_the_same_history(chunk, monkeypatch):
    if chunk is not None:
        force_chunk(monkeypatch, chunk)
    poison(monkeypatch, 1, rows_of_step(2, epoch=1))
    notes = []
    out = both(optimizer_setup("momentum", kind="onecycle"), on_diverge="rollback",
               log=notes.append)
    assert out.error is None and out.state["step"] == STEPS and np.isfinite(out.params).all()
    assert len(out.history) == EPOCHS and out.history[1]["lr"] != out.history[0]["lr"]
    assert out.state["rollbacks"] == 1 and out.state["lr_scale"] == 0.5
    assert len(notes) == 2 and notes[0] == notes[1]          # one per loop, the same
    assert "epoch 2, step 11 (loss=nan); rolled back to epoch 1" in notes[0]


# ---- chunk length and the progress bar ---------------------------------------------------
@pytest.mark.parametrize("seconds, max_steps, after_first", [(0.0, 4096, 1), (1e9, 10, 10)])
def test_the_chunk_length_adapts_to_the_measured_step_time(seconds, max_steps, after_first,
                                                          monkeypatch):
    monkeypatch.setattr(Chunks, "SECONDS", seconds)
    monkeypatch.setattr(Chunks, "MAX_STEPS", max_steps)
    lengths = chunk_lengths(monkeypatch)
    assert_trained(both(optimizer_setup("adam", kind="onecycle"), epochs=1, batch_size=1), N)
    assert lengths[0] == 8                              # the first chunk: 8 steps
    assert set(lengths[1:-1]) == {after_first}          # then SECONDS' worth, <= MAX_STEPS
    assert sum(lengths) == N


def test_the_first_chunk_is_at_most_max_steps(monkeypatch):
    """``losses`` holds MAX_STEPS values: a longer chunk would write past its end (the
    compiled loop does not check bounds)."""
    monkeypatch.setattr(Chunks, "MAX_STEPS", 5)
    model, opt, data, _ = optimizer_setup("adam")()
    chunks = Chunks(Trainer(model, opt, data, epochs=1, progress=False))
    assert chunks.losses.shape == (5,)
    assert chunks.size <= Chunks.MAX_STEPS


@pytest.mark.parametrize("chunk", [2, None])      # NaN mid-chunk: 10-12, 8-16
def test_progress_counts_the_steps_of_a_chunk_that_diverged(chunk, monkeypatch):
    """The bar counts every step run (its rate and time left come from that count),
    also the finite steps of a chunk that then diverged, as the Python loop does."""
    if chunk is not None:
        force_chunk(monkeypatch, chunk)
    poison(monkeypatch, 1, rows_of_step(3, epoch=1))   # NaN at step 12; steps 8-10 redone
    setup = optimizer_setup("adam", kind="onecycle")
    compiled = run(True, setup, on_diverge="rollback", log=lambda text: None)
    python = run(False, setup, on_diverge="rollback", log=lambda text: None)
    assert_same(compiled, python)
    assert python.steps_done == STEPS + 3 and compiled.state["rollbacks"] == 1
    assert compiled.steps_done == python.steps_done


# ---- Ctrl-C mid-epoch, resume ----------------------------------------------------------
def interrupt_at(monkeypatch, step):
    """SIGINT once, before the first chunk (or step) starting at ``step`` or later."""
    sent = []

    def hook(trainer):
        if not sent and trainer.state["step"] >= step:
            sent.append(trainer.state["step"])
            os.kill(os.getpid(), signal.SIGINT)

    before_steps(monkeypatch, hook)
    return sent


@pytest.mark.parametrize("resume_compiled", [True, False], ids=["compiled", "python"])
@pytest.mark.parametrize("chunk, stops_at", [(2, 12), (3, 14)])
def test_resume_after_an_interrupt_on_the_compiled_loop(chunk, stops_at, resume_compiled,
                                                        monkeypatch, tmp_path):
    setup = optimizer_setup("nadam", "keras", "float32", "onecycle")
    reference = run(False, setup)
    path = tmp_path / "ck.npz"
    with monkeypatch.context() as patch:
        force_chunk(patch, chunk)           # epoch 2: chunks 8-10, 10-12 or 8-11, 11-14
        sent = interrupt_at(patch, 10)
        first = run(True, setup, checkpoint=path)
    assert first.chunks and sent
    assert first.error == ("Interrupted", "2", str(stops_at), "None", "None")
    assert first.state["step"] == stops_at
    assert first.state["batch"] == stops_at - 8                       # mid epoch 2
    resumed = run(resume_compiled, setup, resume=path)
    assert resumed.chunks == resume_compiled
    assert resumed.steps_done == STEPS - stops_at
    assert_same(resumed._replace(steps_done=STEPS), reference)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_csr_with_int64_indices_trains_like_int32(dtype):
    """scipy makes int64 index arrays for large matrices (or when given them); the
    compiled step takes int32, so check_X converts (a copy: the caller's matrix stays)."""
    import scipy.sparse as sp
    rng = np.random.default_rng(0)
    X, y = rng.random((60, 5)), rng.integers(0, 3, 60)
    wide = sp.csr_matrix(X)
    wide.indices, wide.indptr = wide.indices.astype(np.int64), wide.indptr.astype(np.int64)
    runs = []
    for data in (sp.csr_matrix(X), wide):
        model = mt.MLP([5, 4, 3], dtype=dtype)
        mt.fit(model, mt.optim.get("adam"), (data, y), epochs=2, batch_size=7, progress=False)
        runs.append(model.params)
    np.testing.assert_array_equal(runs[0], runs[1])
    assert wide.indices.dtype == np.int64


def test_a_schedule_that_raises_mid_chunk_stops_where_the_python_loop_stops():
    """Planning runs ahead of training: when it fails at a step, the steps planned
    before it run and then the error propagates -- the Python loop's state exactly."""
    class Broken:
        def lr(self, step):
            if step == 5:
                raise RuntimeError("schedule broke")
            return 0.01

        def momentum(self, step):
            return None
    rng = np.random.default_rng(0)
    X, y = rng.random((80, 4)), rng.integers(0, 3, 80)
    results = []
    for compiled in (True, False):
        Trainer.compiled_loop = compiled
        try:
            model, opt = mt.MLP([4, 6, 3], dtype="float64"), mt.optim.get("nadam")
            with pytest.raises(RuntimeError, match="schedule broke"):
                mt.fit(model, opt, (X, y), epochs=1, batch_size=8, schedule=Broken(),
                       progress=False)
            results.append((opt.t, opt.mu_product, model.params.copy()))
        finally:
            Trainer.compiled_loop = True
    assert results[0][:2] == results[1][:2] and results[0][0] == 5     # 5 steps ran
    np.testing.assert_array_equal(results[0][2], results[1][2])


def test_an_optimizer_made_unplannable_mid_run_goes_on_in_the_python_loop():
    """A callback may switch clipping on between epochs; the trainer then steps in
    Python (the same results as a run that stepped in Python throughout)."""
    rng = np.random.default_rng(0)
    X, y = rng.random((80, 4)), rng.integers(0, 3, 80)

    def clip_after_first_epoch(opt):
        def callback(row):
            if row["epoch"] == 1:
                opt.clipnorm = 0.5
        return callback
    results = []
    for compiled in (True, False):
        Trainer.compiled_loop = compiled
        try:
            model, opt = mt.MLP([4, 6, 3], dtype="float64"), mt.optim.get("adam")
            mt.fit(model, opt, (X, y), epochs=3, batch_size=8, progress=False,
                   callbacks=[clip_after_first_epoch(opt)])
            results.append(model.params.copy())
        finally:
            Trainer.compiled_loop = True
    np.testing.assert_array_equal(results[0], results[1])
