"""The schedules of issue 16 against their peers: PyTorch, Keras 3 and optax goldens
(scripts/goldens_schedules.py, goldens_keras_schedules.py, goldens_optax_schedules.py)
and the peers' own hand-computed values (torch's docstrings and test_lrscheduler.py
targets, Keras's learning_rate_schedule_test.py references). Only NumPy is needed.
"""
import json
import math
import pathlib

import numpy as np
import pytest

from minitrain import schedules
from minitrain.schedules import get, with_warmup

GOLDENS = pathlib.Path(__file__).parent / "goldens"
RTOL = 1e-10          # float64 goldens; observed <= 5e-14 (torch's recursive forms)


def load(path, nested=False):
    """{case: {field: array, "config": dict}} (nested: {(kind, case): ...})."""
    data = np.load(GOLDENS / path, allow_pickle=False)
    cases = {}
    for key in data.files:
        if key == "versions":
            continue
        *case, field = key.split("/")
        cases.setdefault(tuple(case) if nested else case[0], {})[field] = data[key]
    for c in cases.values():
        c["config"] = json.loads(str(c["config"]))
    return cases


def lrs(s, n):
    return np.array([s.lr(t) for t in range(n)])


def moms(s, n):
    return [s.momentum(t) for t in range(n)]


def close(got, gold):
    np.testing.assert_allclose(got, gold, rtol=RTOL, atol=1e-300)


TORCH = {kind: load(f"schedules_{kind}.npz")
         for kind in ("linear", "polynomial", "cyclic", "restarts", "sequential")}
KERAS = load("keras_schedules.npz", nested=True)
OPTAX = load("schedules_optax.npz", nested=True)


def keras_cases(kind):
    return sorted(case for k, case in KERAS if k == kind)


def optax_cases(kind):
    return sorted(case for k, case in OPTAX if k == kind)


# ---- PyTorch ----------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(TORCH["linear"]))
def test_linear_is_torch_linear_lr(case):
    g = TORCH["linear"][case]
    close(lrs(get("linear", **g["config"]), len(g["lr"])), g["lr"])   # torch: recursive


@pytest.mark.parametrize("case", sorted(TORCH["polynomial"]))
def test_polynomial_is_torch_polynomial_lr(case):
    g = TORCH["polynomial"][case]
    close(lrs(get("polynomial", **g["config"]), len(g["lr"])), g["lr"])


@pytest.mark.parametrize("case", sorted(TORCH["cyclic"]))
def test_cyclic_is_torch_cyclic_lr_bitwise(case):
    g = TORCH["cyclic"][case]
    s = get("cyclic", **g["config"])
    n = len(g["lr"])
    got = lrs(s, n)
    np.testing.assert_array_equal(got, g["lr"])                # SGD run
    np.testing.assert_array_equal(got, g["lr_adam"])           # Adam run
    if g["config"].get("cycle_momentum", True):
        np.testing.assert_array_equal(moms(s, n), g["momentum"])
        np.testing.assert_array_equal(moms(s, n), g["beta1"])
    else:                                                      # torch left them alone
        assert moms(s, n) == [None] * n and set(g["momentum"]) == {0.9}


def test_cyclic_goldens_cover_every_mode():
    cfgs = [g["config"] for g in TORCH["cyclic"].values()]
    assert {c.get("mode", "triangular") for c in cfgs} == {"triangular", "triangular2",
                                                           "exp_range"}
    assert any(c.get("step_size_down") == 0 for c in cfgs)
    assert any(c.get("cycle_momentum") is False for c in cfgs)


@pytest.mark.parametrize("case", sorted(TORCH["restarts"]))
def test_cosine_restarts_is_torch_warm_restarts_bitwise(case):
    g = TORCH["restarts"][case]
    np.testing.assert_array_equal(lrs(get("cosine_restarts", **g["config"]), len(g["lr"])),
                                  g["lr"])


