"""The optimizer lab: 2-D test functions, paths, explain, and their commands.

References are independent of minitrain.lab: central finite differences for the
gradients, hand-written optimizer loops for the paths, the NumPy update rules of
tests/ref_optim.py (written from the docstrings) for the explained numbers.
"""
import doctest
import re

import numpy as np
import pytest
from click.testing import CliRunner

import minitrain as mt
from minitrain import lab, optim, schedules
from minitrain.cli import cli

from ref_optim import KERAS_REFERENCE, REFERENCE


def run(*args):
    return CliRunner().invoke(cli, list(args))


# ---------------------------------------------------------------- functions
def test_paths_accepts_exactly_the_registry_functions():
    help_text = " ".join(run("paths", "--help").output.split())
    assert all(name in help_text for name in lab.names())
    for name in lab.names():                 # the help's function list is the registry's
        fn = lab.function(name)
        assert f"{name} {fn.description}; start ({fn.start[0]:g}, {fn.start[1]:g})" \
            in help_text
    assert run("paths", "-f", "no_such_function").exit_code == 2


@pytest.mark.parametrize("name", lab.names())
def test_gradient_matches_central_differences(name):
    fn = lab.function(name)
    rng = np.random.default_rng(1)
    (x0, x1), (y0, y1) = fn.window
    h = 1e-6
    for x, y in zip(rng.uniform(x0, x1, 20), rng.uniform(y0, y1, 20)):
        gx, gy = fn.grad(x, y)
        nx = (fn.value(x + h, y) - fn.value(x - h, y)) / (2 * h)
        ny = (fn.value(x, y + h) - fn.value(x, y - h)) / (2 * h)
        scale = max(1.0, abs(nx), abs(ny))
        assert abs(gx - nx) <= 1e-5 * scale and abs(gy - ny) <= 1e-5 * scale


@pytest.mark.parametrize("name", lab.names())
def test_minima_are_stationary_with_value_f_min(name):
    fn = lab.function(name)
    for x, y in fn.minima:
        gx, gy = fn.grad(x, y)
        assert abs(gx) < 1e-9 and abs(gy) < 1e-9
        assert fn.value(x, y) == pytest.approx(fn.f_min, abs=1e-12)
    # f_min is the lowest value on a grid over the window
    (x0, x1), (y0, y1) = fn.window
    X, Y = np.meshgrid(np.linspace(x0, x1, 301), np.linspace(y0, y1, 301))
    assert fn.value(X, Y).min() >= fn.f_min - 1e-12
    sx, sy = fn.start
    assert x0 < sx < x1 and y0 < sy < y1
    assert fn.description and fn.steps >= 1
    assert all(fn.default_lr(o) > 0 for o in optim.names())


def test_bowl_condition_number_is_the_curvature_ratio():
    fn = lab.function("bowl", condition=25)
    # f is quadratic: the Hessian from finite differences of the gradient
    h = 1e-3
    H = np.array([[(fn.grad(h, 0)[0] - fn.grad(-h, 0)[0]) / (2 * h),
                   (fn.grad(0, h)[0] - fn.grad(0, -h)[0]) / (2 * h)],
                  [(fn.grad(h, 0)[1] - fn.grad(-h, 0)[1]) / (2 * h),
                   (fn.grad(0, h)[1] - fn.grad(0, -h)[1]) / (2 * h)]])
    eig = np.linalg.eigvalsh(H)
    assert eig.max() / eig.min() == pytest.approx(25)
    assert "25" in fn.description


