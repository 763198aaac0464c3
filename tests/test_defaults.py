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
