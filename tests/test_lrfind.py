"""lr_find: the range test against a hand-written loop, exact restore, suggestions, CLI."""
import csv

import numpy as np
import pytest
from click.testing import CliRunner

import minitrain as mt
from minitrain.experiments import runs
from minitrain.cli import cli
from minitrain.experiments.lrfind import suggestions


pytestmark = pytest.mark.usefixtures("minitrain_cache")


def setup(name="nadam", dataset="iris", hidden=(8,), dtype="float32"):
    cfg = runs.resolve({"dataset": dataset, "optimizer": name, "hidden": list(hidden),
                        "dtype": dtype})
    run = runs.build_run(cfg)
    return run.model, run.optimizer, run.data.arrays("train")


def train_steps(model, optimizer, data, steps, seed=5):
    X, y = data
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        idx = rng.choice(len(X), 16, replace=False)
        model.loss_and_grad(X[idx], y[idx])
        optimizer.step(model.params, model.grads)


def snapshot(model, optimizer):
    sd = optimizer.state_dict()
    return (model.params.tobytes(), model.grads.tobytes(), sd["t"], sd["hyperparameters"],
            {k: v.tobytes() for k, v in sd["state"].items()},
            {k: v for k, v in sd.items() if k not in ("state", "hyperparameters")})


@pytest.mark.parametrize("name", ["nadam", "momentum", "rmsprop", "adam"])
def test_restores_model_and_optimizer_bit_for_bit(name):
    model, optimizer, data = setup(name)
    twin, twin_opt, _ = setup(name)
    for m, o in ((model, optimizer), (twin, twin_opt)):
        train_steps(m, o, data, 7)                  # state worth restoring
    before = snapshot(model, optimizer)
    result = mt.lr_find(model, optimizer, data, steps=60)
    assert len(result.lrs) > 10
    assert snapshot(model, optimizer) == before
    # and training goes on exactly as if the test had never run
    train_steps(model, optimizer, data, 5, seed=9)
    train_steps(twin, twin_opt, data, 5, seed=9)
    assert model.params.tobytes() == twin.params.tobytes()
    assert snapshot(model, optimizer)[2:] == snapshot(twin, twin_opt)[2:]


def test_a_fresh_optimizer_is_fresh_again_afterwards():
    model, optimizer, data = setup("nadam", dtype="float64")
    twin, twin_opt, _ = setup("nadam", dtype="float64")
    params = model.params.copy()
    mt.lr_find(model, optimizer, data, steps=30)
    assert model.params.tobytes() == params.tobytes()
    assert optimizer.t == 0 and optimizer.state == {} and optimizer.mu_product == 1.0
    assert optimizer.hyperparameters() == twin_opt.hyperparameters()
    train_steps(model, optimizer, data, 4)
    train_steps(twin, twin_opt, data, 4)
    assert model.params.tobytes() == twin.params.tobytes()


def test_restored_even_when_the_test_fails_midway():
    model, optimizer, data = setup("adam")
    train_steps(model, optimizer, data, 3)
    before = snapshot(model, optimizer)
    X, y = data
    with pytest.raises(ValueError):
        mt.lr_find(model, optimizer, (X, y[:5]))          # bad y: fails before any step
    assert snapshot(model, optimizer) == before


