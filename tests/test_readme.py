"""Every shell command in README.md runs and succeeds, so the README cannot rot.

The commands run in order (later ones use the runs of earlier ones) in a scratch
folder that links the repository's data/ and scripts/. The set-up line's
`pip install ... &&` prefix is dropped (the package is installed already) and the
test command `pytest` is not run from inside the tests.
"""
import os
import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def readme_commands():
    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            line = re.sub(r"^pip install [^&]*&&\s*", "", line)
            if line == "pytest" or line.startswith("pip install"):
                continue
            commands.append(line)
    return commands


def test_readme_has_the_two_setup_commands():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    assert blocks[0].strip().startswith('pip install -e ".[all]" && minitrain fit')
    assert blocks[1].strip() == "pytest"


@pytest.mark.slow
def test_every_readme_command_runs(tmp_path):
    for name in ("data", "scripts"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = {**os.environ, "MINITRAIN_CACHE": str(tmp_path / ".cache")}
    commands = readme_commands()
    assert len(commands) >= 15
    for command in commands:
        result = subprocess.run(command, shell=True, cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        assert "Traceback" not in result.stderr, command
    assert (tmp_path / "runs" / "first" / "model.npz").exists()
    assert (tmp_path / "runs" / "paths.png").exists()
