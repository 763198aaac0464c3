"""What every optimizer does to the gradient before its update rule (maximize, clipping,
weight-decay exclusion), SGD dampening, Adagrad lr_decay, RAdam and Lion, and the
numpy-free registry queries.

Goldens: tests/goldens/optim_extras.npz (torch 2.13, torch.nn.utils clipping, param
groups with weight_decay=0) from scripts/goldens_optim.py, and keras_extras.npz /
keras_lion.npz (Keras 3, exclude_from_weight_decay) from scripts/goldens_keras.py;
optim_radam.npz is checked by test_optim.py. The hand-computed values are those of
Keras's own tests (keras/src/optimizers/optimizer_test.py, lion_test.py, adamw_test.py).
"""
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minitrain as mt
from minitrain import optim
from ref_optim import prepare

GOLDENS = pathlib.Path(__file__).parent / "goldens"
TOL = {"float32": 1e-5, "float64": 1e-10}


def golden_run(z, case, dtype, convention):
    """minitrain on the golden problem of ``z`` for one case (layout, excluded blocks)."""
    hp = case["hp"]
    opt = optim.get(case["name"], convention=convention, **hp)
    layout = case.get("layout")
    if layout:
        opt.set_layout(layout)
    if case.get("exclude"):
        mask = np.zeros(z["p0"].size, bool)
        for i in case["exclude"]:
            mask[slice(*layout[i])] = True
        opt.exclude_from_weight_decay(mask)
    lr0 = opt.lr
    p = z["p0"].astype(dtype)
    out = np.empty((len(z["lr_factor"]), p.size), dtype)
    for t in range(len(z["lr_factor"])):
        opt.lr = lr0 * float(z["lr_factor"][t])
        g = z["A"].astype(dtype) * (p - z["c"].astype(dtype)) + z["noise"][t].astype(dtype)
        opt.step(p, g)
        out[t] = p
    return lr0, out


def cases(file):
    with np.load(GOLDENS / file) as z:
        for k, case in enumerate(json.loads(str(z["cases"]))):
            for dtype in ("float32", "float64"):
                label = "-".join([case["name"], *case["hp"], *(["layout"] if case.get("layout")
                                                               else [])])
                yield pytest.param(k, case, dtype, id=f"{k}-{label}-{dtype}")


@pytest.mark.parametrize("k,case,dtype", list(cases("optim_extras.npz")))
def test_matches_torch(k, case, dtype):
    """maximize, dampening, lr_decay, clip_grad_norm_ (per tensor and over all),
    clip_grad_value_ and a weight_decay=0 param group, under a changing lr."""
    z = np.load(GOLDENS / "optim_extras.npz")
    lr0, got = golden_run(z, case, dtype, "torch")
    assert lr0 == float(z[f"lr0_{k}"])
    gold = z[f"traj_{k}_{dtype}"]
    np.testing.assert_allclose(got, gold, rtol=TOL[dtype], atol=TOL[dtype] * np.abs(gold).max())


@pytest.mark.parametrize("k,case,dtype", list(cases("keras_extras.npz")))
def test_matches_keras(k, case, dtype):
    """clipnorm per variable, global_clipnorm, clipvalue, exclude_from_weight_decay."""
    z = np.load(GOLDENS / "keras_extras.npz")
    _, got = golden_run(z, case, dtype, "keras")
    gold = z[f"traj_{k}_{dtype}"]
    tol = 1e-12 if dtype == "float64" else TOL[dtype]
    np.testing.assert_allclose(got, gold, rtol=tol, atol=tol * np.abs(gold).max())


