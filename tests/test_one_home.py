"""One home per fact: the same invalid combination gets the same one-line answer from every
entry point (the run builder is the only place that checks combinations).

Command-line options that do not fit exit 2 with the usage banner; the same options read
from a file (a sweep grid) exit 1 naming the file; the Python API raises ValueError.
Every message below is the run builder's own text.
"""
import pytest
from click.testing import CliRunner

import minitrain as mt
from minitrain.cli import cli
from minitrain.experiments import runs

CYCLING = "schedule onecycle cycles momentum, but optimizer adagrad has no momentum"
FOREIGN_HP = "beta1 is not a hyperparameter of optimizer sgd"
LOSS_TASK = "loss mse needs a regression target"


def cli_run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_usage(result, message):
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert "Usage:" in result.output


def assert_file_error(result, message):
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len([ln for ln in result.output.splitlines() if ln.startswith("Error:")]) == 1


# ---------------------------------------------------------------- momentum cycling
@pytest.mark.parametrize("args", [
    ["fit", "-d", "moons", "-o", "adagrad", "-s", "onecycle"],
    ["compare", "-d", "moons", "-o", "sgd,adagrad", "-s", "onecycle"],
    ["paths", "-o", "momentum,adagrad", "-s", "onecycle"],
])
def test_momentum_cycling_without_momentum_on_the_command_line(tmp_path, args):
    out = ["--out", tmp_path / "o"] if args[0] != "paths" else []
    assert_usage(cli_run(*args, *out), CYCLING)
    assert not (tmp_path / "o").exists()


def test_momentum_cycling_without_momentum_in_a_grid(tmp_path):
    (tmp_path / "g.toml").write_text('dataset = "moons"\noptimizer = ["sgd", "adagrad"]\n'
                                     'schedule = "onecycle"\n')
    assert_file_error(cli_run("sweep", tmp_path / "g.toml", "--out", tmp_path / "o"), CYCLING)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("call", [
    lambda: runs.resolve({"dataset": "moons", "optimizer": "adagrad", "schedule": "onecycle"}),
    lambda: mt.compare("moons", ["sgd", "adagrad"], schedule="onecycle", epochs=1),
    lambda: mt.sweep({"dataset": "moons", "optimizer": "adagrad", "schedule": "onecycle"},
                     "never-written", progress=False),
    lambda: mt.MinitrainClassifier(optimizer="adagrad", schedule="onecycle",
                                   epochs=1).fit([[0.0, 1.0], [1.0, 0.0]] * 5, [0, 1] * 5),
    lambda: runs.check_combination("adagrad", "torch", {"lr": 0.1}, "onecycle"),
])
def test_momentum_cycling_without_momentum_from_python(call):
    with pytest.raises(ValueError, match=CYCLING):
        call()


def test_cycling_turned_off_is_fine(tmp_path):
    result = cli_run("fit", "-d", "moons", "-o", "adagrad", "-s", "onecycle",
                     "--no-cycle-momentum", "--epochs", 1, "--quiet", "--out", tmp_path / "o")
    assert result.exit_code == 0, result.output


# ---------------------------------------------------------------- a foreign hyperparameter
@pytest.mark.parametrize("args", [
    ["fit", "-d", "moons", "-o", "sgd", "--beta1", "0.9"],
    ["explain", "sgd", "--beta1", "0.9"],
])
def test_a_hyperparameter_of_another_optimizer_on_the_command_line(tmp_path, args):
    out = ["--out", tmp_path / "o"] if args[0] == "fit" else []
    assert_usage(cli_run(*args, *out), FOREIGN_HP)


def test_a_hyperparameter_of_another_optimizer_in_a_grid(tmp_path):
    (tmp_path / "g.toml").write_text('dataset = "moons"\noptimizer = "sgd"\nbeta1 = 0.9\n')
    assert_file_error(cli_run("sweep", tmp_path / "g.toml", "--out", tmp_path / "o"),
                      FOREIGN_HP)


@pytest.mark.parametrize("call", [
    lambda: runs.resolve({"dataset": "moons", "optimizer": "sgd", "beta1": 0.9}),
    lambda: mt.compare("moons", ["sgd"], epochs=1, beta1=0.9),
    lambda: mt.sweep({"dataset": "moons", "optimizer": "sgd", "beta1": 0.9}, "never-written",
                     progress=False),
])
def test_a_hyperparameter_of_another_optimizer_from_python(call):
    with pytest.raises(ValueError, match=FOREIGN_HP):
        call()


# ---------------------------------------------------------------- loss against the task
@pytest.mark.parametrize("args", [
    ["fit", "-d", "moons", "--loss", "mse"],
    ["compare", "-d", "moons", "-o", "sgd", "--loss", "mse", "--epochs", "1"],
    ["lr-find", "-d", "moons", "--loss", "mse"],
    ["gradcheck", "-d", "moons", "--loss", "mse"],
])
def test_a_loss_that_does_not_fit_the_task(tmp_path, args):
    out = ["--out", tmp_path / "o"] if args[0] not in ("gradcheck",) else []
    result = cli_run(*args, *out)
    assert result.exit_code == 2, result.output
    assert LOSS_TASK in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_the_same_rule_for_the_python_api():
    cfg = runs.resolve({"dataset": "moons", "loss": "mse"})
    with pytest.raises(ValueError, match=LOSS_TASK):
        runs.build_run(cfg)
