"""The schedule part of the command line: options, build_schedule, preview, listing."""
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from minitrain import schedules
from minitrain.cli import cli
from minitrain.cli._options import (SCHEDULE_DEST, SCHEDULE_OPTIONS, build_schedule,
                           pop_schedule_options, schedule_options)


def run(*args):
    return CliRunner().invoke(cli, list(args))


PREVIEW_ONECYCLE = """\
onecycle(max_lr=1.0, total_steps=20, pct_start=0.3, anneal='linear', div_factor=25.0, \
final_div_factor=10000.0, three_phase=True, cycle_momentum=True, base_momentum=0.85, \
max_momentum=0.95)
    step            lr    momentum
       0          0.04        0.95
       2         0.424        0.91
       4         0.808        0.87
       5             1        0.85
       6         0.808        0.87
       8         0.424        0.91
      10          0.04        0.95
      12      0.031112        0.95
      14      0.022224        0.95
      16      0.013336        0.95
      18      0.004448        0.95
      19         4e-06        0.95
lr ▁▃▄▅▇█▇▅▄▃▁▁▁▁▁▁▁▁▁▁  4e-06 .. 1 over steps 0..19
"""


def test_preview_output_onecycle():
    r = run("schedule", "onecycle", "--lr", "1", "--steps", "20", "--anneal", "linear",
            "--three-phase")
    assert r.exit_code == 0, r.output
    assert r.output == PREVIEW_ONECYCLE


def test_preview_piecewise_shows_both_sides_of_each_boundary():
    r = run("schedule", "piecewise", "--boundaries", "100,200", "--values", "0.1,0.01,0.001",
            "--steps", "300")
    assert r.exit_code == 0, r.output
    rows = {int(line.split()[0]): float(line.split()[1]) for line in r.output.splitlines()
            if line.strip() and line.split()[0].isdigit()}
    assert rows[99] == 0.1 and rows[100] == 0.01 and rows[199] == 0.01 and rows[200] == 0.001
    assert "momentum" not in r.output


def test_preview_plateau_and_defaults():
    r = run("schedule", "plateau", "--lr", "0.1", "--factor", "0.5")
    assert r.exit_code == 0, r.output
    assert "observe(metric)" in r.output and "steps 0..99" in r.output   # default 100 steps
    r = run("schedule", "cosine", "--lr", "0.1", "--total-steps", "500")
    assert "steps 0..499" in r.output                                      # --steps from it
    r = run("schedule", "exponential", "--lr", "0.1", "--decay-steps", "100", "--staircase")
    assert r.output.startswith("exponential(lr=0.1, rate=0.1, steps=100, staircase=True)")


