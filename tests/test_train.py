"""The training loop: determinism, exact resume, schedules, early stopping, divergence."""
import os
import signal

import numpy as np
import pytest

import minitrain as mt
from minitrain import checkpoint as ckpt
from minitrain.train import EarlyStopping, Interrupted, TrainingDiverged

from loop_hooks import LOOPS, before_steps, poison, use_loop

OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamax", "nadam",
              "adamw"]


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 3, size=(3, 4))
    y = rng.integers(0, 3, 150)
    X = centers[y] + rng.normal(size=(150, 4))
    return (X[:100], y[:100]), (X[100:], y[100:])


def new(name, dtype="float64", seed=0, **hp):
    return mt.MLP([4, 8, 3], activation="tanh", dtype=dtype, seed=seed), mt.optim.get(name, **hp)


def test_same_seed_same_result_and_loss_decreases(blobs):
    train, val = blobs
    runs = []
    for _ in range(2):
        model, opt = new("adam", lr=0.01)
        history = mt.fit(model, opt, train, val, epochs=5, batch_size=16, progress=False)
        runs.append((model.params.copy(), history["train_loss"]))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]
    assert runs[0][1][-1] < runs[0][1][0]


def test_history_columns_and_steps(blobs):
    train, val = blobs
    model, opt = new("sgd", lr=0.1)
    history = mt.fit(model, opt, train, val, epochs=3, batch_size=32, progress=False)
    assert len(history) == 3
    assert history["step"] == [4, 8, 12]            # ceil(100 / 32) = 4 batches per epoch
    assert history["epoch"] == [1, 2, 3]
    row = history[0]
    assert set(row) == {"epoch", "step", "lr", "momentum", "train_loss", "val_loss",
                        "val_metric", "seconds"}
    assert row["lr"] == 0.1 and 0 <= row["val_metric"] <= 1
    # the epoch's train_loss is the sample-weighted mean of its minibatch losses
    model2, opt2 = new("sgd", lr=0.1)
    X, y = model2.check_X(train[0]), model2.check_y(train[1], 100)
    perm = np.random.default_rng([0, 0]).permutation(100)
    total = 0.0
    for b in range(4):
        idx = perm[b * 32:(b + 1) * 32]
        total += model2._loss_and_grad(X, y, idx) * len(idx)
        opt2.step(model2.params, model2.grads)
    assert history[0]["train_loss"] == pytest.approx(total / 100, rel=1e-12)


def test_matches_a_hand_written_loop(blobs):
    """fit == the loop in its docstring, written out with the public API."""
    train, _ = blobs
    model, opt = new("nadam", lr=0.01)
    mt.fit(model, opt, train, epochs=2, batch_size=10, seed=5, progress=False)
    ref, ref_opt = new("nadam", lr=0.01)
    for epoch in range(2):
        perm = np.random.default_rng([5, epoch]).permutation(100)
        for b in range(10):
            idx = perm[b * 10:(b + 1) * 10]
            ref.loss_and_grad(train[0][idx], train[1][idx])
            ref_opt.step(ref.params, ref.grads)
    np.testing.assert_array_equal(model.params, ref.params)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_resume_is_bit_identical(name, blobs, tmp_path):
    train, val = blobs
    model, opt = new(name, dtype="float32")
    full = mt.fit(model, opt, train, val, epochs=4, batch_size=16, progress=False)
    path = tmp_path / "ck.npz"
    first, opt1 = new(name, dtype="float32")
    mt.fit(first, opt1, train, val, epochs=2, batch_size=16, checkpoint=path, progress=False)
    second, opt2 = new(name, dtype="float32", seed=9)           # different start: restored
    resumed = mt.fit(second, opt2, train, val, epochs=4, batch_size=16, resume=path,
                     checkpoint=path, progress=False)
    np.testing.assert_array_equal(second.params, model.params)
    for key, value in opt.state.items():
        np.testing.assert_array_equal(opt2.state[key], value)
    assert opt2.t == opt.t
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h.rows]  # noqa
    assert strip(resumed) == strip(full)