@pytest.mark.parametrize("case", sorted(TORCH["sequential"]))
def test_sequential_is_torch_sequential_lr(case):
    g = TORCH["sequential"][case]
    s = get("sequential", **g["config"])                       # children as tables
    n = len(g["lr"])
    close(lrs(s, n), g["lr"])
    for t, m in enumerate(moms(s, n)):          # a child without momentum leaves it alone
        if m is None:
            assert t == 0 or g["momentum"][t] == g["momentum"][t - 1]
        else:
            assert m == g["momentum"][t]


# ---- Keras 3 -----------------------------------------------------------------------------

@pytest.mark.parametrize("case", keras_cases("inverse_time"))
def test_power_is_keras_inverse_time_decay_bitwise(case):
    g = KERAS["inverse_time", case]
    np.testing.assert_array_equal(lrs(get("power", **g["config"]), len(g["lr"])), g["lr"])


@pytest.mark.parametrize("case", keras_cases("polynomial"))
def test_polynomial_is_keras_polynomial_decay_bitwise(case):
    g = KERAS["polynomial", case]
    np.testing.assert_array_equal(lrs(get("polynomial", **g["config"]), len(g["lr"])),
                                  g["lr"])


def test_keras_polynomial_goldens_cycle_past_the_end():
    cfgs = {case: KERAS["polynomial", case]["config"] for case in keras_cases("polynomial")}
    assert any(c.get("cycle") and 400 > 3 * c["total_steps"] for c in cfgs.values())


@pytest.mark.parametrize("case", keras_cases("cosine_warmup"))
def test_cosine_warmup_is_keras_cosine_decay_with_warmup_target(case):
    g = KERAS["cosine_warmup", case]
    assert len(g["lr"]) > g["config"]["total_steps"]
    close(lrs(get("cosine", **g["config"]), len(g["lr"])), g["lr"])


@pytest.mark.parametrize("case", keras_cases("cosine_restarts"))
def test_cosine_restarts_is_keras_cosine_decay_restarts(case):
    g = KERAS["cosine_restarts", case]
    close(lrs(get("cosine_restarts", **g["config"]), len(g["lr"])), g["lr"])


# ---- optax ------------------------------------------------------------------------------

@pytest.mark.parametrize("case", optax_cases("warmup_cosine"))
def test_cosine_is_optax_warmup_cosine_decay_schedule(case):
    g = OPTAX["warmup_cosine", case]
    close(lrs(get("cosine", **g["config"]), len(g["lr"])), g["lr"])


@pytest.mark.parametrize("case", optax_cases("join"))
def test_sequential_is_optax_join_schedules(case):
    g = OPTAX["join", case]
    close(lrs(get("sequential", **g["config"]), len(g["lr"])), g["lr"])


@pytest.mark.parametrize("case", optax_cases("warmup"))
def test_with_warmup_is_optax_linear_schedule_joined(case):
    g = OPTAX["warmup", case]
    cfg = g["config"]
    s = with_warmup(cfg["schedule"], cfg["warmup_steps"], cfg["warmup_start"])
    close(lrs(s, len(g["lr"])), g["lr"])


# ---- the peers' own hand-computed values ------------------------------------------------

def test_torch_linear_lr_docstring():
    # LinearLR(start_factor=0.05, total_iters=40), lr 0.05: the docstring's values after
    # each scheduler.step() (truncated to 6 digits), i.e. minitrain's lr(epoch + 1)
    s = get("linear", lr=0.05, start_factor=0.05, total_steps=40)
    for epoch, value in enumerate([0.003687, 0.004875, 0.006062, 0.00725]):
        assert math.floor(s.lr(epoch + 1) * 1e6) / 1e6 == value
    assert s.lr(0) == 0.05 * 0.05 and all(s.lr(t) == 0.05 for t in (40, 41, 100))


