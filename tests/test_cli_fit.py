"""`minitrain fit`, `evaluate`, `predict`, `optimizers` and `gradcheck` from the outside."""
import csv
import json
import types

import numpy as np
import pytest
from click.testing import CliRunner

import minitrain as mt
from minitrain import checkpoint as ckpt
from minitrain.cli import cli


def invoke(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result


def fit_json(*args):
    result = invoke("fit", *args, "--quiet", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MINITRAIN_CACHE", str(tmp_path / "cache"))


def test_fit_writes_a_run_directory(tmp_path, cache):
    out = tmp_path / "run"
    summary = fit_json("--dataset", "moons", "--n-samples", 300, "--epochs", 3, "--out", out)
    assert set(summary) == {"train", "val", "test", "epochs", "steps", "seconds",
                            "params_sha256"}
    assert set(summary["test"]) == {"loss", "accuracy"} and summary["epochs"] == 3
    assert summary["steps"] == 3 * -(-180 // 32)
    for name in ("config.toml", "history.csv", "model.npz", "summary.json"):
        assert (out / name).exists()
    with open(out / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert list(rows[0]) == ["epoch", "step", "lr", "momentum", "train_loss", "val_loss",
                             "val_metric", "seconds"]
    model, extra = mt.runs.load_run(out)
    assert summary["params_sha256"] == mt.train.params_sha256(model.params)
    assert extra["config"]["optimizer"] == "nadam"


def test_fit_is_reproducible_and_seed_matters(tmp_path, cache):
    args = ("--dataset", "moons", "--n-samples", 200, "--epochs", 2, "--force")
    a = fit_json(*args, "--out", tmp_path / "a")
    b = fit_json(*args, "--out", tmp_path / "b")
    c = fit_json(*args, "--out", tmp_path / "c", "--seed", 1)
    assert a["params_sha256"] == b["params_sha256"] != c["params_sha256"]


def test_summary_table_and_progress(tmp_path, cache):
    result = invoke("fit", "-d", "moons", "--n-samples", 200, "-e", 2, "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    assert "epoch 2/2" in result.output and "params sha256" in result.output
    assert "val_acc" in result.output and "test" in result.output
    # the header: rows per split, features, classes, parameters, optimizer, schedule
    assert "moons: 120 train / 40 val / 40 test rows, 2 features, 2 classes" in result.output
    assert "params), nadam lr 0.002\nconstant lr, 2 epochs x 4 steps" in result.output
    assert all(len(line) <= 80 for line in result.output.splitlines()[:5])


def test_resume_continues_to_the_same_result(tmp_path, cache):
    base = ("--dataset", "moons", "--n-samples", 200, "--optimizer", "adam",
            "--schedule", "onecycle", "--total-steps", 40)
    full = fit_json(*base, "--epochs", 6, "--out", tmp_path / "full")
    fit_json(*base, "--epochs", 3, "--out", tmp_path / "part")
    resumed = fit_json("--resume", tmp_path / "part", "--epochs", 6)
    assert resumed["params_sha256"] == full["params_sha256"]
    with open(tmp_path / "part" / "history.csv") as f:
        assert len(list(csv.DictReader(f))) == 6


def test_never_overwrites_without_force(tmp_path, cache):
    out = tmp_path / "run"
    fit_json("--dataset", "moons", "--n-samples", 100, "--epochs", 1, "--out", out)
    before = (out / "model.npz").read_bytes()
    result = invoke("fit", "--dataset", "moons", "--epochs", 1, "--out", out, "--quiet")
    assert result.exit_code == 1 and "already exists" in result.output
    assert (out / "model.npz").read_bytes() == before


def test_config_file_and_command_line_wins(tmp_path, cache):
    config = tmp_path / "c.toml"
    config.write_text('dataset = "moons"\nn-samples = 150\noptimizer = "adam"\nepochs = 2\n'
                      'hidden = [8, 8]\n')
    fit_json("--config", config, "--epochs", 1, "--out", tmp_path / "r")
    saved = mt.runs.read_toml(tmp_path / "r" / "config.toml")
    assert saved["optimizer"] == "adam" and saved["epochs"] == 1 and saved["hidden"] == [8, 8]
    # the saved config.toml reproduces the run
    again = fit_json("--config", tmp_path / "r" / "config.toml", "--out", tmp_path / "r2")
    first = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert again["params_sha256"] == first["params_sha256"]


def test_schedule_options_reach_the_schedule(tmp_path, cache):
    fit_json("-d", "moons", "--n-samples", 200, "-e", 2, "-o", "momentum", "--schedule",
             "piecewise", "--boundaries", 3, "--values", "0.1,0.01", "--out", tmp_path / "r")
    with open(tmp_path / "r" / "history.csv") as f:
        lrs = [float(r["lr"]) for r in csv.DictReader(f)]
    assert lrs == [0.01, 0.01]
    state = ckpt.load(tmp_path / "r" / "model.npz")
    assert state["optimizer"]["state"]["hyperparameters"]["momentum"] == 0.9


def test_onecycle_cycles_momentum_in_history(tmp_path, cache):
    fit_json("-d", "moons", "--n-samples", 200, "-e", 4, "-o", "momentum", "--schedule",
             "onecycle", "--max-lr", 0.1, "--out", tmp_path / "r")
    with open(tmp_path / "r" / "history.csv") as f:
        rows = list(csv.DictReader(f))
    expected = mt.schedules.get("onecycle", max_lr=0.1, total_steps=4 * 4)
    assert [float(r["momentum"]) for r in rows] == pytest.approx(
        [expected.momentum(4 * k - 1) for k in (1, 2, 3, 4)])


def test_evaluate_and_predict(tmp_path, cache):
    out = tmp_path / "run"
    fit_json("--data", "data/penguins_like.csv", "--target", "species", "--epochs", 5,
             "--out", out)
    result = invoke("evaluate", "--run", out, "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    summary = json.loads((out / "summary.json").read_text())
    assert metrics["test"] == summary["test"]
    result = invoke("evaluate", "--run", out, "--data", "data/penguins_like.csv")
    assert result.exit_code == 0 and "penguins_like.csv" in result.output
    preds = tmp_path / "p.csv"
    result = invoke("predict", "--run", out, "--data", "data/penguins_like.csv", "--out", preds)
    assert result.exit_code == 0, result.output
    with open(preds) as f:
        rows = list(csv.DictReader(f))
    with open("data/penguins_like.csv") as f:
        truth = [r["species"] for r in csv.DictReader(f)]
    assert len(rows) == len(truth)
    accuracy = np.mean([r["prediction"] == t for r, t in zip(rows, truth)])
    assert accuracy > 0.8
    p = np.array([[float(v) for k, v in r.items() if k.startswith("p_")] for r in rows])
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)


def test_predict_regression_in_target_units(tmp_path, cache):
    out = tmp_path / "run"
    fit_json("--data", "data/houses_like.csv", "--epochs", 3, "--out", out)
    preds = tmp_path / "p.csv"
    assert invoke("predict", "--run", out, "--data", "data/houses_like.csv",
                  "--out", preds).exit_code == 0
    with open(preds) as f:
        values = np.array([float(r["prediction"]) for r in csv.DictReader(f)])
    ds = mt.data.load_csv("data/houses_like.csv", None)
    assert abs(values.mean() - ds.y.mean()) < 0.5 * ds.y.std()   # de-standardised


@pytest.mark.parametrize("args, code, message", [
    (["--dataset", "nope"], 2, "unknown dataset 'nope'; valid: iris"),
    (["--dataset", "moons", "--optimizer", "sgd", "--beta1", "0.8"], 2,
     "beta1 is not a hyperparameter of optimizer sgd"),
    (["--dataset", "moons", "--lr", "-1"], 2, "Invalid value for '--lr'"),
    (["--dataset", "moons", "--schedule", "onecycle", "--rate", "0.5"], 2,
     "--rate is not an option of schedule 'onecycle'"),
    (["--dataset", "moons", "--max-lr", "0.5"], 2, "need(s) --schedule"),
    (["--data", "missing.csv"], 1, "file not found"),
    (["--dataset", "moons", "--data", "data/spirals.csv"], 2, "exactly one of"),
    (["--dataset", "iris", "--n-samples", "10"], 2, "does not accept n_samples"),
    (["--dataset", "moons", "--hidden", "8,x"], 2, "comma-separated layer sizes"),
    (["--resume", "nowhere"], 1, "nowhere: no such run directory"),
])
def test_fit_errors(args, code, message, tmp_path, cache):
    out = [] if "--resume" in args else ["--out", tmp_path / "r"]
    result = invoke("fit", *args, *out, "--quiet")
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_optimizers_lists_every_optimizer():
    result = invoke("optimizers")
    assert result.exit_code == 0
    for name in mt.optim.names():
        assert result.output.count(f"\n{name} ") + result.output.startswith(name) >= 1
    assert "fit's default lr" in result.output


def test_cli_choices_are_the_registries():
    from minitrain import nn
    help_text = " ".join(invoke("fit", "--help").output.split())
    for name in [*mt.optim.names(), *mt.schedules.names(), *nn.ACTIVATIONS, *nn.LOSSES]:
        assert name in help_text
    assert invoke("fit", "-d", "moons", "-o", "no_such_optimizer").exit_code == 2


def test_gradcheck_passes_on_iris(cache):
    result = invoke("gradcheck", "--dataset", "iris", "--hidden", "8,8", "--activation", "tanh")
    assert result.exit_code == 0, result.output
    assert "PASS" in result.output and result.output.count("yes") == 6


def test_gradcheck_fails_when_a_derivative_is_broken(cache, monkeypatch):
    from minitrain import nn
    from minitrain._jit import source_copy
    real = nn.step_functions

    def broken(activation, loss):             # f' off by 10 %, in plain Python: nothing
        fns = real(activation, loss)          # compiled, nothing in Numba's cache

        def wrong(z, d):
            fns.activate_grad(z, d)
            d *= 1.1
        return types.SimpleNamespace(
            predict_batch=fns.predict_batch, weighted_loss=fns.weighted_loss,
            loss_and_grad=source_copy(nn._loss_and_grad, "broken", _forward=fns.forward,
                                      _activate_grad=wrong, _weighted_loss=fns.weighted_loss))

    monkeypatch.setattr(nn, "step_functions", broken)
    result = invoke("gradcheck", "--dataset", "iris", "--hidden", "4", "--samples", 4)
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output and "NO" in result.output


def test_evaluate_prints_per_class_scores_and_the_confusion_matrix(tmp_path, cache):
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
    out = tmp_path / "r"
    fit_json("--dataset", "wine", "--epochs", 3, "--out", out)
    result = invoke("evaluate", out)                 # the run folder as an argument
    assert result.exit_code == 0, result.output
    saved = mt.runs.load_run(out)
    test = saved.parts()["test"]
    scaler, _ = saved.scalers()
    pred = saved.model.predict(scaler.transform(test.X))
    p, r, f, support = precision_recall_fscore_support(test.y, pred, zero_division=0)
    lines = result.output.split("test: per class\n")[1].splitlines()
    for i, c in enumerate(saved.extra["classes"]):
        cells = lines[1 + i].split()
        assert cells[0] == str(c)
        assert [float(x) for x in cells[1:4]] == pytest.approx([p[i], r[i], f[i]], abs=5e-4)
        assert int(cells[4]) == support[i]
    matrix = confusion_matrix(test.y, pred)
    rows = [ln.split()[1:] for ln in lines[-len(matrix):]]
    assert [[int(v) for v in row] for row in rows] == matrix.tolist()


def test_fit_draws_its_learning_curves(tmp_path, cache):
    pytest.importorskip("matplotlib")
    out = tmp_path / "r"
    fit_json("--dataset", "moons", "--n-samples", 100, "--epochs", 2, "--out", out)
    png = (out / "curves.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    fit_json("--dataset", "moons", "--n-samples", 100, "--epochs", 2, "--no-plot",
             "--out", tmp_path / "s")
    assert not (tmp_path / "s" / "curves.png").exists()


@pytest.mark.parametrize("bias_decay", [True, False])
def test_bias_decay_switch_reaches_the_optimizer(bias_decay, cache):
    import numpy as np
    cfg = mt.runs.resolve({"dataset": "moons", "optimizer": "sgd", "weight_decay": 0.5,
                           "bias_decay": bias_decay, "hidden": [4]})
    run = mt.runs.build_run(cfg)
    p = run.model.params.copy()
    run.optimizer.step(run.model.params, np.zeros_like(p))      # only the decay acts
    moved = run.model.params != p
    bias = run.model.bias_mask
    assert moved[~bias & (p != 0)].all()                          # weights always decay
    assert moved[bias & (p != 0)].any() == bias_decay             # biases only when asked


def test_optimizer_options_come_from_the_registry():
    help_text = " ".join(invoke("fit", "--help").output.split())
    for name in mt.optim.options():
        assert "--" + name.replace("_", "-") in help_text


def test_summary_records_the_threads_used(tmp_path, cache):
    out = tmp_path / "r"
    fit_json("--dataset", "moons", "--n-samples", 100, "--epochs", 1, "--threads", 1,
             "--out", out)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["threads"] == {"chosen": 1, "auto": False, "changes": []}
    assert invoke("fit", "-d", "moons", "--threads", "0", "--out", tmp_path / "s").exit_code == 2
