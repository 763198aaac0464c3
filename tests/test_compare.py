"""`minitrain compare` / mt.compare: same start and batches per seed, tables, files, CLI."""
import csv
import hashlib

import numpy as np
import pytest
from click.testing import CliRunner

import minitrain as mt
from minitrain.cli import cli
from minitrain.experiments.compare import CompareError
from minitrain.nn import MLP

from loop_hooks import LOOPS, before_steps, use_loop, watch_minibatches

OPTS = ["sgd", "momentum", "adam", "rmsprop"]
SMALL = dict(epochs=3, hidden=[8])
TIMING = ("seconds_mean", "seconds_std", "steps_per_second_mean", "steps_per_second_std")


pytestmark = pytest.mark.usefixtures("minitrain_cache")


def untimed(rows):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


@pytest.mark.parametrize("compiled", LOOPS)
def test_same_initial_weights_and_batches_within_a_seed(monkeypatch, compiled):
    seen = {}                       # id(model) -> [params sha at first step, batch, batch...]
    alive = []                      # the models, so that no id is reused
    use_loop(monkeypatch, compiled)

    def start(trainer):             # iris runs (4 features), not compare's warm-up model
        model = trainer.model
        if model.layer_sizes[0] == 4 and id(model) not in seen:
            alive.append(model)
            seen[id(model)] = [hashlib.sha256(model.params.tobytes()).hexdigest()]

    def record(trainer, idx):
        assert (trainer.chunks is not None) == compiled        # the loop under test
        if trainer.model.layer_sizes[0] == 4:
            seen[id(trainer.model)].append(idx.tobytes())

    before_steps(monkeypatch, start)
    watch_minibatches(monkeypatch, record)
    result = mt.compare("iris", OPTS, seeds=[0, 1], **SMALL)
    runs = list(seen.values())
    assert len(runs) == 2 * len(OPTS)       # seed by seed, optimizers in the given order
    seed0, seed1 = runs[:len(OPTS)], runs[len(OPTS):]
    for group in (seed0, seed1):
        assert all(r == group[0] for r in group)           # weights and every minibatch
        assert len(group[0]) == 1 + 3 * -(-90 // 32)
    assert seed0[0][0] != seed1[0][0] and seed0[0][1:] != seed1[0][1:]
    # the shared start is the seed's model: MLP(..., seed=seed)
    for seed, group in ((0, seed0), (1, seed1)):
        start = MLP([4, 8, 3], seed=seed).params
        assert group[0][0] == hashlib.sha256(start.tobytes()).hexdigest()
    # and the optimizers did end in different places
    finals = {r["summary"]["params_sha256"] for r in result.results[:len(OPTS)]}
    assert len(finals) == len(OPTS)


def test_summary_is_the_mean_and_std_of_the_curves():
    result = mt.compare("iris", OPTS, seeds=[0, 1, 2], **SMALL)
    curves = result.curves
    assert len(curves) == len(OPTS) * 3 * 3
    assert list(curves[0]) == ["optimizer", "seed", "epoch", "step", "lr", "train_loss",
                               "val_loss", "metric"]
    expected = {}
    for name in OPTS:
        per_seed = [[r for r in curves if r["optimizer"] == name and r["seed"] == s]
                    for s in (0, 1, 2)]
        final = np.array([rows[-1]["val_loss"] for rows in per_seed])
        best = np.array([min(r["val_loss"] for r in rows) for rows in per_seed])
        best_metric = np.array([max(r["metric"] for r in rows) for rows in per_seed])
        expected[name] = (final.mean(), final.std(ddof=1), best.mean(), best.std(ddof=1),
                          best_metric.mean())
    for row in result.summary:
        mean, std, bmean, bstd, bmetric = expected[row["optimizer"]]
        assert row["final_val_loss_mean"] == pytest.approx(mean, rel=1e-12)
        assert row["final_val_loss_std"] == pytest.approx(std, rel=1e-9)
        assert row["best_val_loss_mean"] == pytest.approx(bmean, rel=1e-12)
        assert row["best_val_loss_std"] == pytest.approx(bstd, rel=1e-9)
        assert row["best_metric_mean"] == pytest.approx(bmetric, rel=1e-12)
        assert row["runs"] == 3 and row["diverged"] == 0
    ranked = [r["optimizer"] for r in result.summary]
    assert ranked == sorted(OPTS, key=lambda n: expected[n][0])
    assert [r["rank"] for r in result.summary] == [1, 2, 3, 4]
    assert {r["lr"] for r in result.summary if r["optimizer"] == "sgd"} == \
        {mt.optim.default_lr("sgd")}


def test_rerun_gives_identical_tables(tmp_path):
    a = mt.compare("iris", OPTS, seeds=[0, 1], out=tmp_path / "a", **SMALL)
    b = mt.compare("iris", OPTS, seeds=[0, 1], out=tmp_path / "b", **SMALL)
    assert a.curves == b.curves
    assert untimed(a.summary) == untimed(b.summary)
    assert (tmp_path / "a/curves.csv").read_bytes() == (tmp_path / "b/curves.csv").read_bytes()
    lines = [(tmp_path / d / "summary.csv").read_text().splitlines() for d in "ab"]
    assert len(lines[0]) == len(OPTS) + 1 and lines[0][0] == lines[1][0]
    assert (tmp_path / "a/curves.png").stat().st_size > 10_000


def test_worker_processes_give_the_same_tables():
    serial = mt.compare("iris", ["sgd", "adam"], seeds=[0, 1], **SMALL)
    parallel = mt.compare("iris", ["sgd", "adam"], seeds=[0, 1], jobs=2, **SMALL)
    assert parallel.curves == serial.curves
    assert untimed(parallel.summary) == untimed(serial.summary)


def test_lr_per_optimizer_and_schedule():
    result = mt.compare("iris", ["sgd", "adam"], lr={"adam": 0.02}, schedule="cosine",
                        schedule_params={"warmup_steps": 3}, **SMALL)
    lrs = {r["optimizer"]: r["lr"] for r in result.summary}
    assert lrs == {"sgd": mt.optim.default_lr("sgd"), "adam": 0.02}
    sched = mt.schedules.get("cosine", lr=0.02, total_steps=3 * 3, warmup_steps=3)
    adam = [r for r in result.curves if r["optimizer"] == "adam"]
    # history lr = the lr of the epoch's last step
    assert [r["lr"] for r in adam] == [sched.lr(r["step"] - 1) for r in adam]


def test_a_diverging_optimizer_is_ranked_last():
    result = mt.compare("iris", ["sgd", "adam"], lr={"sgd": 1e6}, **SMALL)
    assert [r["optimizer"] for r in result.summary] == ["adam", "sgd"]
    assert result.summary[1]["diverged"] == 1 and result.summary[1]["final_val_loss_mean"] \
        is None
    assert "sgd (diverged 1/1)" in result.table()


@pytest.mark.parametrize("kwargs, message", [
    (dict(optimizers=["adam", "lbfgs"]), "unknown optimizer 'lbfgs'"),
    (dict(optimizers=["adam", "adam"]), "must be distinct"),
    (dict(optimizers=["adam"], lr={"sgd": 0.1}), "lr given for sgd"),
    (dict(optimizers=["adam"], seeds=[]), "seeds must be distinct"),
    (dict(optimizers=["adam"], val_split=0.0), "val_split must be > 0"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(CompareError) as info:
        mt.compare("iris", **kwargs)
    assert message in str(info.value)


def test_public_functions_survive_importing_their_modules():
    import importlib
    for name, module in [("compare", "experiments.compare"), ("sweep", "experiments.sweep"),
                         ("gradcheck", "lab.gradient_check"), ("lr_find", "experiments.lrfind")]:
        importlib.import_module(f"minitrain.{module}")
        assert callable(getattr(mt, name)) and not isinstance(getattr(mt, name), type(mt))


# ----------------------------------------------------------------------- CLI


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_cli_prints_the_ranked_table_and_writes_the_files(tmp_path):
    out = tmp_path / "cmp"
    result = invoke("compare", "-d", "iris", "-o", "sgd,adam", "--lr", "adam=0.02,0.05",
                    "-e", 3, "--hidden", "8", "--seeds", "0,1", "--out", out)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("iris: 3 epochs, batch 32, hidden 8, schedule none, seeds 0,1")
    assert "final val_loss" in lines[2] and "±" in lines[3]
    assert {lines[3].split()[1], lines[4].split()[1]} == {"sgd", "adam"}
    with open(out / "summary.csv") as f:
        rows = {r["optimizer"]: r for r in csv.DictReader(f)}
    assert float(rows["adam"]["lr"]) == 0.02 and float(rows["sgd"]["lr"]) == 0.05
    with open(out / "curves.csv") as f:
        assert len(list(csv.DictReader(f))) == 2 * 2 * 3
    assert (out / "curves.png").exists()
    again = invoke("compare", "-d", "iris", "-o", "adam", "-e", 1, "--out", out)
    assert again.exit_code == 1 and "already exists and holds a comparison" in again.output


@pytest.mark.parametrize("args, message", [
    (("-o", "adam,lbfgs"), "unknown optimizer 'lbfgs'"),
    (("-o", "adam", "--lr", "sgd=0.1"), "sgd is not among --optimizers adam"),
    (("-o", "adam,adam@jax"), "unknown convention 'jax' in 'adam@jax'"),
    (("-o", "adam@"), "unknown convention '' in 'adam@'"),
    (("-o", "adam,adam@torch"), "names a run twice"),
    (("-o", "adam@keras", "--convention", "keras", "--lr", "adam@keras=0.1"),
     "adam@keras is not among --optimizers adam"),
    (("--convention", "jax"), "'jax' is not one of"),
    (("--seeds", "0,0"), "must be distinct integers"),
    (("--pct-start", "0.3"), "need(s) --schedule"),
    (("--schedule", "cosine", "--pct-start", "0.3"), "is not an option of schedule"),
    (("--schedule", "onecycle", "--pct-start", "2"), "pct_start"),
])
def test_cli_bad_options_exit_2(tmp_path, args, message):
    result = invoke("compare", "-d", "iris", "-e", 1, "--out", tmp_path / "x", *args)
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "x").exists()


def test_cli_bad_data_exits_1_with_one_line(tmp_path):
    result = invoke("compare", "--data", tmp_path / "missing.csv", "-o", "adam", "-e", 1,
                    "--out", tmp_path / "x")
    assert result.exit_code == 1 and result.output.startswith("Error: ")
    assert result.output.count("\n") == 1 and "missing.csv" in result.output


# ----------------------------------------------------------------------- conventions
def direct_fit(name, convention, seed, lr):
    """One run written out with the public pieces: MLP(seed), optim.get, train.fit."""
    from minitrain import optim, runs
    from minitrain.train import fit, params_sha256
    cfg = runs.resolve({"dataset": "iris", "hidden": [8], "epochs": 3, "seed": seed})
    train, val, _, scaler, _, _ = runs.load_data(cfg)
    model = MLP([4, 8, 3], seed=seed)
    opt = optim.get(name, convention=convention, lr=lr)
    history = fit(model, opt, runs.arrays(train, scaler, None), runs.arrays(val, scaler, None),
                  epochs=3, seed=seed, progress=False)
    return history, params_sha256(model.params)


def test_one_optimizer_under_both_conventions_side_by_side():
    result = mt.compare("iris", ["adam", "adam@keras"], seeds=[0, 1], lr={"adam": 0.01},
                        **SMALL)
    assert sorted(row["optimizer"] for row in result.summary) == ["adam", "adam@keras"]
    assert {row["optimizer"] for row in result.curves} == {"adam", "adam@keras"}
    assert "adam@keras" in result.table()
    for r in result.results:
        cfg = r["config"]
        history, sha = direct_fit("adam", cfg["convention"], cfg["seed"], 0.01)
        assert [row["val_loss"] for row in r["history"]] == history["val_loss"]
        assert [row["train_loss"] for row in r["history"]] == history["train_loss"]
        assert r["summary"]["params_sha256"] == sha
    by = {(r["config"]["convention"], r["config"]["seed"]): r["summary"]["params_sha256"]
          for r in result.results}
    assert by["torch", 0] != by["keras", 0]             # the rules did differ


def test_default_convention_and_lr_by_label():
    result = mt.compare("iris", ["adam", "adam@torch"], convention="keras",
                        lr={"adam": 0.01, "adam@torch": 0.02}, **SMALL)
    rows = {row["optimizer"]: row for row in result.summary}
    assert set(rows) == {"adam", "adam@torch"}
    assert rows["adam"]["lr"] == 0.01 and rows["adam@torch"]["lr"] == 0.02
    conventions = {r["config"]["convention"]: r["config"]["lr"] for r in result.results}
    assert conventions == {"keras": 0.01, "torch": 0.02}
    assert "convention keras" in result.table().splitlines()[0]


@pytest.mark.parametrize("kwargs, message", [
    (dict(optimizers=["adam", "adam@jax"]), "convention must be one of"),
    (dict(optimizers=["adam", "adam@torch"]), "must be distinct"),
    (dict(optimizers=["adam"], convention="jax"), "convention must be one of"),
    (dict(optimizers=["adam"], lr={"adam@keras": 0.1}), "lr given for adam@keras"),
])
def test_bad_convention_arguments(kwargs, message):
    with pytest.raises(CompareError) as info:
        mt.compare("iris", **kwargs)
    assert message in str(info.value)


def test_cli_compare_conventions(tmp_path):
    out = tmp_path / "cmp"
    result = invoke("compare", "-d", "iris", "-o", "adam,adam@keras", "--lr",
                    "adam@keras=0.02,0.01", "-e", 3, "--hidden", "8", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    with open(out / "summary.csv") as f:
        rows = {r["optimizer"]: r for r in csv.DictReader(f)}
    assert float(rows["adam"]["lr"]) == 0.01 and float(rows["adam@keras"]["lr"]) == 0.02
    api = mt.compare("iris", ["adam", "adam@keras"], lr={"adam": 0.01, "adam@keras": 0.02},
                     **SMALL)
    want = {r["optimizer"]: r["final_val_loss_mean"] for r in api.summary}
    assert {k: float(v["final_val_loss_mean"]) for k, v in rows.items()} == \
        pytest.approx(want, rel=1e-12)
    help_text = invoke("compare", "--help").output
    assert "--convention" in help_text and "adam@keras" in help_text


# ----------------------------------------------------------------------- schedules side by side
def test_schedules_side_by_side_in_one_comparison(minitrain_cache):
    result = mt.compare("iris", ["sgd/onecycle", "sgd/constant",
                                 "sgd/cosine:min_lr=0.001,warmup_steps=2"], **SMALL)
    labels = {row["optimizer"] for row in result.summary}
    assert labels == {"sgd/onecycle", "sgd/constant", "sgd/cosine:min_lr=0.001,warmup_steps=2"}
    by_label = dict(zip(result.run_labels, result.results))
    steps_per_epoch = by_label["sgd/constant"]["history"][0]["step"]
    total = 3 * steps_per_epoch
    lr = mt.optim.default_lr("sgd") if hasattr(mt.optim, "default_lr") else 0.1
    one = mt.schedules.get("onecycle", max_lr=lr, total_steps=total)
    cos = mt.schedules.get("cosine", lr=lr, total_steps=total, min_lr=0.001, warmup_steps=2)
    for label, sched in (("sgd/onecycle", one), ("sgd/cosine:min_lr=0.001,warmup_steps=2", cos)):
        # the history's lr is the lr of each epoch's last step, straight from the schedule
        got = [row["lr"] for row in by_label[label]["history"]]
        want = [sched.lr(row["step"] - 1) for row in by_label[label]["history"]]
        assert got == pytest.approx(want, rel=1e-12)
    assert {row["lr"] for row in by_label["sgd/constant"]["history"]} == {lr}
    assert result.table().splitlines()[-1].startswith("verdict: ")


def test_compare_cli_schedule_specs_and_verdict(tmp_path, minitrain_cache):
    result = invoke("compare", "-d", "iris", "-o", "nesterov/onecycle,nesterov",
                    "--lr", "nesterov/onecycle=0.1", "--epochs", 3, "--hidden", 8, "--quiet",
                    "--out", tmp_path / "c")
    assert result.exit_code == 0, result.output
    assert "nesterov/onecycle" in result.output and "verdict: " in result.output
    with open(tmp_path / "c" / "summary.csv") as f:
        rows = {r["optimizer"]: r for r in csv.DictReader(f)}
    assert float(rows["nesterov/onecycle"]["lr"]) == 0.1
    bad = invoke("compare", "-d", "iris", "-o", "nesterov/nope", "--out", tmp_path / "d")
    assert bad.exit_code == 2 and "nope" in bad.output