def test_torch_test_lrscheduler_linear_targets():
    # test_linearlr: start_factor 1/2, total_iters 4, lr 0.05
    s = get("linear", lr=0.05, start_factor=0.5, total_steps=4)
    assert lrs(s, 7) == pytest.approx([0.025, 0.03125, 0.0375, 0.04375, 0.05, 0.05, 0.05],
                                      rel=1e-14)


def test_torch_polynomial_lr_docstring():
    # PolynomialLR(total_iters=50, power=0.9), lr 0.05: 0.0490, 0.0481, 0.0472 (after
    # steps 1, 2, 3, truncated), 0.0 from step 50 on
    s = get("polynomial", lr=0.05, total_steps=50, power=0.9)
    assert [math.floor(s.lr(t) * 1e4) / 1e4 for t in (1, 2, 3)] == [0.049, 0.0481, 0.0472]
    assert s.lr(50) == s.lr(99) == 0.0


def test_torch_sequential_lr_docstring():
    # ConstantLR(factor=0.1, total_iters=20) then ExponentialLR(gamma=0.9), milestone 20
    s = get("sequential", schedules=[get("constant", lr=0.005),
                                     get("exponential", lr=0.05, rate=0.9, steps=1)],
            boundaries=[20])
    assert [s.lr(t) for t in (0, 1, 2, 19)] == [0.005] * 4
    assert [round(s.lr(t), 10) for t in (20, 21, 22)] == [0.05, 0.045, 0.0405]


@pytest.mark.parametrize("mode,lr_target,mom_target", [
    ("triangular", [1, 2, 3, 4, 5, 4, 3, 2, 1, 2, 3], [5, 4, 3, 2, 1, 2, 3, 4, 5, 4, 3]),
    ("triangular2", [1, 2, 3, 4, 5, 4, 3, 2, 1, 1.5, 2.0, 2.5, 3.0, 2.5, 2.0, 1.5, 1,
                     1.25, 1.50, 1.75, 2.00, 1.75], None),
])
def test_torch_test_lrscheduler_cyclic_targets(mode, lr_target, mom_target):
    # test_cycle_lr_*_mode: base_lr 1, max_lr 5, step_size_up 4 (momentum 1..5: the
    # test's optimizer is unconstrained; minitrain keeps momentum in [0, 1], so scaled)
    s = get("cyclic", base_lr=1, max_lr=5, step_size_up=4, mode=mode,
            base_momentum=0.1, max_momentum=0.5)
    assert lrs(s, len(lr_target)) == pytest.approx(lr_target, rel=1e-15)
    if mom_target:
        assert moms(s, len(mom_target)) == pytest.approx([m / 10 for m in mom_target])


def test_torch_test_lrscheduler_cyclic_exp_range_targets():
    gamma, xs = 0.9, [0, 0.25, 0.5, 0.75, 1, 0.75, 0.50, 0.25, 0, 0.25, 0.5, 0.75, 1]
    s = get("cyclic", base_lr=1, max_lr=5, step_size_up=4, mode="exp_range", gamma=gamma)
    assert lrs(s, len(xs)) == pytest.approx([1 + x * 4 * gamma ** i
                                             for i, x in enumerate(xs)], rel=1e-14)


def test_keras_polynomial_decay_test_values():
    lr, end = 0.05, 0.001
    assert get("polynomial", lr=lr, total_steps=10).lr(5) == pytest.approx(lr * 0.5)
    for power in (1.0, 0.5):
        s = get("polynomial", lr=lr, total_steps=10, end_lr=end, power=power)
        assert s.lr(10) == pytest.approx(end) and s.lr(15) == pytest.approx(end)
        assert s.lr(5) == pytest.approx((lr - end) * 0.5 ** power + end)
        c = get("polynomial", lr=lr, total_steps=10, end_lr=end, power=power, cycle=True)
        assert c.lr(15) == pytest.approx((lr - end) * 0.25 ** power + end)
    assert get("polynomial", lr=0.001, total_steps=10, cycle=True).lr(0) == 0.001


