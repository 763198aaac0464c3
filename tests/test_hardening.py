"""Signals and kills: a stopped run keeps its files, resumes exactly; checkpoints are atomic."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from minitrain import checkpoint as ckpt

FIT = [sys.executable, "-m", "minitrain", "fit", "-d", "moons", "--n-samples", "500",
       "--batch-size", "1", "--epochs", "40", "--optimizer", "adam", "--quiet", "--json"]


@pytest.mark.slow
def test_sigterm_saves_exits_130_and_resume_is_exact(tmp_path):
    env = {**os.environ, "MINITRAIN_CACHE": str(tmp_path / "cache")}
    run = tmp_path / "run"
    child = subprocess.Popen([*FIT, "--out", str(run)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (run / "model.npz").exists() and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(0.15)                                   # somewhere in a later epoch
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "continue with: minitrain fit --resume" in err
    state = ckpt.load(run / "model.npz")               # intact and loadable
    stopped_at = state["trainer"]["run"]["epoch"]
    assert 1 <= stopped_at < 40
    assert (run / "history.csv").exists() and (run / "config.toml").exists()

    resumed = subprocess.run([sys.executable, "-m", "minitrain", "fit", "--resume", str(run),
                              "--quiet", "--json"], env=env, capture_output=True, text=True,
                             timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    full = subprocess.run([*FIT, "--out", str(tmp_path / "full")], env=env,
                          capture_output=True, text=True, timeout=120)
    sha = lambda p: json.loads(p.stdout.strip().splitlines()[-1])["params_sha256"]  # noqa
    assert sha(resumed) == sha(full)


WRITER = textwrap.dedent("""
    import sys, numpy as np
    from minitrain import checkpoint as ckpt
    path = sys.argv[1]
    i = 0
    print("ready", flush=True)
    while True:
        i += 1
        ckpt.save(path, {"i": i, "params": np.full(400_000, float(i)),
                         "m": np.full(400_000, -float(i))})
""")


@pytest.mark.slow
def test_sigkill_during_checkpoint_writes_never_corrupts(tmp_path):
    path = tmp_path / "ck.npz"
    ckpt.save(path, {"i": 0, "params": np.zeros(400_000), "m": np.zeros(400_000)})
    rng = np.random.default_rng(0)
    for _ in range(8):
        child = subprocess.Popen([sys.executable, "-c", WRITER, str(path)],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "ready"
        time.sleep(float(rng.uniform(0.0, 0.4)))      # a random moment, often mid-write
        child.kill()
        child.wait()
        state = ckpt.load(path)                        # always a complete version
        i = state["i"]
        assert (state["params"] == i).all() and (state["m"] == -i).all()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "ck.npz"]
    assert all(name.startswith(".ck.npz.") and name.endswith(".tmp")   # only orphaned
               for name in leftovers)                                  # temp files (kill -9)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("command", [
    ["compare", "-d", "digits", "-o", "sgd,adam", "--epochs", "20000"],
    ["lr-find", "-d", "digits", "--steps", "1000000", "--end", "1e-3"],
    ["sweep", "{grid}", "--jobs", "1"],
])
def test_experiments_exit_130_on_signals_and_keep_files(command, signum, tmp_path):
    env = {**os.environ, "MINITRAIN_CACHE": str(tmp_path / "cache")}
    grid = tmp_path / "grid.toml"
    grid.write_text('dataset = "digits"\nepochs = 20000\noptimizer = ["sgd", "adam"]\n')
    out = tmp_path / "out"
    out.mkdir()
    keep = out / "keep.txt"
    keep.write_text("written before\n")
    args = [a.replace("{grid}", str(grid)) for a in command]
    # --force: the folder holds a file of the user's, which must survive untouched
    child = subprocess.Popen([sys.executable, "-m", "minitrain", *args, "--out", str(out),
                              "--force"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    time.sleep(3.0)
    child.send_signal(signum)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "Interrupted" in err and "Traceback" not in err
    assert keep.read_text() == "written before\n"


def _fit_csv(tmp_path, name, text, *args):
    from click.testing import CliRunner

    from minitrain.cli import cli
    path = tmp_path / name
    path.write_text(text)
    result = CliRunner().invoke(cli, ["fit", "--data", str(path), "--quiet", "--json",
                                      "--epochs", "3", "--out", str(tmp_path / name[:-4]),
                                      *map(str, args)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


@pytest.mark.parametrize("name, text, args", [
    # one feature; batch larger than the data
    ("one_feature.csv", "x,y\n" + "".join(f"{i},{'ab'[i % 2]}\n" for i in range(30)),
     ["--batch-size", "1000"]),
    # a constant column next to a useful one (standardising must not divide by zero)
    ("constant.csv", "c,x,y\n" + "".join(f"7,{i},{i % 2}\n" for i in range(40)), []),
    # one sample, regression (no validation or test part)
    ("one_row.csv", "x,y\n1.5,2.25\n", ["--task", "regression", "--val-split", "0",
                                       "--test-split", "0"]),
    # string labels with spaces and 100 classes
    ("many_classes.csv", "a,b,label\n" + "".join(
        f"{i % 13},{i % 7},class {i % 100}\n" for i in range(600)), ["--task",
                                                                    "classification"]),
])
def test_extreme_but_valid_csv_inputs_train(name, text, args, tmp_path, monkeypatch):
    monkeypatch.setenv("MINITRAIN_CACHE", str(tmp_path / "cache"))
    summary = _fit_csv(tmp_path, name, text, *args)
    assert summary["epochs"] == 3
    assert np.isfinite(summary["train"]["loss"])
    if name == "one_row.csv":                 # R^2 is undefined for a constant target
        assert np.isnan(summary["train"]["r2"]) and summary["val"] is None
    else:
        assert all(np.isfinite(v) for v in summary["train"].values())


def test_float64_data_into_a_float32_model_and_huge_lr():
    import minitrain as mt
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100_000, 3))                 # float64, 10^5 rows
    y = (X[:, 0] > 0).astype(int)
    model = mt.MLP([3, 8, 2], dtype="float32")
    history = mt.fit(model, mt.optim.get("adam", lr=1e-2), (X, y), epochs=1,
                     batch_size=1000, progress=False)
    assert model.params.dtype == np.float32 and history[0]["train_loss"] < 0.7
    with pytest.raises(mt.train.TrainingDiverged):
        mt.fit(mt.MLP([3, 64, 2], dtype="float32"), mt.optim.get("sgd", lr=1e6),
               (X[:2000] * 100, y[:2000]), epochs=5, progress=False)