@pytest.mark.parametrize("compiled, chunk, send_at", [
    pytest.param(True, 3, 16, id="compiled"),   # chunks 13-16, 16-19: stops after step 19
    pytest.param(False, None, 18, id="python"),
])
def test_interrupt_mid_epoch_resumes_bit_identical(blobs, tmp_path, monkeypatch, compiled,
                                                   chunk, send_at):
    train, val = blobs
    use_loop(monkeypatch, compiled, chunk)
    model, opt = new("adam", lr=0.01)
    full = mt.fit(model, opt, train, val, epochs=3, batch_size=8, progress=False)

    path = tmp_path / "ck.npz"
    sent = []

    def interrupt(trainer):         # SIGINT in the middle of epoch 2 (13 steps an epoch)
        assert (trainer.chunks is not None) == compiled        # the loop under test
        if not sent and trainer.state["step"] >= send_at:
            sent.append(trainer.state["step"])
            os.kill(os.getpid(), signal.SIGINT)

    with monkeypatch.context() as patch:
        before_steps(patch, interrupt)
        first, opt1 = new("adam", lr=0.01)
        with pytest.raises(Interrupted) as info:
            mt.fit(first, opt1, train, val, epochs=3, batch_size=8, checkpoint=path,
                   progress=False)
    assert sent == [send_at]
    assert info.value.epoch == 2 and info.value.step == 19
    state = ckpt.load(path)
    assert state["trainer"]["run"]["batch"] == 6 and state["trainer"]["run"]["step"] == 19
    second, opt2 = new("adam", lr=0.01)
    resumed = mt.fit(second, opt2, train, val, epochs=3, batch_size=8, resume=path,
                     progress=False)
    np.testing.assert_array_equal(second.params, model.params)
    assert resumed["train_loss"] == full["train_loss"]


def test_resume_refuses_another_architecture(blobs, tmp_path):
    train, _ = blobs
    path = tmp_path / "ck.npz"
    model, opt = new("sgd")
    mt.fit(model, opt, train, epochs=1, checkpoint=path, progress=False)
    other = mt.MLP([4, 9, 3], activation="tanh", dtype="float64")
    with pytest.raises(ckpt.CheckpointError, match="layer_sizes differs"):
        mt.fit(other, mt.optim.get("sgd"), train, epochs=2, resume=path, progress=False)
    with pytest.raises(ckpt.CheckpointError, match="batch_size differs"):
        mt.fit(model, mt.optim.get("sgd"), train, epochs=2, batch_size=5, resume=path,
               progress=False)
    with pytest.raises(ckpt.CheckpointError, match="optimizer differs"):
        mt.fit(model, mt.optim.get("adam"), train, epochs=2, resume=path, progress=False)


def test_early_stopping_restores_best(blobs):
    train, val = blobs
    model, opt = new("sgd", lr=3.0)                 # too large: the val loss wanders up
    stopper = EarlyStopping(patience=2)
    history = mt.fit(model, opt, train, val, epochs=50, batch_size=8, early_stopping=stopper,
                     progress=False)
    best = int(np.argmin(history["val_loss"]))
    assert len(history) == best + 1 + 2              # stopped `patience` epochs after the best
    loss, _ = mt.train.evaluate(model, model.check_X(val[0]), model.check_y(val[1], 50))
    assert loss == pytest.approx(history["val_loss"][best], rel=1e-12)


def test_divergence_raises_with_position(blobs):
    train, _ = blobs
    model = mt.MLP([4, 32, 3], activation="relu", dtype="float32")
    opt = mt.optim.get("sgd", lr=1e6)
    with pytest.raises(TrainingDiverged) as info:
        mt.fit(model, opt, train, epochs=20, progress=False)
    assert info.value.step >= 1 and not np.isfinite(info.value.loss)


def test_callbacks_can_stop(blobs):
    train, _ = blobs
    model, opt = new("sgd")
    seen = []
    history = mt.fit(model, opt, train, epochs=10, progress=False,
                     callbacks=[lambda row: seen.append(row["epoch"]) or row["epoch"] == 3])
    assert seen == [1, 2, 3] and len(history) == 3


def test_progress_lines_when_not_a_terminal(blobs, capsys):
    train, val = blobs
    model, opt = new("sgd")
    mt.fit(model, opt, train, val, epochs=2, progress=True)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[1].startswith("epoch 2/2")
    assert " acc " in err[1] and "val_acc" in err[1]            # train and val accuracy
    assert all(len(line) <= 80 for line in err)


def test_progress_says_when_early_stopping_ends_the_run(blobs, capsys):
    train, val = blobs
    model, opt = new("sgd")
    es = mt.EarlyStopping(patience=1, min_delta=10.0)            # no epoch can improve enough
    history = mt.fit(model, opt, train, val, epochs=50, progress=True, early_stopping=es)
    err = capsys.readouterr().err
    assert len(history) == 2 and "early stopping" in err and "best epoch 1" in err


def test_start_epoch_equals_the_tail_of_a_longer_run(blobs):
    train, val = blobs
    full, opt = new("adam")
    mt.fit(full, opt, train, val, epochs=4, progress=False)
    part, opt2 = new("adam")
    mt.fit(part, opt2, train, val, epochs=2, progress=False)
    tail = mt.fit(part, opt2, train, val, epochs=4, start_epoch=2, progress=False)
    assert [r["epoch"] for r in tail.rows] == [3, 4] and tail.rows[0]["step"] > 0
    assert np.array_equal(full.params, part.params)              # bit-identical