@pytest.mark.parametrize("staircase", [False, True])
def test_keras_inverse_time_decay_test_values(staircase):
    s = get("power", lr=0.1, steps=10, rate=0.96, staircase=staircase)
    for i in range(11):
        u = i // 10 if staircase else i / 10
        assert s.lr(i) == pytest.approx(0.1 / (1 + 0.96 * u), rel=1e-15)


def keras_np_cosine_decay(step, decay_steps, alpha=0.0):        # Keras's test reference
    step = min(step, decay_steps)
    decay = 0.5 * (1.0 + math.cos(math.pi * step / decay_steps))
    return (1.0 - alpha) * decay + alpha


def keras_np_cosine_decay_restarts(step, decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0):
    fac = 1.0
    while step >= decay_steps:
        step -= decay_steps
        decay_steps *= t_mul
        fac *= m_mul
    decay = fac * 0.5 * (1.0 + math.cos(math.pi * step / decay_steps))
    return (1.0 - alpha) * decay + alpha


def test_keras_cosine_decay_warmup_test_values():
    # test_warmup_decay: initial 0, warmup_target 10, warmup 2000, decay 1000 steps
    s = get("cosine", lr=10.0, total_steps=3000, warmup_steps=2000)
    for step in range(0, 3000, 250):
        expected = (step / 2000 * 10.0 if step < 2001
                    else 10.0 * keras_np_cosine_decay(step - 2000, 1000))
        assert s.lr(step) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("kw", [dict(), dict(alpha=0.1), dict(m_mul=0.9), dict(t_mul=1.0)])
def test_keras_cosine_decay_restarts_test_values(kw):
    t_mul, m_mul, alpha = kw.get("t_mul", 2.0), kw.get("m_mul", 1.0), kw.get("alpha", 0.0)
    s = get("cosine_restarts", lr=1.0, first_steps=1000, t_mult=t_mul, m_mul=m_mul,
            min_lr=alpha)
    for step in range(0, 1500, 250):
        expected = keras_np_cosine_decay_restarts(step, 1000, t_mul, m_mul, alpha)
        assert s.lr(step) == pytest.approx(expected, rel=1e-14)


# ---- formulas the goldens do not pin down ---------------------------------------------

def test_cosine_warmup_equals_with_warmup_of_the_rest():
    c = get("cosine", lr=0.3, total_steps=500, min_lr=0.01, warmup_steps=60,
            warmup_start=0.02)
    w = with_warmup(get("cosine", lr=0.3, total_steps=440, min_lr=0.01), 60, 0.02)
    np.testing.assert_allclose(lrs(c, 700), lrs(w, 700), rtol=1e-15, atol=0)


def test_cosine_restarts_float_t_mult_boundaries():
    # lengths 10, 15, 22.5, 33.75: restarts at 10, 25, 47.5 (-> 48), 81.25 (-> 82)
    s = get("cosine_restarts", lr=1.0, first_steps=10, t_mult=1.5)
    starts = [t for t in range(1, 200) if s.lr(t) > s.lr(t - 1)]
    assert starts[:4] == [10, 25, 48, 82]
    assert s.lr(10) == s.lr(25) == 1.0
    assert s.lr(48) == pytest.approx((1 + math.cos(math.pi * 0.5 / 33.75)) / 2, rel=1e-14)


def test_cyclic_step_size_down_default_and_momentum_shape():
    s = get("cyclic", base_lr=0.1, max_lr=1.0, step_size_up=3)
    assert [round(s.lr(t), 12) for t in range(7)] == [0.1, 0.4, 0.7, 1.0, 0.7, 0.4, 0.1]
    assert s.momentum(3) == 0.8 and s.momentum(0) == s.momentum(6) == 0.9
    assert schedules.cycles_momentum(s)