def test_curve_equals_a_hand_written_loop():
    start, end, steps, beta, batch = 1e-5, 1.0, 40, 0.9, 16
    model, optimizer, (X, y) = setup("momentum")
    ref_model, ref_opt, _ = setup("momentum")
    result = mt.lr_find(model, optimizer, (X, y), start=start, end=end, steps=steps,
                        batch_size=batch, seed=3, beta=beta)
    # the reference: the same minibatches as fit (default_rng([seed, epoch])), by hand
    lrs, losses, smoothed, avg, best = [], [], [], 0.0, np.inf
    order = np.concatenate([np.random.default_rng([3, e]).permutation(len(X))
                            for e in range(10)])
    per_epoch = -(-len(X) // batch)
    for i in range(steps):
        e, b = divmod(i, per_epoch)
        perm = order[e * len(X):(e + 1) * len(X)]
        idx = perm[b * batch:(b + 1) * batch]
        lr = start * (end / start) ** (i / (steps - 1))
        ref_opt.lr = lr
        loss = ref_model.loss_and_grad(X[idx], y[idx])
        avg = beta * avg + (1 - beta) * loss
        smooth = avg / (1 - beta ** (i + 1))
        lrs.append(lr), losses.append(loss), smoothed.append(smooth)
        if smooth > 4 * best:
            break
        best = min(best, smooth)
        ref_opt.step(ref_model.params, ref_model.grads)
    assert result.lrs.tolist() == lrs
    assert result.losses.tolist() == losses
    assert result.smoothed.tolist() == smoothed
    assert result.stopped == ("diverged" if len(lrs) < steps else "end")


def test_stops_when_the_smoothed_loss_exceeds_four_times_its_best():
    model, optimizer, data = setup("sgd")
    result = mt.lr_find(model, optimizer, data, start=1e-3, end=1e4, steps=100, beta=0.5)
    s = result.smoothed
    assert result.stopped == "diverged" and len(s) < 100
    assert s[-1] > 4 * s[:-1].min()
    assert all(s[i] <= 4 * s[:i].min() for i in range(1, len(s) - 1))


def test_suggestions_on_a_known_curve():
    lrs = np.logspace(-6, 0, 121)
    x = np.log(lrs)
    # falls fastest at lr=1e-3 (tanh), lowest at lr=1e-1 (then rises)
    curve = 2 - np.tanh(2 * (x - np.log(1e-3))) + 0.05 * (x - np.log(1e-1)) ** 2
    steepest, minimum = suggestions(lrs, curve)
    slope = np.gradient(curve, x)
    low = int(np.argmin(curve))
    assert minimum == lrs[low]
    assert steepest == lrs[10 + int(np.argmin(slope[10:low + 1]))]
    assert steepest == pytest.approx(1e-3, rel=0.15) and minimum == pytest.approx(0.1, rel=0.15)
    assert suggestions(lrs[:2], curve[:2]) == (None, None)


@pytest.mark.parametrize("name", ["nadam", "adam"])
def test_digits_suggestions_are_sensible(name):
    model, optimizer, data = setup(name, dataset="digits", hidden=(64, 64))
    result = mt.lr_find(model, optimizer, data)
    assert 1e-4 <= result.steepest <= 1
    assert 1e-4 <= result.min_div10 <= 1


@pytest.mark.parametrize("kwargs, message", [
    (dict(start=0), "lr_find: start must be > 0.0"),
    (dict(start=1e-3, end=1e-4), "lr_find: end must be > 0.001"),
    (dict(steps=2), "lr_find: steps must be >= 3"),
    (dict(beta=1.0), "lr_find: beta must be in [0.0, 1.0)"),
    (dict(diverge=1.0), "lr_find: diverge must be > 1.0"),
])
def test_bad_arguments(kwargs, message):
    model, optimizer, data = setup("adam")
    with pytest.raises(ValueError) as info:
        mt.lr_find(model, optimizer, data, **kwargs)
    assert str(info.value).startswith(message)


def test_cli_writes_csv_and_plot_and_prints_suggestions(tmp_path):
    out = tmp_path / "lr"
    result = CliRunner().invoke(cli, ["lr-find", "-d", "iris", "-o", "adam", "--hidden", "8",
                                      "--steps", "50", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "steepest descent" in result.output and "minimum / 10" in result.output
    with open(out / "lr_find.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["step", "lr", "loss", "smoothed_loss"]
    model, optimizer, data = setup("adam")
    expected = mt.lr_find(model, optimizer, data, steps=50)
    assert [float(r["smoothed_loss"]) for r in rows] == expected.smoothed.tolist()
    assert f"steepest descent  {expected.steepest:.3g}" in result.output
    assert (out / "lr_find.png").stat().st_size > 10_000
    again = CliRunner().invoke(cli, ["lr-find", "-d", "iris", "--out", str(out)])
    assert again.exit_code == 1 and "holds a lr-find (lr_find.csv" in again.output


@pytest.mark.parametrize("args, message", [
    (["--start", "1", "--end", "0.1"], "must be greater than --start"),
    (["--steps", "2"], "--steps"),
    (["-o", "lbfgs"], "--optimizer"),
])
def test_cli_bad_options_exit_2(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["lr-find", "-d", "iris", "--out", str(tmp_path / "x"),
                                      *args])
    assert result.exit_code == 2 and message in result.output


def test_cli_unknown_dataset_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["lr-find", "-d", "nope", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "unknown dataset 'nope'" in result.output
    assert not (tmp_path / "x").exists()
