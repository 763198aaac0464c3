"""`minitrain sweep`: grid expansion, hashing, pure runs, resume, failures, loky and Dask."""
import csv
import hashlib
import itertools
import json
import os

import pytest
from click.testing import CliRunner

import minitrain as mt
from minitrain.experiments import runs
from minitrain.cli import cli
from minitrain.experiments.sweep import (SweepError, config_hash, expand,
                             run_config)

# 8 configs: 2 optimizers x 2 lrs x 2 seeds, small and quick
GRID = {"dataset": "iris", "epochs": 3, "hidden": [8], "optimizer": ["adam", "momentum"],
        "lr": [0.01, 0.03], "seed": [0, 1]}
GRID_TOML = """dataset = "iris"
epochs = 3
hidden = [8]
optimizer = ["adam", "momentum"]
lr = [0.01, 0.03]
seed = [0, 1]
"""


pytestmark = pytest.mark.usefixtures("minitrain_cache")


def comparable(result):
    """A run result without what may differ between processes: timings."""
    history = [{k: v for k, v in row.items() if k != "seconds"} for row in result["history"]]
    summary = {k: v for k, v in (result["summary"] or {}).items()
               if k not in ("seconds", "steps_per_second")}
    return {"config": result["config"], "status": result["status"], "error": result["error"],
            "history": history, "summary": summary}


def stored(out):
    return {p.name: json.loads(p.read_text()) for p in sorted(out.glob("*.json"))}


# ----------------------------------------------------------------------- the grid


def test_lists_are_crossed_and_scalars_fixed():
    configs = expand(GRID)
    expected = [runs.resolve({"dataset": "iris", "epochs": 3, "hidden": [8], "optimizer": o,
                              "lr": lr, "seed": s})
                for o, lr, s in itertools.product(["adam", "momentum"], [0.01, 0.03], [0, 1])]
    assert configs == expected


def test_schedule_params_apply_to_the_schedules_that_take_them():
    grid = {"dataset": "iris", "optimizer": "adam", "schedule": ["none", "onecycle", "cosine"],
            "schedule_params": {"pct_start": [0.2, 0.4], "warmup_steps": 5}}
    configs = expand(grid)
    got = [(c["schedule"], c["schedule_params"]) for c in configs]
    assert got == [(None, {}),
                   ("onecycle", {"pct_start": 0.2}), ("onecycle", {"pct_start": 0.4}),
                   ("cosine", {"warmup_steps": 5})]


def test_list_valued_keys_cross_only_lists_of_lists():
    assert [c["hidden"] for c in expand({"dataset": "iris", "hidden": [32, 16]})] == [[32, 16]]
    two = expand({"dataset": "iris", "hidden": [[32], "16,16"]})
    assert [c["hidden"] for c in two] == [[32], [16, 16]]
    pw = expand({"dataset": "iris", "schedule": "piecewise",
                 "schedule_params": {"boundaries": [[10], [20]], "values": [0.1, 0.01]}})
    assert [c["schedule_params"] for c in pw] == [{"boundaries": [10], "values": [0.1, 0.01]},
                                                  {"boundaries": [20], "values": [0.1, 0.01]}]


@pytest.mark.parametrize("grid, message", [
    ({"dataset": "iris", "optimiser": "adam"}, "unknown key(s) optimiser"),
    ({"dataset": "iris", "optimizer": ["adam", "lbfgs"]}, "unknown optimizer 'lbfgs'"),
    ({"dataset": "iris", "schedule": "no_such_schedule"}, "unknown schedule 'no_such_schedule'"),
    ({"dataset": "iris", "schedule": "cosine", "schedule_params": {"pct_start": 0.3}},
     "pct_start are taken by no schedule of the grid"),
    ({"dataset": "iris", "lr": []}, "lr is an empty list"),
    ({"optimizer": "adam"}, "give exactly one of dataset"),
])
def test_bad_grids_say_what_is_wrong(grid, message):
    with pytest.raises(SweepError, match=None) as info:
        expand(grid)
    assert message in str(info.value)


