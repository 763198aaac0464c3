"""Runs you can trust: the nine classes of hostile or unlucky input (issue "Runs you can
trust"), each case asserting the exit code, one clear line, no traceback, and that every
file that existed before is byte-identical afterwards (unless the case says otherwise).

1 resume checks it continues the same run      6 hand-edited config files
2 one run per folder                           7 exit codes and signals
3 user files are never overwritten or deleted  8 sizes refused before allocating
4 checkpoints are untrusted input              9 Dask workers that die
5 numbers: NaN, inf, out of range, tiny scales
"""
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from minitrain import checkpoint as ckpt
from minitrain import files
from minitrain.cli import cli
from minitrain.experiments import runs

GOOD = "a,b,label\n" + "".join(f"{i % 7},{(i * 3) % 5},{'xy'[i % 2]}\n" for i in range(40))
OTHER = "a,b,label\n" + "".join(f"{(i * 5) % 7},{i % 5},{'xy'[(i // 2) % 2]}\n"
                                for i in range(40))


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A finished one-epoch run on a small CSV (copied by every test that changes it)."""
    root = tmp_path_factory.mktemp("trust")
    os.environ["MINITRAIN_CACHE"] = str(root / ".cache")
    (root / "good.csv").write_text(GOOD)
    result = CliRunner().invoke(cli, ["fit", "--data", str(root / "good.csv"), "--target",
                                      "label", "--epochs", "1", "--hidden", "8", "--quiet",
                                      "--out", str(root / "run")])
    assert result.exit_code == 0, result.output
    yield root
    os.environ.pop("MINITRAIN_CACHE", None)


@pytest.fixture
def ws(base, tmp_path):
    """A workspace of one's own: the CSV and a copy of the finished run."""
    shutil.copy(base / "good.csv", tmp_path / "good.csv")
    shutil.copytree(base / "run", tmp_path / "run")
    config = (tmp_path / "run" / "config.toml").read_text()
    (tmp_path / "run" / "config.toml").write_text(
        config.replace(str(base / "good.csv"), str(tmp_path / "good.csv")))
    state = ckpt.load(tmp_path / "run" / "model.npz")      # the copy points at its own CSV
    state["extra"]["config"]["data"] = str(tmp_path / "good.csv")
    ckpt.save(tmp_path / "run" / "model.npz", state)
    return tmp_path


def snapshot(root):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in Path(root).rglob("*") if p.is_file() and ".cache" not in p.parts}


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def check(result, code, message):
    """Exit code, the message, one line, no traceback."""
    out = result.output
    assert result.exit_code == code, out
    assert message in out, out
    assert "Traceback" not in out
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    if code == 1:
        assert len([line for line in out.splitlines() if line.startswith("Error:")]) == 1, out
    elif code == 2:
        assert "Usage:" in out


def unchanged(ws, before, but=()):
    after = snapshot(ws)
    changed = [str(p) for p, d in before.items() if after.get(p) != d and p.name not in but]
    assert not changed, f"files changed: {changed}"


def edit_checkpoint(path, change):
    state = ckpt.load(path)
    change(state)
    ckpt.save(path, state)


def edit_config(path, old, new):
    text = path.read_text()
    assert old in text, text
    path.write_text(text.replace(old, new))


# ---------------------------------------------------------------- 1 resume identity
@pytest.mark.parametrize("old, new, what", [
    ("seed = 0", "seed = 5", "seed changed"),
    ("hidden = [8]", "hidden = [4]", "hidden changed"),
    ('optimizer = "nadam"', 'optimizer = "adam"', "optimizer changed"),
    ("batch_size = 32", "batch_size = 16", "batch_size changed"),
    ('activation = "relu"', 'activation = "tanh"', "activation changed"),
    ("val_split = 0.2", "val_split = 0.3", "val_split changed"),
    ('target = "label"', 'target = "b"', "target changed"),
])
def test_resume_refuses_a_changed_config(ws, old, new, what):
    edit_config(ws / "run" / "config.toml", old, new)
    before = snapshot(ws)
    check(run("fit", "--resume", ws / "run", "--epochs", 3, "--quiet"), 1, what)
    unchanged(ws, before)