def test_the_options_change_the_trajectories():
    """Each golden case differs from the same optimizer without its option (so the goldens
    test something): clipping is active, the excluded block moves differently."""
    for file, convention in (("optim_extras.npz", "torch"), ("keras_extras.npz", "keras")):
        z = np.load(GOLDENS / file)
        for k, case in enumerate(json.loads(str(z["cases"]))):
            plain = {"name": case["name"], "hp": {"lr": case["hp"]["lr"]}}
            if "weight_decay" in case["hp"] and not case.get("exclude"):
                plain["hp"]["weight_decay"] = case["hp"]["weight_decay"]
            _, base = golden_run(z, plain, "float64", convention)
            gold = z[f"traj_{k}_float64"]
            assert np.abs(base - gold).max() > 1e-6 * np.abs(gold).max(), (file, case)


# ----------------------------------------------------------------- peers' own numbers
def sgd_prepared(g, **hp):
    """The gradient the update rule sees: one SGD step with lr 1 from p = 0 is -g'."""
    layout = hp.pop("layout", None)
    opt = optim.get("sgd", lr=1.0, **hp)
    if layout:
        opt.set_layout(layout)
    p = np.zeros_like(g)
    opt.step(p, g)
    return -p


def test_keras_clip_values():
    """keras/src/optimizers/optimizer_test.py: test_clip_norm, test_clip_value,
    test_global_clip_norm."""
    g = np.array([100.0, 100.0], np.float32)
    np.testing.assert_allclose(sgd_prepared(g, clipnorm=1.0, convention="keras"),
                               [2 ** 0.5 / 2] * 2, rtol=1e-6)
    np.testing.assert_allclose(sgd_prepared(g, clipvalue=1.0, convention="keras"), [1, 1])
    g = np.array([50.0, 100.0], np.float32)
    np.testing.assert_allclose(sgd_prepared(g, global_clipnorm=1.0, convention="keras"),
                               g / np.linalg.norm(g), rtol=1e-6)


def test_torch_clip_values():
    """torch.nn.utils.clip_grad_norm_: g * max_norm / (norm + 1e-6) when norm > max_norm,
    untouched below; clip_grad_value_ clamps."""
    g = np.array([3.0, 4.0])
    np.testing.assert_array_equal(sgd_prepared(g, clipnorm=1.0), g * (1.0 / (5.0 + 1e-6)))
    np.testing.assert_array_equal(sgd_prepared(g, clipnorm=10.0), g)
    np.testing.assert_array_equal(sgd_prepared(g, clipvalue=3.5), [3.0, 3.5])
    # per block (each tensor clipped alone) vs over all (one total norm)
    g = np.array([3.0, 4.0, 0.0, 0.5])
    np.testing.assert_allclose(sgd_prepared(g, clipnorm=1.0, layout=[(0, 2), (2, 4)]),
                               [3 / 5, 4 / 5, 0.0, 0.5], rtol=1e-5)
    n = np.sqrt(25.25)
    np.testing.assert_allclose(sgd_prepared(g, global_clipnorm=1.0, layout=[(0, 2), (2, 4)]),
                               g / (n + 1e-6), rtol=1e-15)


def test_lion_keras_values():
    """keras/src/optimizers/lion_test.py: test_single_step and test_correctness_with_golden."""
    opt = mt.optim.get("lion", lr=0.5)
    p = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    opt.step(p, np.array([1.0, 6.0, 7.0, 2.0], np.float32))
    np.testing.assert_allclose(p, [0.5, 1.5, 2.5, 3.5], rtol=1e-4, atol=1e-4)
    opt = mt.optim.Lion()
    x = np.ones(10)
    grads = np.arange(0.1, 1.1, 0.1)
    golden = [0.999, 0.998, 0.997, 0.996, 0.995]
    opt.step(x, np.full(10, 0.01))
    for value in golden:
        np.testing.assert_allclose(x, value, rtol=5e-4, atol=5e-4)
        opt.step(x, grads)