def test_doctests():
    result = doctest.testmod(lab, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_function_errors():
    with pytest.raises(ValueError, match="function must be one of"):
        lab.function("sphere")
    with pytest.raises(TypeError, match="rosenbrock: takes no parameter condition"):
        lab.function("rosenbrock", condition=3)
    with pytest.raises(ValueError, match="bowl: condition must be > 0"):
        lab.function("bowl", condition=0)


# ---------------------------------------------------------------- paths
def direct_path(fn, name, lr, steps, start, schedule=None, **hp):
    """The loop a user would write: the optimizer object on a 2-element array."""
    opt = optim.get(name, lr=lr, **hp)
    p = np.array(start, dtype=np.float64)
    g = np.empty(2)
    out = [p.copy()]
    for step in range(steps):
        if schedule is not None:
            opt.lr = schedule.lr(step)
            m = schedule.momentum(step)
            if m is not None and name != "adagrad":
                opt.set_momentum(m)
        g[:] = fn.grad(*p)
        opt.step(p, g)
        out.append(p.copy())
    return np.array(out)


@pytest.mark.parametrize("name", optim.names())
@pytest.mark.parametrize("function", ["bowl", "rosenbrock", "saddle"])
def test_paths_equal_direct_optimizer_stepping(function, name):
    result = mt.paths(function, [name], steps=60)
    fn = lab.function(function)
    expected = direct_path(fn, name, fn.default_lr(name), 60, fn.start)
    t = result[name]
    np.testing.assert_array_equal(t.points, expected)           # bit for bit
    np.testing.assert_array_equal(t.values, fn.value(expected[:, 0], expected[:, 1]))
    assert t.lr == fn.default_lr(name)


def test_paths_follow_the_numpy_equations():
    # momentum SGD written out from the update rule, no minitrain optimizer involved
    fn = lab.function("bowl")
    p, buf, lr, mu = np.array(fn.start), None, 0.02, 0.9
    points = [p.copy()]
    for _ in range(50):
        g = np.array(fn.grad(*p))
        buf = g.copy() if buf is None else mu * buf + g
        p = p - lr * buf
        points.append(p)
    got = mt.paths("bowl", ["momentum"], steps=50, lr=0.02)["momentum"].points
    np.testing.assert_allclose(got, points, rtol=1e-13, atol=1e-15)


def test_paths_with_a_schedule_equal_direct_stepping():
    names = ["sgd", "momentum", "nesterov", "adam"]
    result = mt.paths("bowl", names, steps=80, schedule="onecycle",
                      schedule_params={"pct_start": 0.4})
    fn = lab.function("bowl")
    for name in names:
        lr = fn.default_lr(name)
        sched = schedules.get("onecycle", max_lr=lr, total_steps=80, pct_start=0.4)
        expected = direct_path(fn, name, lr, 80, fn.start, schedule=sched)
        np.testing.assert_array_equal(result[name].points, expected)
        np.testing.assert_array_equal(result[name].lrs, [sched.lr(s) for s in range(80)])
    assert result.schedule == "onecycle" and "schedule onecycle" in result.table()


def test_paths_refuse_what_the_run_builder_refuses_with_its_message():
    from minitrain.experiments.runs import OptionError, check_combination
    with pytest.raises(OptionError) as builder:
        check_combination("adagrad", "torch", {"lr": 0.1}, "onecycle", {})
    with pytest.raises(OptionError) as lab_error:
        mt.paths("bowl", ["momentum", "adagrad"], schedule="onecycle")
    assert str(lab_error.value) == str(builder.value)
    r = run("paths", "-o", "momentum,adagrad", "--schedule", "onecycle")
    assert r.exit_code == 2 and str(builder.value) in " ".join(r.output.split())
    # without momentum cycling adagrad takes the schedule
    result = mt.paths("bowl", ["adagrad"], steps=20, schedule="onecycle",
                      schedule_params={"cycle_momentum": False})
    assert result["adagrad"].lrs[0] < result["adagrad"].lrs[5]
    with pytest.raises(ValueError, match="cycles momentum, but optimizer adagrad"):
        lab.trajectory("bowl", "adagrad", lr=0.1, steps=5,
                       schedule=schedules.get("onecycle", max_lr=0.1, total_steps=5))


def test_paths_hyperparameters_and_start():
    fn = lab.function("bowl")
    result = mt.paths("bowl", ["momentum"], steps=30, lr=0.05, start=(2.0, -1.0),
                      hyperparameters={"momentum": {"momentum": 0.5}})
    expected = direct_path(fn, "momentum", 0.05, 30, (2.0, -1.0), momentum=0.5)
    np.testing.assert_array_equal(result["momentum"].points, expected)


@pytest.mark.parametrize("lr", [0.005, 0.01, 0.02])
@pytest.mark.parametrize("condition", [10, 50])
def test_momentum_and_nesterov_beat_sgd_on_the_bowl_at_the_same_lr(lr, condition):
    result = mt.paths("bowl", ["sgd", "momentum", "nesterov"], steps=2000, lr=lr,
                      condition=condition)
    sgd = result["sgd"].steps_to_min
    assert sgd is not None                                  # SGD gets there, slowly
    assert result["momentum"].steps_to_min < sgd
    assert result["nesterov"].steps_to_min < sgd
    # the textbook pictures: heavy-ball momentum overshoots the minimum along x
    # (x changes sign), and Nesterov's look-ahead brakes earlier (smaller overshoot)
    fn_start_x = lab.function("bowl").start[0]
    overshoot = {n: result[n].points[:, 0].max() for n in ("momentum", "nesterov")}
    assert fn_start_x < 0 and overshoot["momentum"] > 0
    assert overshoot["nesterov"] < overshoot["momentum"]


def test_steps_to_min_final_distance_and_value():
    result = mt.paths("himmelblau", ["sgd", "adam"], steps=150)
    fn = lab.function("himmelblau")
    for t in result.trajectories:
        d = np.min([np.hypot(t.points[:, 0] - x, t.points[:, 1] - y) for x, y in fn.minima],
                   axis=0)
        hits = [k for k, v in enumerate(d) if v <= 1e-3]
        assert t.steps_to_min == (hits[0] if hits else None)
        assert t.final_distance == pytest.approx(d[-1])
        assert t.final_value == fn.value(*t.points[-1])
    assert result["sgd"].steps_to_min is not None          # reached (3, 2) from (0, 0)


def test_adagrad_with_a_small_lr_stalls():
    result = mt.paths("bowl", ["sgd", "adagrad"], steps=400, lr=0.1)
    sgd, ada = result["sgd"], result["adagrad"]
    assert sgd.steps_to_min is not None                     # the same lr is fine for SGD
    assert ada.steps_to_min is None and ada.final_distance > 1.0
    # its steps shrink like lr / sqrt(t): the last 100 steps cover far less ground
    step_len = np.hypot(*np.diff(ada.points, axis=0).T)
    assert step_len[-100:].sum() < 0.2 * step_len[:100].sum()
    assert step_len[-1] < 0.01 < ada.final_distance


def test_divergence_stops_the_path():
    result = mt.paths("bowl", ["sgd"], steps=500, lr=0.5)      # lr > 2/condition
    t = result["sgd"]
    assert t.diverged and len(t.points) < 501
    assert re.search(r"^sgd\s+0\.5\s+diverged", result.table(), re.M)


def test_table_lists_every_optimizer():
    result = mt.paths("bowl", ["sgd", "momentum", "adagrad"], steps=200)
    text = str(result)
    assert text.splitlines()[0].startswith("bowl: elongated quadratic bowl")
    rows = {line.split()[0]: line.split() for line in text.splitlines()[3:]}
    assert rows["sgd"][2] == "-"                                   # never reached
    assert rows["momentum"][2] == str(result["momentum"].steps_to_min)
    assert float(rows["adagrad"][3]) == pytest.approx(result["adagrad"].final_distance,
                                                      rel=1e-3)


def test_paths_errors():
    with pytest.raises(ValueError, match="function must be one of"):
        mt.paths("sphere")
    with pytest.raises(ValueError, match="optimizer must be one of"):
        mt.paths("bowl", ["sgd", "sophia"])
    with pytest.raises(ValueError, match="start must be 2 numbers"):
        mt.paths("bowl", ["sgd"], start=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="lr given for 'adam'"):
        mt.paths("bowl", ["sgd"], lr={"adam": 0.1})
    with pytest.raises(ValueError, match=r"lr\[sgd\] must be > 0"):
        mt.paths("bowl", ["sgd"], lr={"sgd": -1})
    with pytest.raises(TypeError, match="takes no parameter condition"):
        mt.paths("saddle", condition=3)
    with pytest.raises(ValueError, match="missing required"):
        mt.paths("bowl", ["sgd"], schedule="power")


def test_plot_and_gif(tmp_path):
    pytest.importorskip("matplotlib")
    result = mt.paths("saddle", ["sgd", "adam"], steps=40, plot=tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pytest.importorskip("PIL")
    result.gif(tmp_path / "p.gif", frames=5)
    assert (tmp_path / "p.gif").read_bytes()[:6] in (b"GIF89a", b"GIF87a")


# ---------------------------------------------------------------- explain
def parse(text):
    """The explain text -> (a, p0, [per step: {"t", "lr", vectors..., scalars...}])."""
    steps, head = [], {}
    current = head
    for line in text.splitlines():
        m = re.match(r"step t=(\d+)\s+lr=(\S+)$", line)
        if m:
            current = {"t": int(m.group(1)), "lr": float(m.group(2))}
            steps.append(current)
            continue
        if not line.startswith("  ") or (current is head and not line.lstrip()[:2] in
                                         ("a ", "p0")):
            continue
        if " = " in line:                                      # a scalar
            name, value = line.strip().split(" = ")[0], line.rsplit(" = ", 1)[1]
            current[name] = float(value)
            continue
        tokens = line.split()
        current[" ".join(tokens[:-3])] = np.array([float(v) for v in tokens[-3:]])
    return head["a"], head["p0"], steps


def close(got, want, digits=8, scale=None):
    """Equal to within two units of the ``digits``-th significant digit (of the scale).

    ``scale``: the size of the inputs when the result cancels (p_new = p - step is
    only as exact as the printed p).
    """
    got, want = np.asarray(got, float), np.asarray(want, float)
    scale = max(np.max(np.abs(want)), scale or 0.0)
    unit = 10.0 ** (1 - digits)          # one unit in the last printed digit, relative
    return np.allclose(got, want, rtol=2 * unit, atol=2 * unit * scale)


CASES = [("sgd", {"lr": 0.1}), ("momentum", {"lr": 0.1}), ("nesterov", {"lr": 0.1}),
         ("momentum", {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1}),
         ("adagrad", {"lr": 0.5}), ("adagrad", {"lr": 0.5, "initial_accumulator": 0.1}),
         ("rmsprop", {"lr": 0.01}),
         ("rmsprop", {"lr": 0.01, "centered": True, "momentum": 0.9}),
         ("adam", {"lr": 0.1}), ("adam", {"lr": 0.1, "amsgrad": True, "beta1": 0.5}),
         ("adam", {"lr": 0.1, "weight_decay": 0.1, "decoupled_weight_decay": True}),
         ("adamax", {"lr": 0.1}), ("nadam", {"lr": 0.1}),
         ("nadam", {"lr": 0.1, "weight_decay": 0.05}), ("adamw", {"lr": 0.1}),
         ("adamw", {}), ("adam", {}),
         ("radam", {"lr": 0.1}), ("radam", {"lr": 0.1, "weight_decay": 0.1}),
         ("lion", {"lr": 0.1}), ("lion", {"lr": 0.1, "weight_decay": 0.2})]
BUFFERS = {"rmsprop": ("v", "g_avg"), "adam": ("m", "v", "v_max"),
           "adamw": ("m", "v", "v_max"), "adamax": ("m", "u"), "nadam": ("m", "v"),
           "radam": ("m", "v"), "lion": ("m",)}


@pytest.mark.parametrize("name,hp", CASES)
def test_explain_prints_the_kernels_numbers(name, hp):
    text = str(mt.explain(name, steps=4, seed=3, **hp))
    a, p0, steps = parse(text)
    # the same run, stepped directly: the printed numbers are the kernel's
    opt = optim.get(name, **hp)
    p = p0.copy()
    assert len(steps) == 4
    for shown in steps:
        before = p.copy()
        g = a * p
        opt.step(p, g)
        assert shown["t"] == opt.t and shown["lr"] == opt.lr
        for label, want in [("p", before), ("g", g), ("step", p - before), ("p_new", p),
                            *opt.state.items()]:
            assert close(shown[label], want), (label, shown[label], want)


@pytest.mark.parametrize("name,hp", CASES)
def test_explained_arithmetic_reproduces_the_printed_update(name, hp):
    """From the printed numbers alone, the NumPy update rule gives the printed results."""
    a, p0, steps = parse(str(mt.explain(name, steps=4, seed=3, **hp)))
    ref, presets = REFERENCE[name]
    kw = {**presets, **hp}
    prev_state, mu_product = {}, 1.0
    for shown in steps:
        assert close(shown["g"], a * shown["p"])                   # g = a * p
        state = dict(prev_state)
        if not state and name in ("adagrad",):
            state["s"] = np.full(3, kw.get("initial_accumulator", 0.0))
        for buffer in BUFFERS.get(name, ()):
            state.setdefault(buffer, np.zeros(3))
        args = (shown["p"], shown["g"], state, shown["t"])
        if name == "nadam":
            p_new, new_state, mu_product = ref(*args, mu_product, **kw)
            assert close(shown["mu_product"], mu_product)
        else:
            p_new, new_state = ref(*args, **kw)
        scale = np.abs(shown["p"]).max()
        assert close(shown["p_new"], p_new, scale=scale), (shown["p_new"], p_new)
        assert close(shown["p"] + shown["step"], shown["p_new"], scale=scale)
        for key, value in new_state.items():
            if key in shown:
                assert close(shown[key], value), key
        with np.errstate(divide="ignore", invalid="ignore"):
            assert close(shown["lr_eff"], -shown["step"] / shown["g"])
        prev_state = {k: shown[k] for k in ("buf", "s", "v", "g_avg", "m", "v_max", "u")
                      if k in shown}


def test_explained_scalars_give_the_last_line_of_the_rule():
    """Adam's last line from the printed bc1, sqrt(bc2), m, v; Nadam's from coef_g, coef_m."""
    a, p0, steps = parse(str(mt.explain("adam", lr=0.1, steps=5)))
    for s in steps:
        t = s["t"]
        assert s["bc1"] == pytest.approx(1 - 0.9 ** t, rel=1e-8)
        assert s["bc2"] == pytest.approx(1 - 0.999 ** t, rel=1e-8)
        assert s["lr / bc1"] == pytest.approx(0.1 / s["bc1"], rel=1e-7)
        want = s["p"] - s["lr / bc1"] * s["m"] / (np.sqrt(s["v"]) / s["sqrt(bc2)"] + 1e-8)
        assert close(s["p_new"], want, scale=np.abs(s["p"]).max())
    a, p0, steps = parse(str(mt.explain("nadam", lr=0.1, steps=3)))
    for s in steps:
        denom = np.sqrt(s["v"] / s["bc2"]) + 1e-8
        want = s["p"] - s["coef_g"] * s["g"] / denom - s["coef_m"] * s["m"] / denom
        assert close(s["p_new"], want, scale=np.abs(s["p"]).max())


def test_explain_shows_the_update_rule_verbatim_and_the_example():
    result = mt.explain("rmsprop", steps=2, seed=0)
    text = str(result)
    assert optim.update_rule("rmsprop") in text
    assert text.startswith("rmsprop: RMSprop(lr=0.01, rho=0.99")
    a, p0, steps = parse(text)
    assert np.all((a >= 0.5) & (a <= 3)) and np.all(np.abs(p0) <= 2)
    np.testing.assert_array_equal(a, np.round(a, 1))              # easy by hand
    assert [s["t"] for s in steps] == [1, 2]
    assert result.records[1]["p"].tolist() == result.records[0]["p_new"].tolist()
    assert mt.explain("rmsprop", steps=2, seed=1).a.tolist() != a.tolist()


def test_explain_digits():
    text = mt.explain("adam", lr=0.1).text(digits=12)
    _, _, steps = parse(text)
    assert any(len(re.sub(r"[-.e]", "", f"{v:.12g}")) > 8 for v in steps[2]["p_new"])


def test_explain_errors():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        mt.explain("sophia")
    with pytest.raises(TypeError, match="sgd: unknown hyperparameter 'beta1'"):
        mt.explain("sgd", beta1=0.9)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        mt.explain("sgd", steps=0)


# ---------------------------------------------------------------- commands
def test_cli_paths_table_equals_the_api():
    r = run("paths", "--function", "bowl", "--optimizers", "sgd,momentum,nesterov",
            "--steps", "200", "--lr", "0.02")
    assert r.exit_code == 0, r.output
    assert r.output.strip() == mt.paths("bowl", ["sgd", "momentum", "nesterov"], steps=200,
                                        lr=0.02).table()


def test_cli_paths_options():
    r = run("paths", "-f", "bowl", "-o", "sgd,adam", "--lr", "0.01,adam=0.2", "--start=2,-1",
            "--condition", "20", "--steps", "50")
    assert r.exit_code == 0, r.output
    want = mt.paths("bowl", ["sgd", "adam"], lr={"sgd": 0.01, "adam": 0.2}, start=(2, -1),
                    condition=20, steps=50)
    assert r.output.strip() == want.table()
    r = run("paths", "-f", "saddle", "-o", "adam,momentum", "--schedule", "onecycle",
            "--steps", "60", "--pct-start", "0.5")
    assert r.exit_code == 0, r.output
    assert r.output.strip() == mt.paths("saddle", ["adam", "momentum"], steps=60,
                                        schedule="onecycle",
                                        schedule_params={"pct_start": 0.5}).table()


def test_cli_paths_plot(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "paths.png"
    r = run("paths", "-o", "sgd,momentum", "--steps", "30", "--plot", str(out))
    assert r.exit_code == 0, r.output
    assert f"wrote {out}" in r.output and out.stat().st_size > 1000


def test_cli_paths_plot_without_matplotlib(tmp_path, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    out = tmp_path / "paths.png"
    r = run("paths", "-o", "sgd", "--steps", "10", "--plot", str(out))
    assert r.exit_code == 0
    assert "needs matplotlib" in r.output and "sgd" in r.output and not out.exists()


@pytest.mark.parametrize("args,message", [
    (["--function", "sphere"], "'sphere' is not one of"),
    (["--optimizers", "sgd,sophia"], "unknown optimizer 'sophia'"),
    (["--optimizers", "sgd,sgd"], "names an optimizer twice"),
    (["--lr", "adam:0.1"], "expected NAME=VALUE"),
    (["--lr", "adam=fast"], "expected NAME=VALUE"),
    (["--lr", "adam=-1"], "> 0, got 'adam=-1'"),
    (["--lr", "0.1,0.2"], "a bare VALUE given twice"),
    (["--lr", "nadam=0.1"], "nadam is not among --optimizers"),
    (["--start", "1"], "must be two numbers X,Y"),
    (["--start", "1,2,3"], "must be two numbers X,Y"),
    (["--start", "a,b"], "must be two numbers X,Y"),
    (["--function", "saddle", "--condition", "5"], "--condition applies to --function bowl"),
    (["--condition", "0"], "--condition"),
    (["--pct-start", "0.4"], "need(s) --schedule"),
    (["--schedule", "power"], "needs --decay-steps"),
    (["--schedule", "cosine", "--rate", "0.5"], "--rate is not an option of schedule"),
    (["--steps", "0"], "--steps"),
])
def test_cli_paths_bad_options_exit_2(args, message):
    r = run("paths", *args)
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output


def test_cli_paths_unwritable_plot_exits_1(tmp_path):
    pytest.importorskip("matplotlib")
    r = run("paths", "-o", "sgd", "--steps", "5", "--plot", str(tmp_path / "no" / "p.png"))
    assert r.exit_code == 1
    assert r.output.splitlines()[-1].startswith("Error: cannot write")


def test_cli_explain_output_equals_the_api():
    r = run("explain", "adam", "--lr", "0.1", "--beta1", "0.8", "--amsgrad", "--steps", "2",
            "--seed", "4")
    assert r.exit_code == 0, r.output
    want = mt.explain("adam", lr=0.1, beta1=0.8, amsgrad=True, steps=2, seed=4)
    assert r.output.rstrip("\n") == str(want)
    assert "v_max" in r.output
    r = run("explain", "momentum", "--digits", "12")
    assert r.exit_code == 0 and r.output.rstrip("\n") == mt.explain("momentum").text(12)


@pytest.mark.parametrize("args,message", [
    (["sophia"], "'sophia' is not one of"),
    (["sgd", "--beta1", "0.9"], "beta1 is not a hyperparameter of"),
    (["adagrad", "--momentum", "0.9"], "momentum is not a hyperparameter of"),
    (["adam", "--centered"], "centered is not a hyperparameter of"),
    (["nesterov", "--momentum", "0"], "nesterov=True requires momentum > 0"),
    (["adam", "--beta1", "1"], "beta1 must be in [0.0, 1.0), got 1"),
    (["adam", "--steps", "0"], "--steps"),
])
def test_cli_explain_bad_options_exit_2(args, message):
    r = run("explain", *args)
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output


# ---------------------------------------------------------------- the keras convention
@pytest.mark.parametrize("name", ["momentum", "nesterov", "rmsprop", "adam", "nadam",
                                  "adamax", "adagrad"])
def test_paths_at_keras_equal_direct_stepping_with_the_keras_optimizer(name):
    fn = lab.function("bowl")
    lr = fn.default_lr(name)
    result = mt.paths("bowl", [name, f"{name}@keras"], steps=60)
    assert [t.label for t in result.trajectories] == [name, f"{name}@keras"]
    assert result[f"{name}@keras"].convention == "keras"
    for label, convention in ((name, "torch"), (f"{name}@keras", "keras")):
        opt = optim.get(name, convention=convention, lr=lr)
        p, points = np.array(fn.start), [np.array(fn.start)]
        for _ in range(60):
            opt.step(p, np.array(fn.grad(*p)))
            points.append(p.copy())
        np.testing.assert_array_equal(result[label].points, points)      # bit for bit
    assert f"{name}@keras" in result.table()


def test_paths_keras_momentum_follows_the_numpy_equations_under_a_schedule():
    """Keras keeps lr inside the velocity: v = mu*v - lr*g; p += v (written out here)."""
    fn = lab.function("bowl")
    sched = schedules.get("cosine", lr=0.02, total_steps=40)
    p, v, points = np.array(fn.start), np.zeros(2), [np.array(fn.start)]
    for step in range(40):
        v = 0.9 * v - sched.lr(step) * np.array(fn.grad(*p))
        p = p + v
        points.append(p)
    got = mt.paths("bowl", ["momentum@keras"], steps=40, lr=0.02, schedule="cosine")
    np.testing.assert_allclose(got["momentum@keras"].points, points, rtol=1e-13, atol=1e-15)


def test_paths_convention_default_lr_and_hyperparameters_by_label():
    result = mt.paths("bowl", ["adam", "adam@torch"], convention="keras", steps=5,
                      lr={"adam": 0.1, "adam@torch": 0.2},
                      hyperparameters={"adam": {"beta1": 0.5}})
    assert result["adam"].convention == "keras" and result["adam"].lr == 0.1
    assert result["adam@torch"].convention == "torch" and result["adam@torch"].lr == 0.2
    opt = optim.get("adam", convention="torch", lr=0.2, beta1=0.5)  # a name covers both
    p = np.array(lab.function("bowl").start)
    for _ in range(5):
        opt.step(p, np.array(lab.function("bowl").grad(*p)))
    np.testing.assert_array_equal(result["adam@torch"].points[-1], p)
    with pytest.raises(ValueError, match="convention must be one of"):
        mt.paths("bowl", ["adam@jax"])
    with pytest.raises(ValueError, match="must be distinct"):
        mt.paths("bowl", ["adam", "adam@torch"])
    with pytest.raises(ValueError, match="lr given for 'adam@keras'"):
        mt.paths("bowl", ["adam"], lr={"adam@keras": 0.1})


KERAS_CASES = [("sgd", {"lr": 0.1}), ("momentum", {"lr": 0.1}), ("nesterov", {"lr": 0.1}),
               ("momentum", {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1}),
               ("adagrad", {"lr": 0.5}), ("rmsprop", {"lr": 0.01}),
               ("rmsprop", {"lr": 0.01, "centered": True, "momentum": 0.9}),
               ("rmsprop", {"lr": 0.01, "momentum": 0.5, "weight_decay": 0.2}),
               ("adam", {"lr": 0.1}), ("adam", {"lr": 0.1, "amsgrad": True, "beta1": 0.5}),
               ("adam", {"lr": 0.1, "weight_decay": 0.1}), ("adamax", {"lr": 0.1}),
               ("adamax", {"lr": 0.1, "weight_decay": 0.1}), ("nadam", {"lr": 0.1}),
               ("nadam", {"lr": 0.1, "weight_decay": 0.05}), ("adamw", {"lr": 0.1}),
               ("adam", {}), ("lion", {"lr": 0.1}), ("lion", {"lr": 0.1, "weight_decay": 0.2})]


@pytest.mark.parametrize("name,hp", KERAS_CASES)
def test_explain_keras_prints_the_kernels_numbers(name, hp):
    result = mt.explain(name, convention="keras", steps=4, seed=3, **hp)
    text = str(result)
    own = optim.parse_spec(name)[1] == "keras"        # lion: Keras is its own convention
    assert text.startswith(f"{name}: " if own else f"{name}@keras: ")
    assert "convention='keras')" in text
    assert "Update rule (keras)\n-------------------\n" + \
        optim.update_rule(name, convention="keras") in text
    a, p0, steps = parse(text)
    opt = optim.get(name, convention="keras", **hp)
    p = p0.copy()
    for shown in steps:
        before = p.copy()
        g = a * p
        opt.step(p, g)
        assert shown["t"] == opt.t and shown["lr"] == opt.lr
        for label, want in [("p", before), ("g", g), ("step", p - before), ("p_new", p),
                            *opt.state.items()]:
            assert close(shown[label], want), (label, shown[label], want)


@pytest.mark.parametrize("name,hp", KERAS_CASES)
def test_explained_keras_arithmetic_reproduces_the_printed_update(name, hp):
    """From the printed numbers alone, the NumPy Keras rule gives the printed results."""
    a, p0, steps = parse(str(mt.explain(name, convention="keras", steps=4, seed=3, **hp)))
    ref, presets = KERAS_REFERENCE[name]
    kw = {**presets, **hp}
    prev_state, mu_product = {}, 1.0
    for shown in steps:
        state = dict(prev_state)
        if not state and name == "adagrad":
            state["s"] = np.full(3, 0.1)                         # Keras's initial value
        for buffer in BUFFERS.get(name, ()):
            state.setdefault(buffer, np.zeros(3))
        args = (shown["p"], shown["g"], state, shown["t"])
        if name == "nadam":
            p_new, new_state, mu_product = ref(*args, mu_product, **kw)
            assert close(shown["mu_product"], mu_product)
        else:
            p_new, new_state = ref(*args, **kw)
        scale = np.abs(shown["p"]).max()
        assert close(shown["p_new"], p_new, scale=scale), (shown["p_new"], p_new)
        for key, value in new_state.items():
            assert close(shown[key], value), key
        if kw.get("weight_decay"):
            assert shown["1 - lr * weight_decay"] == pytest.approx(
                1 - shown["lr"] * kw["weight_decay"], rel=1e-8)
            assert "g + wd*p" not in shown                       # Keras always decouples
        prev_state = {k: shown[k] for k in ("buf", "s", "v", "g_avg", "m", "v_max", "u")
                      if k in shown}


def test_explained_keras_scalars_give_the_last_line_of_the_keras_rule():
    """Each last line of "Update rule (keras)" from the printed scalars and buffers."""
    def check(name, want, **hp):
        _, _, steps = parse(str(mt.explain(name, convention="keras", steps=4, **hp)))
        for s in steps:
            assert close(s["p_new"], want(s), scale=np.abs(s["p"]).max()), name

    def adam(s):
        t = s["t"]
        assert s["bc1"] == pytest.approx(1 - 0.9 ** t, rel=1e-8)
        assert s["bc2"] == pytest.approx(1 - 0.999 ** t, rel=1e-8)
        assert s["step_size"] == pytest.approx(0.1 * s["sqrt(bc2)"] / s["bc1"], rel=1e-7)
        assert "lr / bc1" not in s
        return s["p"] - s["step_size"] * s["m"] / (np.sqrt(s["v"]) + 1e-7)
    check("adam", adam, lr=0.1)
    check("adamw", lambda s: s["p"] * s["1 - lr * weight_decay"]
          - s["step_size"] * s["m"] / (np.sqrt(s["v"]) + 1e-7), lr=0.1)

    def nadam(s):
        t = s["t"]
        assert s["mu"] == pytest.approx(0.9 * (1 - 0.5 * 0.96 ** t), rel=1e-8)
        assert s["mu_next"] == pytest.approx(0.9 * (1 - 0.5 * 0.96 ** (t + 1)), rel=1e-8)
        denom = np.sqrt(s["v"] / s["bc2"]) + 1e-7
        return s["p"] - s["coef_g"] * s["g"] / denom - s["coef_m"] * s["m"] / denom
    check("nadam", nadam, lr=0.1)
    check("adamax", lambda s: s["p"] - s["lr / bc1"] * s["m"] / (s["u"] + 1e-7), lr=0.1)
    check("momentum", lambda s: s["p"] - s["buf"], lr=0.1)          # lr inside the buffer
    check("rmsprop", lambda s: s["p"] - 0.01 * s["g"] / np.sqrt(s["v"] + 1e-7), lr=0.01)
    check("rmsprop", lambda s: s["p"] - s["buf"], lr=0.01, momentum=0.5)


def test_explain_keras_nadam_mu_product_is_in_the_array_dtype():
    text = str(mt.explain("nadam", convention="keras", steps=1))
    assert "mu = beta1 * (1 - 0.5 * 0.96**t)" in text and "(kept in float64)" in text
    assert "(kept in float32)" in str(mt.explain("nadam", steps=1))


def test_cli_explain_and_paths_conventions():
    r = run("explain", "adam", "--convention", "keras", "--lr", "0.1", "--steps", "2")
    assert r.exit_code == 0, r.output
    assert r.output.rstrip("\n") == str(mt.explain("adam", convention="keras", lr=0.1,
                                                    steps=2))
    assert "Update rule (keras)" in r.output and "eps=1e-07" in r.output
    r = run("paths", "-o", "momentum,momentum@keras", "--lr", "momentum@keras=0.01,0.02",
            "--steps", "50")
    assert r.exit_code == 0, r.output
    assert r.output.strip() == mt.paths("bowl", ["momentum", "momentum@keras"], steps=50,
                                        lr={"momentum": 0.02,
                                            "momentum@keras": 0.01}).table()
    r = run("paths", "-o", "adam", "--convention", "keras", "--steps", "5")
    assert r.exit_code == 0 and r.output.strip() == mt.paths(
        "bowl", ["adam"], steps=5, convention="keras").table()
    assert "--convention" in run("paths", "--help").output
    assert "momentum@keras" in run("paths", "--help").output
    assert "--convention keras" in run("explain", "--help").output


@pytest.mark.parametrize("args,message", [
    (["paths", "-o", "adam,adam@jax"], "unknown convention 'jax' in 'adam@jax'"),
    (["paths", "-o", "sophia@keras"], "unknown optimizer 'sophia'"),
    (["paths", "-o", "adam,adam@torch"], "names an optimizer twice"),
    (["paths", "-o", "adam", "--lr", "adam@keras=0.1"], "adam@keras is not among"),
    (["paths", "--convention", "jax"], "'jax' is not one of"),
    (["explain", "adam", "--convention", "jax"], "'jax' is not one of"),
    (["explain", "adam", "--convention", "keras", "--no-decoupled-weight-decay"],
     "decoupled_weight_decay must be True"),
])
def test_cli_convention_usage_errors_exit_2(args, message):
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output


# ------------------------------------- the README's claims about the pictures, on the data
# Each claim of README "See the optimizers move" (text in notes/readme_lab.md) is checked
# here on the path data of the command it shows: `minitrain paths --function bowl`.
@pytest.fixture(scope="module")
def bowl():
    return mt.paths("bowl")


def crossings(values):
    """Steps after which ``values`` changed sign."""
    return np.flatnonzero(np.diff(np.sign(values)) != 0)


def step_lengths(t):
    return np.linalg.norm(np.diff(t.points, axis=0), axis=1)


def test_default_optimizers_come_from_the_registry(bowl):
    names = optim.names()
    assert lab.default_optimizers() == names[:names.index("adam") + 1]
    assert [t.label for t in bowl.trajectories] == list(lab.default_optimizers())


def test_claim_sgd_creeps_along_the_valley_without_crossing_it(bowl):
    x, y = bowl["sgd"].points.T
    assert crossings(x).size == 0 and crossings(y).size == 0
    assert bowl["sgd"].steps_to_min is None and bowl["sgd"].final_distance > 0.05


def test_claim_momentum_overshoots_past_the_minimum(bowl):
    x, y = bowl["momentum"].points.T
    first = crossings(x)[0]
    assert x[first + 1:].max() > 1.0            # past the minimum by over 1 (start: x=-4)
    assert crossings(y).size >= 10              # and zig-zags across the valley floor
    assert bowl["momentum"].steps_to_min is not None


def test_claim_nesterov_brakes_earlier_than_momentum(bowl):
    xm, xn = bowl["momentum"].points[:, 0], bowl["nesterov"].points[:, 0]
    assert 0 < xn.max() < 0.8 * xm.max()        # a smaller overshoot
    assert bowl["nesterov"].steps_to_min < 0.7 * bowl["momentum"].steps_to_min


def test_claim_adagrad_steps_shrink_and_it_stalls(bowl):
    steps = step_lengths(bowl["adagrad"])
    assert np.all(np.diff(steps) <= 1e-12)      # every step shorter than the one before
    assert steps[-1] < steps[0] / 20
    assert bowl["adagrad"].steps_to_min is None and bowl["adagrad"].final_distance > 1


def test_claim_rmsprop_bends_onto_the_valley_floor_and_never_overshoots(bowl):
    t = bowl["rmsprop"]
    x, y = t.points.T
    first = np.diff(t.points[:2], axis=0)[0]
    assert abs(first[0]) == pytest.approx(abs(first[1]), rel=1e-6)  # first step diagonal
    assert crossings(x).size == 0 and crossings(y).size == 0
    assert t.steps_to_min is not None and t.steps_to_min < bowl["momentum"].steps_to_min


def test_claim_adam_heads_diagonally_then_swings_across_the_floor(bowl):
    t = bowl["adam"]
    x, y = t.points.T
    g = np.array(bowl.function.grad(*t.points[0]))
    assert abs(g[1] / g[0]) > 3                 # the gradient points mostly along y ...
    first = np.diff(t.points[:4], axis=0)
    np.testing.assert_allclose(np.abs(first), t.lr, rtol=1e-2)   # ... Adam moves lr in both
    c = crossings(y)
    swings = [np.abs(y[a + 1:b + 1]).max() for a, b in zip(c[:-1], c[1:])]
    assert len(swings) >= 5 and np.all(np.diff(swings) < 0)        # swings shrink
    assert swings[0] > 0.2                      # the first swing below the floor is visible
    assert 0 < x.max() < 0.1 * bowl["momentum"].points[:, 0].max()  # small x overshoot


def test_claim_momentum_conventions_differ_only_when_the_lr_changes():
    same = mt.paths("bowl", ["momentum", "momentum@keras"])
    np.testing.assert_allclose(same["momentum"].points, same["momentum@keras"].points,
                               rtol=0, atol=1e-12)       # the same path, up to rounding
    cyc = mt.paths("bowl", ["momentum", "momentum@keras"], schedule="onecycle")
    torch_y, keras_y = cyc["momentum"].points[:, 1], cyc["momentum@keras"].points[:, 1]
    assert np.abs(cyc["momentum"].points - cyc["momentum@keras"].points).max() > 1
    assert torch_y.min() < 2 * keras_y.min() < 0   # torch's swing is over twice as deep
    assert cyc["momentum@keras"].steps_to_min < cyc["momentum"].steps_to_min


# ------------------------------------------------------------- every path visible
@pytest.mark.parametrize("optimizers", [None, list(optim.names())])
def test_every_path_has_its_own_colour_and_marker_and_the_legend_is_outside(optimizers):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgba
    from minitrain.lab import plotting
    result = mt.paths("bowl", optimizers, steps=60)
    fig, lines, marks = plotting.figure(result)
    try:
        n = len(result.trajectories)
        colours = [to_rgba(line.get_color()) for line in lines]
        markers = [line.get_marker() for line in lines]
        assert len(set(colours)) == n and len(set(markers)) == n
        # the minimum and the start use colours no path uses
        ax = lines[0].axes
        specials = [line for line in ax.lines if line.get_label() in ("minimum", "start")]
        assert len(specials) == 2
        for mark in specials:
            for c in (mark.get_color(), mark.get_markerfacecolor()):
                assert to_rgba(c) not in colours
        # the value panel uses the same colour and marker per path
        assert [to_rgba(m.get_color()) for m in marks] == colours
        assert [m.get_marker() for m in marks] == markers
        # markers at staggered steps: coinciding paths do not stack them
        offsets = [line.get_markevery()[0] for line in lines]
        assert len(set(offsets)) == n
        # the legend lies outside both axes and names every path
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        legend = fig.legends[0].get_window_extent(renderer)
        for axis in fig.axes:
            assert not legend.overlaps(axis.get_window_extent(renderer))
        texts = [t.get_text() for t in fig.legends[0].get_texts()]
        assert all(any(text.startswith(t.label + " ") for text in texts)
                   for t in result.trajectories)
    finally:
        plt.close(fig)


def test_entries_default_to_each_optimizers_own_convention():
    assert lab.entries(["adam", "adam@keras"]) == [("adam", "adam", "torch"),
                                                   ("adam@keras", "adam", "keras")]
    assert lab.entries(["adam", "adam@torch"], "keras") == [("adam", "adam", "keras"),
                                                            ("adam@torch", "adam", "torch")]
    for name in optim.names():                        # plain names: the registry's default
        [(label, got, convention)] = lab.entries([name])
        assert (label, got, convention) == (name, name, optim.parse_spec(name)[1])
    result = mt.paths("bowl", ["adam", "adam@keras"], steps=5)
    assert [t.convention for t in result.trajectories] == ["torch", "keras"]
    assert mt.explain("adam").name == "adam" and mt.explain("adam@keras").name == "adam@keras"


def test_the_numbers_the_readme_quotes(bowl):
    """README "See the optimizers move" quotes these (notes/readme_lab.md); keep in step."""
    assert round(bowl["sgd"].final_distance, 2) == 0.07
    assert round(bowl["momentum"].points[:, 0].max(), 2) == 1.18
    assert round(bowl["nesterov"].points[:, 0].max(), 2) == 0.92
    assert [bowl[n].steps_to_min for n in ("momentum", "nesterov", "rmsprop", "adam")] == \
        [150, 85, 122, 149]
    steps = step_lengths(bowl["adagrad"])
    assert round(steps[0] / steps[-1]) == 29 and round(bowl["adagrad"].final_distance, 1) == 1.7
    g = bowl.function.grad(*bowl.start)
    assert g[1] / -g[0] == 3.75
    cyc = mt.paths("bowl", ["momentum", "momentum@keras"], schedule="onecycle")
    assert [round(t.points[:, 1].min(), 2) for t in cyc.trajectories] == [-1.41, -0.49]
    assert [t.steps_to_min for t in cyc.trajectories] == [140, 93]


def test_explained_radam_scalars_give_the_last_lines_of_the_rule():
    _, _, steps = parse(str(mt.explain("radam", lr=0.1, steps=8)))
    rectified = 0
    for s in steps:
        t = s["t"]
        assert s["rho_inf"] == pytest.approx(2 / (1 - 0.999) - 1)
        bc2 = 1 - 0.999 ** t                # exact: rho_t cancels ~1999 - 1995
        assert s["bc2"] == pytest.approx(bc2, rel=1e-7)
        assert s["rho_t"] == pytest.approx(s["rho_inf"] - 2 * t * 0.999 ** t / bc2, rel=1e-7)
        m_hat = s["m"] / s["bc1"]
        if s["rho_t"] > 5:
            rectified += 1
            want = s["p"] - m_hat * 0.1 * s["sqrt(bc2)"] / (np.sqrt(s["v"]) + 1e-8) * s["r"]
        else:
            assert "r" not in s and s["lr / bc1"] == pytest.approx(0.1 / s["bc1"], rel=1e-7)
            want = s["p"] - s["lr / bc1"] * s["m"]
        assert close(s["p_new"], want, scale=np.abs(s["p"]).max()), t
    assert 0 < rectified < len(steps)               # both branches of the rule shown


def test_cli_paths_keras_only_optimizer_takes_its_own_convention():
    r = run("paths", "-o", "adam,lion", "--steps", "20")
    assert r.exit_code == 0, r.output
    assert r.output.strip() == mt.paths("bowl", ["adam", "lion"], steps=20).table()
    assert mt.paths("bowl", ["lion"], steps=5)["lion"].convention == "keras"