def test_resume_refuses_other_data_of_the_same_size(ws):
    (ws / "good.csv").write_text(OTHER)                  # same rows and columns, new values
    before = snapshot(ws)
    check(run("fit", "--resume", ws / "run", "--epochs", 3, "--quiet"), 1,
          "differ from the data this run was trained on")
    unchanged(ws, before)


def test_resume_refuses_another_dataset(ws):
    config = ws / "run" / "config.toml"
    text = config.read_text()
    lines = [ln for ln in text.splitlines() if not ln.startswith(("data =", "target ="))]
    config.write_text("\n".join(['dataset = "moons"'] + lines) + "\n")
    before = snapshot(ws)
    check(run("fit", "--resume", ws / "run", "--epochs", 3, "--quiet"), 1, "changed since")
    unchanged(ws, before)


def test_resume_continues_and_rewrites_config_toml(ws):
    result = run("fit", "--resume", ws / "run", "--epochs", 3, "--quiet")
    assert result.exit_code == 0, result.output
    assert "epochs = 3" in (ws / "run" / "config.toml").read_text()
    assert len((ws / "run" / "history.csv").read_text().splitlines()) == 4


def test_resume_with_the_saved_options_repeated_is_accepted(ws):
    result = run("fit", "--resume", ws / "run", "--epochs", 2, "--hidden", "8",
                 "--optimizer", "nadam", "--quiet")
    assert result.exit_code == 0, result.output
    check(run("fit", "--resume", ws / "run", "--epochs", 3, "--hidden", "16", "--quiet"), 2,
          "--hidden [16] (the run has [8])")


def test_resume_of_a_finished_run_says_so(ws):
    before = snapshot(ws)
    check(run("fit", "--resume", ws / "run", "--epochs", 1, "--quiet"), 1,
          "already trained 1 epochs")
    unchanged(ws, before)


def test_fit_run_api_refuses_the_wrong_run(ws):
    cfg = runs.resolve(runs.read_toml(ws / "run" / "config.toml"))
    cfg["seed"] = 3
    with pytest.raises(runs.RunError, match="seed changed"):
        runs.fit_run(cfg, ws / "run", resume=True, progress=False)


# ---------------------------------------------------------------- 2 one run per folder
DIVERGES = ["-o", "sgd", "--lr", "1e30", "--batch-size", "4", "--hidden", "64,64"]

def test_a_locked_folder_is_refused(ws):
    before = snapshot(ws)
    with files.FolderLock(ws / "run"):
        check(run("fit", "--resume", ws / "run", "--epochs", 3, "--quiet"), 1,
              "being written by another minitrain process")
        check(run("fit", "--data", ws / "good.csv", "--target", "label", "--force", "--quiet",
                  "--out", ws / "run"), 1, "being written by another")
    unchanged(ws, before)


def test_force_keeps_the_old_run_when_the_new_one_fails_in_epoch_1(ws):
    before = snapshot(ws)
    check(run("fit", "--data", ws / "good.csv", "--target", "label", *DIVERGES, "--force",
              "--quiet", "--out", ws / "run"), 1, "training diverged at epoch 1")
    unchanged(ws, before)
    assert not [p for p in (ws / "run").iterdir() if p.name.startswith(".previous")]


def test_force_replaces_the_whole_run(ws):
    old = snapshot(ws / "run")
    result = run("fit", "--data", ws / "good.csv", "--target", "label", "--epochs", 2,
                 "--hidden", "4", "--force", "--quiet", "--out", ws / "run")
    assert result.exit_code == 0, result.output
    new = snapshot(ws / "run")
    for name in ("config.toml", "model.npz", "history.csv", "summary.json"):
        assert new[ws / "run" / name] != old[ws / "run" / name]          # none left over
    saved = runs.load_run(ws / "run")
    assert saved.model.layer_sizes == [2, 4, 2] and "hidden = [4]" in \
        (ws / "run" / "config.toml").read_text()


def test_a_failed_fit_leaves_no_folder(ws):
    for args in (DIVERGES,                                              # in epoch 1
                 ["--target", "nope"]):                                 # bad data
        out = ws / "new"
        result = run("fit", "--data", ws / "good.csv", "--target", "label", *args, "--quiet",
                     "--out", out)
        assert result.exit_code == 1, result.output
        assert not out.exists()