@pytest.mark.parametrize("name", ["adamw", "lion"])
def test_keras_weight_decay_exclusion_values(name):
    """keras/src/optimizers/{adamw,lion}_test.py test_weight_decay: three optimizers with
    lr 1 and weight_decay 0.004 on zero gradients; var1 is decayed by each, the excluded
    variables by none. Here var1 and the excluded var are entries of one flat array."""
    p = np.array([2.0], np.float32)                       # optimizer_1: var1 alone
    optim.get(name, lr=1.0, weight_decay=0.004, convention="keras").step(p, np.zeros(1, "f4"))
    var1 = p[0]
    for _ in range(2):                                    # optimizer_2, optimizer_3
        opt = optim.get(name, lr=1.0, weight_decay=0.004, convention="keras")
        opt.exclude_from_weight_decay(np.array([False, True]))
        both = np.array([var1, 2.0], np.float32)
        opt.step(both, np.zeros(2, np.float32))
        var1 = both[0]
        assert both[1] == 2.0
    assert var1 == pytest.approx(1.9760959, abs=1e-6)


# ----------------------------------------------------------------- properties
NAMES = optim.names()


@pytest.mark.parametrize("name", NAMES)
def test_maximize_is_the_step_on_minus_g(name):
    for dtype in (np.float32, np.float64):
        rng = np.random.default_rng(3)
        p0 = rng.normal(size=50).astype(dtype)
        a, b = p0.copy(), p0.copy()
        up = optim.get(name, maximize=True, weight_decay=0.1, lr=0.01)
        down = optim.get(name, weight_decay=0.1, lr=0.01)
        for t in range(5):
            g = rng.normal(size=50).astype(dtype)
            up.step(a, g)
            down.step(b, -g)
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("convention", optim.CONVENTIONS)
def test_excluded_entries_move_as_without_weight_decay(name, convention):
    """Masked entries follow the run with weight_decay=0, the others the run with it,
    bit for bit (each entry's update is independent of the others)."""
    if convention not in optim.conventions(name):
        return
    rng = np.random.default_rng(5)
    n = 40
    mask = rng.random(n) < 0.4
    p0 = rng.normal(size=n)
    grads = rng.normal(size=(6, n))
    runs = {}
    for label, wd, exclude in (("masked", 0.2, mask), ("all", 0.2, None), ("none", 0.0, None)):
        opt = optim.get(name, lr=0.05, weight_decay=wd, convention=convention)
        if exclude is not None:
            opt.exclude_from_weight_decay(exclude)
        p = p0.copy()
        for t, g in enumerate(grads):
            opt.lr = 0.05 * (1 + 0.3 * np.sin(t))
            opt.step(p, g)
        runs[label] = p
    np.testing.assert_array_equal(runs["masked"][mask], runs["none"][mask])
    np.testing.assert_array_equal(runs["masked"][~mask], runs["all"][~mask])
    assert not np.array_equal(runs["all"][mask], runs["none"][mask])


def test_exclude_by_indices_equals_the_mask_and_accumulates():
    rng = np.random.default_rng(0)
    p0, g = rng.normal(size=10), rng.normal(size=10)
    a, b = p0.copy(), p0.copy()
    by_mask = optim.get("adamw")
    by_mask.exclude_from_weight_decay(np.isin(np.arange(10), [1, 3, 9]))
    by_index = optim.get("adamw")
    by_index.exclude_from_weight_decay([1, 3])         # checked at the first step
    by_index.exclude_from_weight_decay(np.array([-1]))
    for _ in range(3):
        by_mask.step(a, g)
        by_index.step(b, g)
    np.testing.assert_array_equal(a, b)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_gradient_preparation_matches_the_numpy_reference(data):
    n = data.draw(st.integers(1, 30), label="n")
    cut = data.draw(st.integers(0, n), label="layout cut")
    layout = [(0, cut), (cut, n)] if 0 < cut < n else None
    kind = data.draw(st.sampled_from(["clipnorm", "clipvalue", "global_clipnorm", None]))
    keras = data.draw(st.booleans(), label="keras")
    maximize = data.draw(st.booleans(), label="maximize")
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    scale = data.draw(st.floats(1e-3, 1e3), label="gradient scale")
    g = (np.random.default_rng(data.draw(st.integers(0, 2**31))).normal(size=n) * scale)
    g = g.astype(dtype)
    hp = {"maximize": maximize}
    if kind:
        hp[kind] = data.draw(st.floats(1e-2, 10.0), label="threshold")
    want = prepare(g, keras=keras, blocks=layout, **hp)
    got = sgd_prepared(g, convention="keras" if keras else "torch", layout=layout, **hp)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())


