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
    assert all(name.startswith(".tmp-") for name in leftovers)   # only orphaned temp files


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
    child = subprocess.Popen([sys.executable, "-m", "minitrain", *args, "--out", str(out)],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    time.sleep(3.0)
    child.send_signal(signum)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "Interrupted" in err and "Traceback" not in err
    assert keep.read_text() == "written before\n"