def test_a_folder_with_user_files_needs_force_and_keeps_them(ws):
    out = ws / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes\n")
    before = snapshot(ws)
    check(run("fit", "--data", ws / "good.csv", "--target", "label", "--quiet", "--out", out),
          1, "holds files minitrain did not write")
    unchanged(ws, before)
    result = run("fit", "--data", ws / "good.csv", "--target", "label", "--quiet", "--force",
                 "--out", out)
    assert result.exit_code == 0, result.output
    assert (out / "notes.txt").read_text() == "my notes\n"


@pytest.mark.slow
def test_two_fits_into_one_folder_at_once(ws):
    out = ws / "race"
    cmd = [sys.executable, "-m", "minitrain", "fit", "-d", "digits", "--epochs", "3",
           "--quiet", "--out", str(out)]
    env = {**os.environ, "MINITRAIN_CACHE": str(ws / ".cache")}
    procs = [subprocess.Popen(cmd + ["--seed", str(i)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1], results
    loser = next(err for code, err in results if code == 1)
    assert "Traceback" not in loser and ("already exists" in loser or "being written" in loser)
    saved = runs.load_run(out)                   # config and model are of the same run
    seed = runs.read_toml(out / "config.toml")["seed"]
    assert saved.extra["config"]["seed"] == seed


# ---------------------------------------------------------------- 3 user files
@pytest.mark.parametrize("command, name", [
    (["compare", "-d", "moons", "-o", "sgd", "--epochs", "1"], "curves.csv"),
    (["lr-find", "-d", "moons", "--steps", "5"], "lr_find.png"),
    (["sweep", "{grid}"], "summary.csv"),
])
def test_output_folders_with_user_files_are_refused(ws, command, name):
    (ws / "grid.toml").write_text('dataset = "moons"\nepochs = 1\noptimizer = ["sgd"]\n')
    out = ws / "out"
    out.mkdir()
    (out / name).write_text("the user's own file\n")
    before = snapshot(ws)
    args = [a.replace("{grid}", str(ws / "grid.toml")) for a in command]
    check(run(*args, "--out", out), 1, "minitrain did not write")
    unchanged(ws, before)


def test_compare_with_force_keeps_other_user_files(ws):
    out = ws / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    result = run("compare", "-d", "moons", "-o", "sgd", "--epochs", "1", "--force", "--quiet",
                 "--out", out)
    assert result.exit_code == 0, result.output
    assert (out / "notes.txt").read_text() == "mine\n" and (out / "summary.csv").exists()


def test_predict_never_touches_a_file_named_like_its_temp(ws):
    (ws / "p.csv.tmp").write_text("keep me\n")
    before = snapshot(ws)
    result = run("predict", "--run", ws / "run", "--data", ws / "good.csv", "--out",
                 ws / "p.csv")
    assert result.exit_code == 0, result.output
    unchanged(ws, before)
    assert len((ws / "p.csv").read_text().splitlines()) == 41
    assert not [p for p in ws.iterdir() if p.name.startswith(".p.csv")]


def test_an_interrupted_write_leaves_no_temp_file(tmp_path):
    target = tmp_path / "x.csv"
    target.write_text("old\n")

    def writer(f):
        f.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        files.write_atomic(target, writer=writer)
    assert [p.name for p in tmp_path.iterdir()] == ["x.csv"]
    assert target.read_text() == "old\n"


def test_a_full_disk_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "x.csv"
    target.write_text("old\n")

    def writer(f):
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        files.write_atomic(target, writer=writer)
    assert [p.name for p in tmp_path.iterdir()] == ["x.csv"]
    assert target.read_text() == "old\n"


# ---------------------------------------------------------------- 4 checkpoints
def _add_member(path, name, data, compress=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "a", compression=compress) as z:
        z.writestr(name, data)


def _set(keys, value):
    def change(state):
        d = state
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value
    return change


def _drop(keys):
    def change(state):
        d = state
        for k in keys[:-1]:
            d = d[k]
        del d[keys[-1]]
    return change


CHECKPOINT_CASES = [
    ("nan params", _set(["model", "params"], np.full(42, np.nan, np.float32)),
     "model.params must be finite"),
    ("params too short", _set(["model", "params"], np.zeros(3, np.float32)),
     "model.params must be a 1-D array of 42"),
    ("params as ints", _set(["model", "params"], np.zeros(42, np.int64)),
     "model.params must be finite floating-point"),
    ("no model config", _drop(["model", "config"]), "model.config is missing"),
    ("huge layer", _set(["model", "config", "layer_sizes"], [2, 10**7, 2]), "layer_sizes"),
    ("layer as text", _set(["model", "config", "layer_sizes"], [2, "8", 2]), "layer_sizes"),
    ("short class list", _set(["extra", "classes"], ["x"]), "extra.classes"),
    ("no scaler", _drop(["extra", "scaler"]), "extra.scaler"),
    ("bad scaler", _set(["extra", "scaler"], {"mean": [0.0, 0.0], "scale": [1.0, -1.0]}),
     "extra.scaler"),
    ("features", _set(["extra", "feature_names"], ["a"]), "extra.feature_names"),
    ("task", _set(["extra", "task"], "ranking"), "extra.task"),
    ("no extra", _drop(["extra"]), "extra is missing"),
]


@pytest.mark.parametrize("name, change, message", CHECKPOINT_CASES,
                         ids=[c[0] for c in CHECKPOINT_CASES])
@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_a_bad_checkpoint_field_is_named(ws, command, name, change, message):
    edit_checkpoint(ws / "run" / "model.npz", change)
    before = snapshot(ws)
    args = ["--run", ws / "run"] + (["--data", ws / "good.csv", "--out", ws / "p.csv"]
                                    if command == "predict" else [])
    check(run(command, *args), 1, message)
    unchanged(ws, before)
    assert not (ws / "p.csv").exists()


@pytest.mark.parametrize("field, value, message", [
    ("epoch", "ten", "trainer.run.epoch must be an integer"),
    ("batch", 10**6, "trainer.run.batch must be <="),
    ("loss_sum", float("nan"), "trainer.run.loss_sum must be a finite number"),
    ("step", -1, "trainer.run.step must be an integer >= 0"),
])
def test_a_bad_trainer_counter_is_refused_on_resume(ws, field, value, message):
    edit_checkpoint(ws / "run" / "model.npz", _set(["trainer", "run", field], value))
    before = snapshot(ws)
    check(run("fit", "--resume", ws / "run", "--epochs", 3, "--quiet"), 1, message)
    unchanged(ws, before)


def test_a_zip_bomb_member_is_refused_before_reading(ws):
    path = ws / "run" / "model.npz"
    _add_member(path, "zeros.npy", b"\0" * (64 * 2**20), zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 2**20
    check(run("evaluate", "--run", ws / "run"), 1, "would expand to")


def test_an_unknown_member_is_refused(ws):
    _add_member(ws / "run" / "model.npz", "extra.npy", b"\x93NUMPY")
    check(run("evaluate", ws / "run"), 1, "unknown member(s) extra")


def test_metadata_that_is_not_json_is_refused(ws):
    path = ws / "run" / "model.npz"
    np.savez(path, __meta__=np.array("{not json"))
    check(run("evaluate", "--run", ws / "run"), 1, "corrupt metadata")


# ---------------------------------------------------------------- 5 numbers
@pytest.mark.parametrize("args", [
    ["fit", "-d", "moons", "--eps", "inf"],
    ["fit", "-d", "moons", "--lr", "nan"],
    ["fit", "-d", "moons", "--lr", "inf"],
    ["fit", "-d", "moons", "-o", "momentum", "--momentum", "nan"],
    ["fit", "-d", "moons", "--min-delta", "inf"],
    ["fit", "-d", "moons", "--noise", "inf"],
    ["fit", "-d", "moons", "--val-split", "nan"],
    ["fit", "-d", "moons", "-s", "cosine", "--min-lr", "nan"],
    ["gradcheck", "--tol", "nan"],
    ["gradcheck", "--eps", "inf"],
    ["paths", "--condition", "nan"],
    ["sweep", "{grid}", "--timeout", "nan"],
    ["lr-find", "-d", "moons", "--end", "inf"],
    ["schedule", "cosine", "--lr", "nan", "--steps", "10"],
    ["compare", "-d", "moons", "--lr", "inf"],
])
def test_nan_and_inf_are_usage_errors(ws, args):
    (ws / "grid.toml").write_text('dataset = "moons"\nepochs = 1\n')
    args = [a.replace("{grid}", str(ws / "grid.toml")) for a in args]
    before = snapshot(ws)
    result = run(*args, *(["--out", ws / "o"] if args[0] in ("fit", "compare", "lr-find",
                                                               "sweep") else []))
    check(result, 2, "finite")
    unchanged(ws, before)
    assert not (ws / "o").exists()


@pytest.mark.parametrize("scale", [1.0, 1e-15])
def test_tiny_feature_scales_train_as_well_as_unit_scale(tmp_path, scale):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    lines = ["a,b,label"] + [f"{float(a) * scale!r},{float(b) * scale!r},{c}" for (a, b), c in zip(X, y)]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    result = run("fit", "--data", tmp_path / "d.csv", "--target", "label", "--epochs", 20,
                 "--quiet", "--json", "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    import json
    assert json.loads(result.output.splitlines()[-1])["val"]["accuracy"] > 0.9


def test_a_tiny_regression_target_gives_a_sane_r2(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    t = (X[:, 0] - 0.5 * X[:, 1]) * 1e-17
    lines = ["a,b,t"] + [f"{float(a)!r},{float(b)!r},{float(v)!r}" for (a, b), v in zip(X, t)]
    (tmp_path / "r.csv").write_text("\n".join(lines) + "\n")
    result = run("fit", "--data", tmp_path / "r.csv", "--target", "t", "--task", "regression",
                 "--epochs", 30, "--quiet", "--json", "--out", tmp_path / "o")
    assert result.exit_code == 0, result.output
    import json
    r2 = json.loads(result.output.splitlines()[-1])["val"]["r2"]
    assert 0.8 < r2 <= 1.0


# ---------------------------------------------------------------- 6 hand-edited config
@pytest.mark.parametrize("old, new, message", [
    ("batch_size = 32", "batch_size = 0", "batch_size must be in [1,"),
    ("hidden = [8]", "hidden = 5", "hidden must be a non-empty list"),
    ("hidden = [8]", "hidden = [0]", "hidden sizes must be in [1,"),
    ("epochs = 1", 'epochs = "ten"', "epochs must be an integer"),
    ('optimizer = "nadam"', 'optimizer = "nope"', "optimizer must be one of"),
    ("lr = 0.002", "lr = -1.0", "lr must be in (0"),
    ("lr = 0.002", "lr = nan", "lr must be a finite number"),
    ("lr = 0.002", "lr = inf", "lr must be a finite number"),
    ('activation = "relu"', 'activation = "nope"', "activation must be one of"),
    ("val_split = 0.2", "val_split = 1.5", "val_split must be in"),
    ("seed = 0", "seed = -3", "seed must be in [0,"),
    ("seed = 0", "colour = 3", "unknown option(s): colour"),
    ('dtype = "float32"', 'dtype = "float16"', "dtype must be one of"),
    ("seed = 0", 'seed = 0\nschedule = "nope"', "schedule must be one of"),
    ("[schedule_params]", "[schedule_params]\nmin_lr = 0.0", "need a schedule"),
    ("epochs = 1", "epochs = 1\nbeta1 = 0.9\noptimizer_x = 1", "unknown option(s)"),
])
def test_a_hand_edited_config_is_named_on_resume(ws, old, new, message):
    edit_config(ws / "run" / "config.toml", old, new)
    before = snapshot(ws)
    result = run("fit", "--resume", ws / "run", "--epochs", 3, "--quiet")
    check(result, 1, message)
    assert "config.toml" in result.output
    unchanged(ws, before)


def test_config_files_that_are_not_toml_or_too_big(ws):
    config = ws / "run" / "config.toml"
    config.write_text('dataset = "moons\n')
    check(run("fit", "--resume", ws / "run", "--epochs", 3), 1, "not valid TOML")
    config.write_text("# " + "x" * (2**20 + 10) + "\n")
    check(run("fit", "--resume", ws / "run", "--epochs", 3), 1, "larger than")
    config.unlink()
    check(run("fit", "--resume", ws / "run", "--epochs", 3), 1, "no such file")


def test_a_config_file_with_nan_is_refused(tmp_path):
    (tmp_path / "c.toml").write_text('dataset = "moons"\nlr = nan\n')
    check(run("fit", "--config", tmp_path / "c.toml", "--out", tmp_path / "o"), 1, "finite")
    assert not (tmp_path / "o").exists()


def test_a_grid_with_nan_is_refused(tmp_path):
    (tmp_path / "g.toml").write_text('dataset = "moons"\nlr = [0.1, nan]\n')
    check(run("sweep", tmp_path / "g.toml", "--out", tmp_path / "o"), 1, "finite")
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- 7 exit codes
@pytest.mark.parametrize("args, message", [
    (["fit", "--data", "{ws}/ragged.csv"], "row 3 has 2 fields"),
    (["compare", "--data", "{ws}/one.csv", "-o", "sgd"], "one class"),
    (["lr-find", "--data", "{ws}/ragged.csv"], "row 3 has 2 fields"),
    (["evaluate", "--run", "{ws}/run", "--data", "{ws}/ragged.csv"], "row 3 has 2 fields"),
    (["predict", "--run", "{ws}/run", "--data", "{ws}/ragged.csv", "--out", "{ws}/p.csv"],
     "row 3 has 2 fields"),
    (["evaluate", "{ws}/nowhere"], "no such run directory"),
])
def test_bad_data_exits_1_without_usage_banner(ws, args, message):
    (ws / "ragged.csv").write_text("a,b,label\n1,2,x\n3,4\n5,6,y\n")
    (ws / "one.csv").write_text("a,b,label\n1,2,x\n3,4,x\n5,6,x\n")
    args = [a.replace("{ws}", str(ws)) for a in args]
    before = snapshot(ws)
    extra = ["--out", str(ws / "o")] if args[0] in ("fit", "compare", "lr-find") else []
    result = run(*args, *extra)
    check(result, 1, message)
    assert "Usage:" not in result.output
    unchanged(ws, before)
    assert not (ws / "o").exists()


def test_evaluate_takes_the_run_as_an_argument(ws):
    result = run("evaluate", ws / "run", "--json")
    assert result.exit_code == 0, result.output
    check(run("evaluate", ws / "run", "--run", ws / "run"), 2, "give the run folder once")


@pytest.mark.slow
def test_a_second_ctrl_c_still_exits_130_with_the_resume_hint(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "MINITRAIN_CACHE": str(tmp_path / "cache")}
    child = subprocess.Popen([sys.executable, "-m", "minitrain", "fit", "-d", "digits",
                              "--epochs", "500", "--out", str(out)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (out / "model.npz").exists() and time.time() < deadline:
        time.sleep(0.02)
    child.send_signal(signal.SIGINT)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "Traceback" not in err and "Aborted" not in err
    assert f"minitrain fit --resume {out}" in err
    ckpt.load(out / "model.npz")                          # intact


# ---------------------------------------------------------------- 8 sizes
@pytest.mark.parametrize("args, message", [
    (["--hidden", "100000,100000"], "parameters"),
    (["--n-samples", "1000000000"], "n_samples must be in"),
    (["--n-samples", "20000000", "--n-features", "100", "-d", "classification"],
     "n_samples x n_features"),
    (["-d", "classification", "--n-samples", "2000", "--hidden", "400000",
      "--batch-size", "2000"], "GiB of activations"),
])
def test_sizes_are_refused_before_allocating(tmp_path, args, message):
    dataset = [] if "-d" in args else ["-d", "moons"]
    result = run("fit", *dataset, *args, "--quiet", "--out", tmp_path / "o")
    check(result, 2, message)
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- 9 Dask
def test_a_run_outside_a_dask_worker_is_refused():
    from minitrain.experiments import sweep
    pytest.importorskip("distributed")
    with pytest.raises(sweep._NoWorkers):
        sweep._on_a_worker({"dataset": "moons"}, 1)


def test_there_are_enough_new_cases():
    import inspect
    n = 0
    for name, obj in globals().items():
        if name.startswith("test_") and callable(obj):
            marks = getattr(obj, "pytestmark", [])
            cases = [len(m.args[1]) for m in marks if m.name == "parametrize"]
            n += int(np.prod(cases)) if cases else 1
    assert n >= 60, n
    assert inspect.getsource(sys.modules[__name__]).count("unchanged(ws, before") >= 15