def test_a_nan_gradient_stays_visible_through_clipping():
    for hp in ({"clipnorm": 1.0}, {"global_clipnorm": 1.0}, {"clipvalue": 1.0}):
        for convention in optim.CONVENTIONS:
            g = np.array([1.0, np.nan, 2.0])
            out = sgd_prepared(g, convention=convention, **hp)
            assert np.isnan(out[1]), (hp, convention)


def test_torch_clipping_of_non_finite_gradients_follows_torch():
    """clip_grad_norm_: an inf norm gives the factor 0 (finite entries become 0), a NaN
    norm makes the whole tensor NaN."""
    out = sgd_prepared(np.array([1.0, np.inf, 2.0]), clipnorm=1.0)
    assert out[0] == 0 and out[2] == 0 and np.isnan(out[1])
    out = sgd_prepared(np.array([1.0, np.nan, 2.0, 3.0]), clipnorm=1.0, layout=[(0, 3), (3, 4)])
    assert np.isnan(out[:3]).all() and out[3] == 1.0 / (3.0 + 1e-6) * 3.0


def test_grads_are_not_modified():
    g = np.array([3.0, -4.0])
    opt = optim.get("adam", clipnorm=0.1, maximize=True)
    opt.exclude_from_weight_decay([True, False])
    opt.step(np.ones(2), g)
    np.testing.assert_array_equal(g, [3.0, -4.0])


def test_dampening_and_lr_decay_follow_the_equations():
    g = np.array([1.0, -2.0])
    opt = optim.get("momentum", lr=0.1, momentum=0.5, dampening=0.25)
    p = np.zeros(2)
    opt.step(p, g)                      # buf = g (torch: no dampening on the first step)
    opt.step(p, g)                      # buf = 0.5 g + 0.75 g
    np.testing.assert_allclose(p, -0.1 * g - 0.1 * 1.25 * g, rtol=1e-15)
    opt = optim.get("adagrad", lr=0.1, lr_decay=0.5, eps=1e-300)
    p = np.zeros(2)
    opt.step(p, g)                      # clr = 0.1, s = g^2
    opt.step(p, g)                      # clr = 0.1 / 1.5, s = 2 g^2
    np.testing.assert_allclose(p, -0.1 * np.sign(g) - 0.1 / 1.5 * g / np.sqrt(2 * g * g),
                               rtol=1e-15)