def test_preview_plot(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "sched.png"
    r = run("schedule", "onecycle", "--max-lr", "0.01", "--steps", "300", "--plot", str(out))
    assert r.exit_code == 0, r.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"wrote {out}" in r.output


def test_plot_unwritable_is_one_line_error(tmp_path):
    pytest.importorskip("matplotlib")
    r = run("schedule", "constant", "--lr", "1", "--plot", str(tmp_path / "no" / "x.png"))
    assert r.exit_code == 1 and "Error: cannot write" in r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize("args,message", [
    (["nope"], "unknown schedule 'nope'; valid: constant, power"),
    (["power", "--lr", "0.1"], "schedule 'power' needs --decay-steps"),
    (["plateau"], "schedule 'plateau' needs --lr"),
    (["onecycle", "--steps", "10"], "schedule 'onecycle' needs --max-lr"),
    (["power", "--lr", "0.1", "--decay-steps", "10", "--max-lr", "1"],
     "--max-lr is not an option of schedule 'power' (its options: --lr --decay-steps --power"),
    (["cosine", "--lr", "0.1", "--plateau-patience", "3"],
     "--plateau-patience is not an option of schedule 'cosine'"),
    (["onecycle", "--max-lr", "1", "--pct-start", "1.5"],
     "Invalid value for --pct-start: onecycle: pct_start must be in (0.0, 1.0), got 1.5"),
    (["piecewise", "--boundaries", "1,x", "--values", "1,2,3"],
     "expected comma-separated ints like 100,200, got '1,x'"),
    (["piecewise", "--boundaries", "5,2", "--values", "1,2,3"],
     "Invalid value for --boundaries: piecewise: boundaries must be strictly increasing"),
    (["piecewise", "--boundaries", "5", "--values", "1,2,3"],
     "piecewise: need len(values) == len(boundaries) + 1, got 3 values for 1 boundaries"),
    (["plateau", "--lr", "0.1", "--plateau-mode", "up"], "'up' is not one of"),
    (["cosine", "--lr", "1", "--warmup-steps", "200", "--steps", "100"],
     "warmup_steps must be < total_steps, got 200 >= 100"),
    (["constant", "--lr", "1", "--steps", "0"], "--steps"),
])
def test_bad_options_exit_2_with_usage(args, message):
    r = run("schedule", *args)
    assert r.exit_code == 2, r.output
    assert "Usage: " in r.output and message in r.output, r.output
    assert "Traceback" not in r.output and r.exception is None or isinstance(
        r.exception, SystemExit)


def test_schedules_listing():
    r = run("schedules")
    assert r.exit_code == 0, r.output
    for name in schedules.names():
        assert f"{name}  " in r.output and schedules.describe(name) in r.output
    assert "--decay-steps (required)" in r.output and "--plateau-patience 10" in r.output
    assert "--three-phase [off]" in r.output and "--cycle-momentum [on]" in r.output
    assert "``" not in r.output


# ---- the helpers the trainer uses -----------------------------------------------------

def test_every_schedule_parameter_is_an_option():
    # generated from the registry: a parameter added to a schedule appears by itself
    lib = {p.name for n in schedules.names() for p in schedules.spec(n)
           if p.kind != "schedule" and p.from_run not in ("warmup_steps", "warmup_start")}
    assert set(SCHEDULE_OPTIONS) == lib - {"lr"}
    flags = {decls[0].split("/")[0] for decls, _ in SCHEDULE_OPTIONS.values()}
    assert {"--decay-steps", "--plateau-patience", "--mode", "--max-lr", "--three-phase",
            "--cycle-momentum", "--boundaries", "--values", "--min-lr", "--base-lr",
            "--step-size-up", "--first-steps", "--end-lr", "--start-factor"} <= flags
    assert not {"--lr", "--steps", "--patience", "--eps"} & flags   # the run's own options


def test_schedule_options_decorator_defaults_to_none():
    seen = {}

    @click.command()
    @click.option("--patience", type=int, default=5)      # a trainer option of its own
    @schedule_options
    def fit(patience, **kw):
        seen.update(kw, patience=patience)

    r = CliRunner().invoke(fit, [])
    assert r.exit_code == 0, r.output
    assert seen.pop("patience") == 5
    assert set(seen) == set(SCHEDULE_DEST) | {"warmup_steps", "warmup_start"}
    assert all(v is None for v in seen.values())
    seen.clear()
    r = CliRunner().invoke(fit, ["--plateau-patience", "3", "--two-phase", "--boundaries", "1,2",
                                 "--values", "1,2,3", "--patience", "7", "--warmup-steps", "4"])
    assert r.exit_code == 0, r.output
    assert (seen["sched_patience"], seen["sched_three_phase"], seen["sched_boundaries"],
            seen["sched_values"], seen["patience"], seen["warmup_steps"]) == \
        (3, False, [1, 2], [1.0, 2.0, 3.0], 7, 4)


def test_build_schedule():
    none = {dest: None for dest in SCHEDULE_DEST}
    s = build_schedule("onecycle", none, lr=0.05, total_steps=400)
    assert (s.max_lr, s.total_steps) == (0.05, 400)                 # from --lr and the run
    s = build_schedule("onecycle", {**none, "sched_max_lr": 0.2, "sched_total_steps": 50},
                       lr=0.05, total_steps=400)
    assert (s.max_lr, s.total_steps) == (0.2, 50)                   # explicit options win
    s = build_schedule("plateau", {**none, "sched_patience": 2, "sched_mode": "max"}, lr=0.1)
    assert (s.patience, s.mode, s.params()["lr"]) == (2, "max", 0.1)
    s = build_schedule("piecewise", {"sched_boundaries": [10], "sched_values": [1.0, 0.5],
                                     "epochs": 3}, lr=0.1)         # lr, other keys ignored
    assert s.lr(10) == 0.5
    kwargs = {"epochs": 3, "sched_steps": 100.0, "sched_rate": 0.5}
    opts = pop_schedule_options(kwargs)
    assert kwargs == {"epochs": 3} and opts == {"sched_steps": 100.0, "sched_rate": 0.5}
    assert build_schedule("exponential", opts, lr=1.0).steps == 100
    warm = build_schedule("exponential", opts, lr=1.0, total_steps=50, warmup=(10, 0.0))
    assert warm.lr(0) == 0.0 and warm.lr(10) == 1.0              # linear warm-up in front


def test_build_schedule_errors():
    with pytest.raises(click.UsageError, match="--rate is not an option of schedule 'cosine'"):
        build_schedule("cosine", {"sched_rate": 0.5}, lr=0.1, total_steps=10)
    with pytest.raises(click.UsageError, match="schedule 'cosine' needs --total-steps"):
        build_schedule("cosine", {}, lr=0.1)
    with pytest.raises(click.BadParameter, match="cosine: min_lr must be") as info:
        build_schedule("cosine", {"sched_min_lr": 1.0}, lr=0.1, total_steps=10)
    assert info.value.param_hint == "--min-lr"
    with pytest.raises(click.BadParameter, match="unknown schedule 'cosin'"):
        build_schedule("cosin", {}, lr=0.1)


def test_cli_import_stays_light():
    # the registries are read at startup (they are NumPy-free); nothing heavy is
    code = ("import sys, minitrain.cli; "
            "print('numpy' in sys.modules, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


def _program(*args, before="pass"):
    """Run the installed program's entry point (minitrain.cli.main) in a new process."""
    import subprocess
    import sys
    code = (f"import sys; {before}; sys.argv = ['minitrain', *{list(args)!r}]; "
            "from minitrain.cli import main; main()")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)


def test_the_program_keeps_exit_codes_output_and_exit_handlers():
    """main() ends with os._exit (skipping the interpreter's slow teardown): the exit
    code, everything printed and the atexit handlers must survive that."""
    done = _program("optimizers", before="import atexit; atexit.register(print, 'handler')")
    assert done.returncode == 0
    assert "adam" in done.stdout and done.stdout.rstrip().endswith("handler")
    assert _program("fit", "--epochs", "0").returncode == 2            # usage
    failed = _program("fit", "--dataset", "no-such-data")
    assert failed.returncode == 2 and "Error:" in failed.stderr
    assert _program("--version").stdout.startswith("minitrain, version")
