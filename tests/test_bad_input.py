"""Bad input across every command: exit code, one clear message, no existing file changed.

Each case runs in a workspace holding a finished run, good and bad CSV files, configs
and sweep grids. Before and after the command every existing file is hashed; a case
passes only if none changed, the exit code is the documented one (2: a bad option
value, with Click's usage message; 1: bad data or files, one line `Error: ...`) and
there is no traceback.
"""
import hashlib
import os
import pathlib

import numpy as np
import pytest
from click.testing import CliRunner

from minitrain.cli import cli

CSV = {
    "good.csv": "a,b,label\n" + "".join(f"{i % 7},{(i * 3) % 5},{'xy'[i % 2]}\n"
                                        for i in range(40)),
    "ragged.csv": "a,b,label\n1,2,x\n3,4\n5,6,y\n",
    "text_cell.csv": "a,b,label\n1,2,x\n3,abc,y\n5,6,x\n",
    "nan_cell.csv": "a,b,label\n1,2,x\n3,nan,y\n5,6,x\n",
    "header_only.csv": "a,b,label\n",
    "empty.csv": "",
    "one_class.csv": "a,b,label\n1,2,x\n3,4,x\n5,6,x\n",
    "other_columns.csv": "c,d,label\n1,2,x\n3,4,y\n",
    "missing_feature.csv": "a,label\n1,x\n",
}


def _write_npz_with_pickle(path):
    np.savez(path, params=np.array([object()], dtype=object))


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("ws")
    os.environ["MINITRAIN_CACHE"] = str(root / ".cache")
    for name, text in CSV.items():
        (root / name).write_text(text)
    runner = CliRunner()
    result = runner.invoke(cli, ["fit", "--data", str(root / "good.csv"), "--target", "label",
                                 "--epochs", "1", "--quiet", "--out", str(root / "run")])
    assert result.exit_code == 0, result.output
    for name, mutate in [("truncated", lambda p: p.write_bytes(p.read_bytes()[:200])),
                         ("garbage", lambda p: p.write_bytes(b"not a zip file at all")),
                         ("pickled", _write_npz_with_pickle)]:
        bad = root / f"run_{name}"
        bad.mkdir()
        for f in (root / "run").iterdir():
            (bad / f.name).write_bytes(f.read_bytes())
        mutate(bad / "model.npz")
    (root / "preds.csv").write_text("already here\n")
    (root / "unknown_key.toml").write_text('dataset = "moons"\nlearning_rate = 0.1\n')
    (root / "wrong_type.toml").write_text('dataset = "moons"\nepochs = "ten"\n')
    (root / "broken.toml").write_text('dataset = "moons\n')
    (root / "grid_unknown.toml").write_text('dataset = "moons"\noptimizer = ["sgd"]\n'
                                            'colour = ["red"]\n')
    (root / "grid_empty.toml").write_text('dataset = "moons"\noptimizer = []\n')
    (root / "grid_type.toml").write_text('dataset = "moons"\nepochs = ["ten"]\n')
    yield root
    os.environ.pop("MINITRAIN_CACHE", None)