def test_config_hash_is_sha256_of_canonical_json_and_ints_equal_floats():
    cfg = expand({"dataset": "iris", "lr": 1})[0]
    assert cfg["lr"] == 1.0 and isinstance(cfg["lr"], float)
    text = json.dumps(cfg, sort_keys=True, separators=(",", ":"))
    assert config_hash(cfg) == hashlib.sha256(text.encode()).hexdigest()[:16]
    assert config_hash(cfg) == config_hash(expand({"dataset": "iris", "lr": 1.0})[0])
    assert config_hash(cfg) != config_hash(expand({"dataset": "iris", "lr": 1.0,
                                                   "seed": 1})[0])


# ----------------------------------------------------------------------- runs


def test_run_config_is_the_trainer_run_by_hand():
    cfg = expand({"dataset": "iris", "epochs": 2, "hidden": [8], "optimizer": "adam",
                  "schedule": "cosine"})[0]
    result = run_config(cfg)
    # the same run written out with the library pieces
    train, val, test, scaler, target_scaler, ds = runs.load_data(cfg)
    model = mt.MLP([4, 8, 3], seed=cfg["seed"])             # written out by hand
    optimizer = mt.optim.get("adam", lr=cfg["lr"])
    steps = 2 * -(-len(train) // cfg["batch_size"])
    schedule = mt.schedules.get("cosine", lr=cfg["lr"], total_steps=steps)
    history = mt.fit(model, optimizer, runs.arrays(train, scaler, target_scaler),
                     runs.arrays(val, scaler, target_scaler), epochs=2, schedule=schedule,
                     seed=cfg["seed"], progress=False)
    assert result["status"] == "ok" and result["error"] is None
    assert comparable(result)["history"] == [{k: v for k, v in r.items() if k != "seconds"}
                                             for r in history.rows]
    s = result["summary"]
    assert s["params_sha256"] == mt.train.params_sha256(model.params)
    assert s["test_loss"] == runs.metrics(model, test, scaler, target_scaler)["loss"]
    losses = [r["val_loss"] for r in history.rows]
    assert s["best_val_loss"] == min(losses) and s["best_epoch"] == losses.index(min(losses)) + 1
    assert result["threads"] == {"numba": 1, "blas": 1}


def test_eight_configs_on_two_workers_equal_one_by_one(tmp_path):
    configs = expand(GRID)
    assert len(configs) == 8
    serial = {config_hash(c): comparable(run_config(c)) for c in configs}
    result = mt.sweep(GRID, tmp_path, jobs=2, progress=False)
    assert result.ran == 8 and result.skipped == 0 and not result.failed
    files = stored(tmp_path)
    assert set(files) == {f"{h}.json" for h in serial}
    for h, expected in serial.items():
        assert comparable(files[f"{h}.json"]) == expected
        assert files[f"{h}.json"]["threads"] == {"numba": 1, "blas": 1}


def test_a_second_invocation_skips_finished_configs(tmp_path):
    first = mt.sweep(GRID, tmp_path, jobs=1, progress=False)
    assert first.ran == 8
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.json")}
    again = mt.sweep(GRID, tmp_path, jobs=2, progress=False)
    assert (again.ran, again.skipped) == (0, 8)
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.json")} == before
    assert [r["hash"] for r in again.results] == [config_hash(c) for c in again.configs]
    # an interrupted sweep: one result missing -> only that config runs
    victim = sorted(before)[3]
    (tmp_path / victim).unlink()
    resumed = mt.sweep(GRID, tmp_path, jobs=1, progress=False)
    assert (resumed.ran, resumed.skipped) == (1, 7)
    assert (tmp_path / victim).exists()


def test_a_failing_config_is_recorded_and_the_others_finish(tmp_path):
    grid = {"dataset": "iris", "epochs": 2, "hidden": [8], "optimizer": "adam",
            "loss": ["softmax_crossentropy", "mse"], "seed": [0, 1]}
    result = mt.sweep(grid, tmp_path, jobs=2, progress=False)
    statuses = {(r["config"]["loss"], r["config"]["seed"]): r["status"] for r in result.results}
    assert statuses == {("softmax_crossentropy", 0): "ok", ("softmax_crossentropy", 1): "ok",
                        ("mse", 0): "failed", ("mse", 1): "failed"}
    bad = [r for r in stored(tmp_path).values() if r["status"] == "failed"]
    assert len(bad) == 2 and all("loss mse needs a regression target" in r["error"]
                                 for r in bad)
    with open(tmp_path / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["status"] for r in rows] == ["ok", "ok", "failed", "failed"]
    assert rows[2]["error"].startswith("OptionError: loss mse needs") and rows[0]["error"] == ""
    # failed configs run again next time; finished ones do not
    again = mt.sweep(grid, tmp_path, jobs=1, progress=False)
    assert (again.ran, again.skipped, len(again.failed)) == (2, 2, 2)


def test_divergence_is_a_result_not_a_failure(tmp_path):
    grid = {"dataset": "iris", "epochs": 3, "hidden": [8], "optimizer": "sgd",
            "lr": [0.05, 1e6]}
    result = mt.sweep(grid, tmp_path, jobs=1, progress=False)
    ok, diverged = result.results
    assert ok["status"] == "ok" and diverged["status"] == "diverged"
    assert "diverged" in diverged["error"] and not result.failed
    assert mt.sweep(grid, tmp_path, progress=False).ran == 0     # a finished result


def test_summary_and_curves_csv_merge_all_runs(tmp_path):
    result = mt.sweep(GRID, tmp_path, jobs=1, progress=False)
    with open(tmp_path / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["hash"] for r in rows] == [config_hash(c) for c in result.configs]
    for row, res in zip(rows, result.results):
        assert row["optimizer"] == res["config"]["optimizer"]
        assert float(row["val_loss"]) == res["history"][-1]["val_loss"]
        assert row["params_sha256"] == res["summary"]["params_sha256"]
    with open(tmp_path / "curves.csv") as f:
        curves = list(csv.DictReader(f))
    assert len(curves) == 8 * 3
    first = result.results[0]["history"][0]
    assert float(curves[0]["train_loss"]) == first["train_loss"]


def test_mt_sweep_stays_the_function_after_importing_the_module(tmp_path):
    import importlib
    importlib.import_module("minitrain.experiments.sweep")
    assert mt.sweep is importlib.import_module("minitrain.experiments.sweep").sweep
    assert mt.sweep(GRID, tmp_path, dry_run=True).ran == 0


# ----------------------------------------------------------------------- CLI


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def grid_file(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(GRID_TOML)
    return path


def test_cli_dry_run_lists_the_configs(grid_file, tmp_path):
    result = invoke("sweep", grid_file, "--out", tmp_path / "out", "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("8 configs") and "0 finished" in lines[0]
    assert lines[1].split()[:2] == ["hash", "status"]
    assert sorted(lines[1].split()[2:]) == ["lr", "optimizer", "seed"]
    assert len(lines) == 2 + 8 and all(" todo " in line for line in lines[2:])
    assert not (tmp_path / "out").exists()


def test_cli_runs_resumes_and_reports_progress(grid_file, tmp_path):
    out = tmp_path / "out"
    result = invoke("sweep", grid_file, "--out", out, "--jobs", 2)
    assert result.exit_code == 0, result.output
    assert "sweep 8/8 runs done" in result.stderr and "ETA" in result.stderr
    assert "8 configs: 8 run now, 0 already finished" in result.stdout
    assert len(list(out.glob("*.json"))) == 8 and (out / "summary.csv").exists()
    again = invoke("sweep", grid_file, "--out", out, "--quiet")
    assert again.exit_code == 0 and "0 run now, 8 already finished" in again.stdout
    assert again.stderr == ""
    dry = invoke("sweep", grid_file, "--out", out, "--dry-run")
    assert "8 finished" in dry.output and " todo " not in dry.output


def test_cli_exit_code_1_when_a_config_failed(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text('dataset = "iris"\nepochs = 1\nhidden = [4]\n'
                    'loss = ["softmax_crossentropy", "mse"]\n')
    result = invoke("sweep", grid, "--out", tmp_path / "out", "-q")
    assert result.exit_code == 1
    assert "Error: 1 of 2 configs failed" in result.output and "Traceback" not in result.output
    assert len(list((tmp_path / "out").glob("*.json"))) == 2


@pytest.mark.parametrize("text, message", [
    ('dataset = "iris"\noptimiser = "adam"\n', "unknown key(s) optimiser"),
    ('dataset = "iris\n', "not valid TOML"),
])
def test_cli_bad_grid_files_exit_1(tmp_path, text, message):
    grid = tmp_path / "grid.toml"
    grid.write_text(text)
    result = invoke("sweep", grid, "--out", tmp_path / "out")
    assert result.exit_code == 1 and message in result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output


def test_cli_missing_grid_and_unreachable_scheduler(tmp_path, grid_file):
    result = invoke("sweep", tmp_path / "nope.toml")
    assert result.exit_code == 1 and "no such file" in result.output
    result = invoke("sweep", grid_file, "--out", tmp_path / "o", "--address",
                    "tcp://127.0.0.1:9", "--timeout", 1)
    assert result.exit_code == 1
    assert "cannot connect to the Dask scheduler at tcp://127.0.0.1:9" in result.output


# ----------------------------------------------------------------------- Dask


@pytest.mark.slow
def test_sweep_on_a_real_dask_cluster_equals_local(tmp_path, grid_file):
    distributed = pytest.importorskip("distributed")
    local = mt.sweep(GRID, tmp_path / "local", jobs=1, progress=False)
    cluster = distributed.LocalCluster(n_workers=2, processes=True, host="127.0.0.1",
                                       threads_per_worker=1, dashboard_address=None,
                                       worker_class=distributed.Nanny)
    try:
        with distributed.Client(cluster, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
            # workers run with the test's environment (the dataset cache)
            assert all(v == os.environ["MINITRAIN_CACHE"] for v in client.run(
                lambda: os.environ.get("MINITRAIN_CACHE")).values())
            result = invoke("sweep", grid_file, "--out", tmp_path / "dask", "--address",
                            cluster.scheduler_address, "--timeout", 60)
            workers = {r["threads"]["numba"] for r in stored(tmp_path / "dask").values()}
    finally:
        cluster.close()
    assert result.exit_code == 0, result.output
    assert "8 run now" in result.stdout
    remote = stored(tmp_path / "dask")
    assert set(remote) == set(stored(tmp_path / "local"))
    for name, res in stored(tmp_path / "local").items():
        assert comparable(remote[name]) == comparable(res)
    assert workers == {1}
    assert local.ran == 8


def test_the_example_grid_expands_as_its_comments_say():
    from pathlib import Path

    from minitrain.experiments.sweep import load_grid
    path = Path(__file__).parent.parent / "scripts" / "grid_example.toml"
    configs = expand(load_grid(path))
    assert len(configs) == 3 * 2 * 3 * 2
    params = {c["schedule"]: c["schedule_params"] for c in configs}
    assert params == {None: {}, "onecycle": {"pct_start": 0.25},
                      "cosine": {"warmup_steps": 50}}


def test_cli_interrupted_sweep_keeps_finished_runs_and_resumes(grid_file, tmp_path,
                                                               monkeypatch):
    import importlib

    from minitrain.train import Interrupted
    sweep_module = importlib.import_module("minitrain.experiments.sweep")
    real, calls = sweep_module.run_config, []

    def stopped_on_the_third(cfg, threads=1):        # as fit does on Ctrl-C
        calls.append(cfg)
        if len(calls) == 3:
            raise Interrupted(1, 2, None)
        return real(cfg, threads)

    monkeypatch.setattr(sweep_module, "run_config", stopped_on_the_third)
    out = tmp_path / "out"
    result = invoke("sweep", grid_file, "--out", out, "--jobs", 1, "-q")
    assert result.exit_code == 130 and "run the same command again to resume" in result.stderr
    assert len(list(out.glob("*.json"))) == 2 and (out / "summary.csv").exists()
    monkeypatch.setattr(sweep_module, "run_config", real)
    again = invoke("sweep", grid_file, "--out", out, "--jobs", 1, "-q")
    assert again.exit_code == 0 and "6 run now, 2 already finished" in again.stdout
