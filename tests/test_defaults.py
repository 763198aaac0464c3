"""`minitrain fit --dataset X` with nothing else reaches the accuracy the issue promises."""
import json

import pytest
from click.testing import CliRunner

from minitrain.cli import cli


@pytest.mark.slow
@pytest.mark.parametrize("args, metric, target", [
    (["--dataset", "digits", "--optimizer", "nadam"], "accuracy", 0.97),
    (["--dataset", "moons"], "accuracy", 0.97),
    (["--dataset", "breast_cancer"], "accuracy", 0.95),
    (["--dataset", "diabetes"], "r2", 0.40),
])
def test_default_options_work(args, metric, target, tmp_path, monkeypatch):
    monkeypatch.setenv("MINITRAIN_CACHE", str(tmp_path / "cache"))
    result = CliRunner().invoke(cli, ["fit", *args, "--quiet", "--json",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["test"][metric] >= target, summary["test"]


@pytest.mark.slow
@pytest.mark.parametrize("args, hidden", [
    (["--data", "data/spirals.csv", "--target", "label", "--hidden", "32,32"], (32, 32)),
    (["--data", "data/penguins_like.csv", "--target", "species"], (64, 64)),
    (["--dataset", "moons"], (64, 64)),
    (["--dataset", "circles"], (64, 64)),
])
def test_defaults_reach_scikit_learns_mlp(args, hidden, tmp_path, monkeypatch):
    """The commands the docs print reach scikit-learn's MLPClassifier (same hidden layers,
    its defaults, the same standardised train split) on the same test rows, within 0.015."""
    import pathlib
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    from minitrain.experiments import runs
    monkeypatch.chdir(pathlib.Path(__file__).resolve().parents[1])
    monkeypatch.setenv("MINITRAIN_CACHE", str(tmp_path / "cache"))
    result = CliRunner().invoke(cli, ["fit", *args, "--quiet", "--json", "--no-plot",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    ours = json.loads(result.output.strip().splitlines()[-1])["test"]["accuracy"]
    saved = runs.load_run(tmp_path / "run")
    data = saved.parts()
    scaler, _ = saved.scalers()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = MLPClassifier(hidden, random_state=0).fit(
            scaler.transform(data["train"].X), data["train"].y).score(
            scaler.transform(data["test"].X), data["test"].y)
    assert ours >= theirs - 0.015, (ours, theirs)