CASES = [
    # fit: options
    ("fit", ["-d", "nope"], 2, "unknown dataset 'nope'"),
    ("fit", ["-d", "moons", "--lr", "-1"], 2, "Invalid value for '--lr'"),
    ("fit", ["-d", "moons", "-o", "sgd", "--beta1", "0.9"], 2, "beta1 is not a hyperparameter"),
    ("fit", ["-d", "moons", "--hidden", "8,0"], 2, "layer sizes must be >= 1"),
    ("fit", ["-d", "moons", "--schedule", "onecycle", "--pct-start", "1.5"], 2, "pct_start"),
    ("fit", ["-d", "moons", "--epochs", "0"], 2, "Invalid value for '--epochs'"),
    # fit: data files
    ("fit", ["--data", "{ws}/ragged.csv"], 1, "row 3 has 2 fields but the header has 3"),
    ("fit", ["--data", "{ws}/text_cell.csv"], 1, "non-numeric value 'abc' in row 3"),
    ("fit", ["--data", "{ws}/nan_cell.csv"], 1, "missing (NaN) value 'nan' in row 3"),
    ("fit", ["--data", "{ws}/header_only.csv"], 1, "header row but no data rows"),
    ("fit", ["--data", "{ws}/empty.csv"], 1, "the file is empty"),
    ("fit", ["--data", "{ws}/one_class.csv"], 1, "one class"),
    ("fit", ["--data", "{ws}/good.csv", "--target", "colour"], 1, "no target column 'colour'"),
    ("fit", ["--data", "{ws}/absent.csv"], 1, "file not found"),
    # fit: run directories, checkpoints and configs
    ("fit", ["--data", "{ws}/good.csv", "--out", "{ws}/run"], 1, "already exists"),
    ("fit", ["--resume", "{ws}/run_truncated"], 1, "not a readable .npz checkpoint"),
    ("fit", ["--resume", "{ws}/run_garbage"], 1, "not a readable .npz checkpoint"),
    ("fit", ["--resume", "{ws}/run_pickled"], 1, "holds pickled objects; refused"),
    ("fit", ["--resume", "{ws}/nowhere"], 1, "no such run directory"),
    ("fit", ["--config", "{ws}/unknown_key.toml"], 1, "unknown key(s) learning_rate"),
    ("fit", ["--config", "{ws}/wrong_type.toml"], 1, "epochs: 'ten' is not a valid integer"),
    ("fit", ["--config", "{ws}/broken.toml"], 1, "not valid TOML"),
    ("fit", ["-d", "moons", "-o", "sgd", "--lr", "1e6", "--hidden", "64",
             "--out", "{ws}/diverged"], 1, "training diverged at epoch 1"),
    # evaluate / predict
    ("evaluate", ["--run", "{ws}/nowhere"], 1, "no such run directory"),
    ("evaluate", ["--run", "{ws}/run_garbage"], 1, "not a readable .npz checkpoint"),
    ("evaluate", ["--run", "{ws}/run", "--data", "{ws}/other_columns.csv"], 1, "differ"),
    ("predict", ["--run", "{ws}/run", "--data", "{ws}/missing_feature.csv", "--out",
                 "{ws}/p.csv"], 1, "missing feature column(s) b"),
    ("predict", ["--run", "{ws}/run", "--data", "{ws}/good.csv", "--out", "{ws}/preds.csv"],
     1, "exists; add --force"),
    ("predict", ["--run", "{ws}/run", "--data", "{ws}/text_cell.csv", "--out", "{ws}/p.csv"],
     1, "non-numeric value 'abc'"),
    ("predict", ["--run", "{ws}/run_pickled", "--data", "{ws}/good.csv", "--out", "{ws}/p.csv"],
     1, "pickled"),
    # compare / lr-find / sweep
    ("compare", ["-d", "moons", "-o", "adam,nope"], 2, "nope"),
    ("compare", ["-d", "moons", "--lr", "adam=abc"], 2, "--lr"),
    ("compare", ["--data", "{ws}/ragged.csv"], 1, "row 3 has 2 fields"),
    ("lr-find", ["-d", "moons", "--start", "1", "--end", "0.1"], 2, "--end"),
    ("lr-find", ["--data", "{ws}/one_class.csv"], 1, "one class"),
    ("sweep", ["{ws}/grid_unknown.toml", "--out", "{ws}/sw"], 1, "colour"),
    ("sweep", ["{ws}/grid_empty.toml", "--out", "{ws}/sw"], 1, "empty"),
    ("sweep", ["{ws}/grid_type.toml", "--out", "{ws}/sw"], 1, "epochs"),
    ("sweep", ["{ws}/absent.toml", "--out", "{ws}/sw"], 1, "absent.toml: no such file"),
    # schedule / gradcheck / paths / explain
    ("schedule", ["nope"], 2, "nope"),
    ("schedule", ["piecewise", "--boundaries", "10,5", "--values", "1,0.1,0.01"], 2,
     "boundaries"),
    ("schedule", ["onecycle", "--lr", "0.1", "--steps", "100", "--factor", "0.5"], 2,
     "--factor is not an option of schedule 'onecycle'"),
    ("gradcheck", ["--dataset", "nope"], 2, "unknown dataset 'nope'"),
    ("gradcheck", ["--dataset", "iris", "--loss", "mse"], 2, "loss mse needs a regression"),
    ("paths", ["-f", "nope"], 2, "'nope' is not one of"),
    ("paths", ["--start", "1,2,3"], 2, "--start"),
    ("paths", ["--lr", "adam=x"], 2, "--lr"),
    ("explain", ["sgd", "--beta1", "0.9"], 2, "beta1 is not a hyperparameter of optimizer sgd"),
    ("explain", ["nope"], 2, "'nope' is not one of"),
]


def _snapshot(root):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in pathlib.Path(root).rglob("*") if p.is_file() and ".cache" not in p.parts}


@pytest.mark.parametrize("command, args, code, message", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_bad_input(ws, command, args, code, message):
    before = _snapshot(ws)
    args = [a.replace("{ws}", str(ws)) for a in args]
    if command in ("fit", "compare", "lr-find") and "--out" not in args \
            and "--resume" not in args:
        args += ["--out", str(ws / "new_out")]
    result = CliRunner().invoke(cli, [command, *args, *(
        ["--quiet"] if command in ("fit", "sweep") else [])])
    output = result.output
    assert result.exit_code == code, output
    assert message in output, output
    assert "Traceback" not in output
    if code == 1:
        errors = [line for line in output.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1, output
    else:
        assert "Usage:" in output
    after = _snapshot(ws)
    changed = [str(p) for p, digest in before.items() if after.get(p) != digest]
    assert not changed, f"files changed: {changed}"


def test_there_are_enough_cases_over_every_command():
    assert len(CASES) >= 30
    assert {c[0] for c in CASES} >= {"fit", "evaluate", "predict", "compare", "lr-find",
                                     "sweep", "schedule", "gradcheck", "paths", "explain"}