# ----------------------------------------------------------------- errors, registry
def test_errors_are_one_line_and_name_the_parameter():
    cases = [
        (lambda: optim.get("adam", clipnorm=1.0, clipvalue=1.0), ValueError,
         r"^Adam: give at most one of clipnorm, clipvalue and global_clipnorm"),
        (lambda: optim.get("sgd", clipnorm=0.0), ValueError, r"^SGD: clipnorm must be > 0"),
        (lambda: optim.get("lion", convention="torch"), ValueError,
         r"^optimizer lion has no convention 'torch'; it has keras$"),
        (lambda: optim.Lion(convention="torch"), ValueError,
         r"^Lion: convention must be 'keras' \(Lion has no torch form\), got 'torch'$"),
        (lambda: optim.get("radam", convention="keras"), ValueError,
         r"^optimizer radam has no convention 'keras'; it has torch$"),
        (lambda: optim.get("nesterov", dampening=0.1), ValueError,
         r"^SGD: nesterov=True requires dampening = 0"),
        (lambda: optim.get("momentum", dampening=0.1, convention="keras"), ValueError,
         r"^SGD: dampening must be 0 with convention='keras'"),
        (lambda: optim.get("adagrad", lr_decay=0.1, convention="keras"), ValueError,
         r"^Adagrad: lr_decay must be 0 with convention='keras'"),
        (lambda: optim.get("momentum", dampening=1.5), ValueError, r"dampening must be in"),
        (lambda: optim.get("adam", maximize=1), TypeError, r"maximize must be True or False"),
        (lambda: optim.get("adam").set_layout([(0, 3), (4, 5)]), ValueError,
         r"^Adam.set_layout: blocks must be consecutive"),
        (lambda: optim.get("adam").exclude_from_weight_decay(np.ones((2, 2), bool)),
         ValueError, r"mask must be 1-D"),
        (lambda: optim.get("adam").exclude_from_weight_decay([0.5]), TypeError,
         r"boolean mask or integer indices"),
    ]
    for call, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            call()
    opt = optim.get("adam")
    opt.set_layout([(0, 2), (2, 5)])
    with pytest.raises(ValueError, match=r"the layout covers 5 entries, the parameters have 4"):
        opt.step(np.ones(4), np.ones(4))
    opt = optim.get("adam", weight_decay=0.1)
    opt.exclude_from_weight_decay(np.array([True, False, True]))
    with pytest.raises(ValueError, match=r"^Adam.exclude_from_weight_decay: mask has 3 entries, "
                                         r"the parameters have 4$"):
        opt.step(np.ones(4), np.ones(4))
    opt = optim.get("adam", weight_decay=0.1)
    opt.step(np.ones(4), np.ones(4))
    with pytest.raises(ValueError, match=r"indices must be in \[-4, 4\), got 0..7"):
        opt.exclude_from_weight_decay([0, 7])


def test_registry_is_the_one_home():
    assert {n: optim.default_lr(n) for n in optim.names()} == {
        "sgd": 0.1, "momentum": 0.01, "nesterov": 0.01, "adagrad": 0.05, "rmsprop": 1e-3,
        "adam": 1e-3, "adamax": 2e-3, "nadam": 2e-3, "adamw": 1e-3, "radam": 1e-3,
        "lion": 1e-4}
    assert [optim.momentum_attr(n) for n in optim.names()] == [
        "momentum"] * 3 + [None, "momentum"] + ["beta1"] * 6
    for name in optim.names():
        opt = optim.get(name)
        assert type(opt).momentum_attr == optim.momentum_attr(name)
        assert opt.convention == optim.conventions(name)[0]
        assert {k: opt.hyperparameters()[k] for k in optim.defaults(name)} == \
            optim.defaults(name)
    assert optim.get("lion").convention == "keras" == optim.Lion().convention
    assert optim.conventions("radam") == ("torch",)
    options = optim.options()
    assert "lr" not in options
    for hp, info in options.items():
        assert info["type"] in (float, int, bool) and "\n" not in info["help"]
        assert info["optimizers"] == tuple(n for n in optim.names()
                                           if hp in optim.hyperparameters(n))
    assert options["clipnorm"]["optimizers"] == optim.names()
    assert options["dampening"]["optimizers"] == ("sgd", "momentum", "nesterov")


def test_registry_queries_import_no_numpy():
    code = ("import sys, minitrain.optim as o; o.names(); o.defaults('adam'); o.options(); "
            "o.default_lr('sgd'); o.momentum_attr('adam'); o.conventions('lion'); "
            "o.hyperparameters('nadam'); o.describe('lion'); o.parse_spec('adam@keras'); "
            "print(sorted(m for m in ('numpy', 'numba') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_layout_and_mask_survive_load_state_dict():
    """They describe the model, not the optimizer's state: load_state_dict keeps them."""
    opt = optim.get("adamw", clipnorm=0.5)
    opt.set_layout([(0, 2), (2, 4)])
    opt.exclude_from_weight_decay(np.array([False, False, True, True]))
    p = np.ones(4)
    opt.step(p, np.arange(4.0))
    saved = opt.state_dict()
    q = p.copy()
    opt.step(p, np.arange(4.0))
    opt.load_state_dict(saved)
    opt.step(q, np.arange(4.0))
    np.testing.assert_array_equal(p, q)