def test_bad_arguments(blobs):
    train, _ = blobs
    model, opt = new("sgd")
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        mt.fit(model, opt, train, epochs=0)
    with pytest.raises(TypeError, match="must be an \\(X, y\\) pair"):
        mt.fit(model, opt, 5, epochs=1)
    with pytest.raises(ValueError, match="must have 4 features"):
        mt.fit(model, opt, (np.zeros((3, 2)), [0, 1, 2]), epochs=1)


@pytest.mark.parametrize("compiled", LOOPS)
def test_rollback_halves_lr_and_recovers(blobs, monkeypatch, compiled):
    train, val = blobs
    use_loop(monkeypatch, compiled)
    model = mt.MLP([4, 32, 3], activation="relu", dtype="float64", seed=0)
    opt = mt.optim.get("sgd", lr=0.5)
    notes = []
    X = np.array(train[0])                        # poisoned in place while training
    bad = np.random.default_rng([0, 1]).permutation(100)[20:40]   # epoch 2's batch 2
    poison(monkeypatch, 1, bad)     # one NaN loss at step 7 (epoch 2), as if it had diverged
    loops = set()
    before_steps(monkeypatch, lambda trainer: loops.add(trainer.chunks is not None))
    history = mt.fit(model, opt, (X, train[1]), val, epochs=3, batch_size=20,
                     on_diverge="rollback", log=notes.append, progress=False)
    assert loops == {compiled}                                 # the loop under test
    assert len(notes) == 1 and "rolled back to epoch 1" in notes[0]
    assert "epoch 2, step 7 (loss=nan)" in notes[0]
    assert history["lr"] == [0.5, 0.25, 0.25]
    assert history["epoch"] == [1, 2, 3] and np.isfinite(model.params).all()
    # epochs 2-3 equal a fresh run from epoch 1's state at half the lr
    ref = mt.MLP([4, 32, 3], activation="relu", dtype="float64", seed=0)
    ref_opt = mt.optim.get("sgd", lr=0.5)
    mt.fit(ref, ref_opt, train, epochs=1, batch_size=20, progress=False)
    ref_opt.lr = 0.25
    X, Y = ref.check_X(train[0]), ref.check_y(train[1], 100)
    for epoch in (1, 2):
        perm = np.random.default_rng([0, epoch]).permutation(100)
        for b in range(5):
            ref._loss_and_grad(X, Y, perm[b * 20:(b + 1) * 20])
            ref_opt.step(ref.params, ref.grads)
    np.testing.assert_array_equal(model.params, ref.params)


def test_rollback_gives_up_after_three(blobs):
    train, _ = blobs
    model = mt.MLP([4, 32, 3], activation="relu", dtype="float32")
    opt = mt.optim.get("sgd", lr=1e6)
    notes = []
    with pytest.raises(TrainingDiverged):
        mt.fit(model, opt, train, epochs=20, on_diverge="rollback", log=notes.append,
               progress=False)
    assert len(notes) == 3


@pytest.mark.parametrize("schedule_name, kwargs", [
    ("plateau", dict(lr=0.05, factor=0.5, patience=0, threshold=0.5)),
    ("onecycle", dict(max_lr=0.05, total_steps=4 * 7)),
    ("polynomial", dict(lr=0.05, total_steps=28, end_lr=0.001, power=2.0)),
    ("linear", dict(lr=0.05, start_factor=0.1, total_steps=20)),
    ("cyclic", dict(base_lr=0.001, max_lr=0.05, step_size_up=5, mode="triangular2")),
    ("cosine_restarts", dict(lr=0.05, first_steps=6, t_mult=2.0)),
    ("cosine", dict(lr=0.05, total_steps=28, warmup_steps=5, warmup_start=0.001)),
    ("power", dict(lr=0.05, steps=5, staircase=True)),
    ("sequential", dict(schedules=[{"name": "linear", "lr": 0.05, "start_factor": 0.1,
                                    "total_steps": 10},
                                   {"name": "plateau", "lr": 0.05, "patience": 0,
                                    "threshold": 0.5}], boundaries=[10])),
])
def test_resume_with_schedules_is_bit_identical(schedule_name, kwargs, blobs, tmp_path):
    train, val = blobs

    def run(epochs, resume=None, checkpoint=None):
        model, opt = new("momentum")
        schedule = mt.schedules.get(schedule_name, **kwargs)
        history = mt.fit(model, opt, train, val, epochs=epochs, batch_size=16,
                         schedule=schedule, resume=resume, checkpoint=checkpoint,
                         progress=False)
        return model, opt, schedule, history

    model, opt, schedule, full = run(4)
    path = tmp_path / "ck.npz"
    run(2, checkpoint=path)
    model2, opt2, schedule2, resumed = run(4, resume=path)
    np.testing.assert_array_equal(model2.params, model.params)
    assert schedule2.state_dict() == schedule.state_dict()
    assert resumed["lr"] == full["lr"] and resumed["momentum"] == full["momentum"]
    if schedule_name == "plateau":
        assert len(set(full["lr"])) > 1           # the plateau actually cut the lr
