"""Schedules: formulas at known steps, PyTorch goldens step for step, resume, validation.

The goldens (tests/goldens/schedules_*.npz) come from scripts/goldens_schedules.py,
which runs torch's OneCycleLR, ReduceLROnPlateau and CosineAnnealingLR; these tests
only need NumPy.
"""
import doctest
import json
import math
import pathlib

import numpy as np
import pytest

import minitrain as mt
from minitrain import schedules
from minitrain.schedules import get

GOLDENS = pathlib.Path(__file__).parent / "goldens"


def load_cases(kind):
    data = np.load(GOLDENS / f"schedules_{kind}.npz", allow_pickle=False)
    cases = {}
    for key in data.files:
        case, field = key.split("/")
        cases.setdefault(case, {})[field] = data[key]
    for c in cases.values():
        c["config"] = json.loads(str(c["config"]))
    return cases


ONECYCLE = load_cases("onecycle")
PLATEAU = load_cases("plateau")
COSINE = load_cases("cosine")


# ---- formulas at known steps ----------------------------------------------------------

def test_constant():
    s = get("constant", lr=0.03)
    assert [s.lr(t) for t in (0, 1, 10**9)] == [0.03] * 3
    assert s(7) == 0.03 and s.momentum(7) is None


@pytest.mark.parametrize("power", [1, 0.5, 2.0])
def test_power_formula(power):
    s = get("power", lr=0.1, steps=250, power=power)
    for t in [0, 1, 249, 250, 251, 999, 10**6]:
        assert s.lr(t) == 0.1 / (1 + t / 250) ** power
    assert s.lr(0) == 0.1
    assert math.isclose(s.lr(250), 0.1 / 2 ** power, rel_tol=1e-15)


def test_power_default_power_is_one():
    assert get("power", lr=1.0, steps=10).lr(30) == 0.25


@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_formula(staircase):
    s = get("exponential", lr=0.1, rate=0.5, steps=100, staircase=staircase)
    for t in [0, 1, 50, 99, 100, 101, 250, 1000]:
        e = math.floor(t / 100) if staircase else t / 100
        assert s.lr(t) == 0.1 * 0.5 ** e
    assert s.lr(100) == 0.05 and s.lr(200) == 0.025
    assert (s.lr(99) == 0.1) is staircase


def test_exponential_default_rate():
    s = get("exponential", lr=1.0, steps=10)
    assert math.isclose(s.lr(10), 0.1, rel_tol=1e-15) and math.isclose(s.lr(5), 0.1 ** 0.5)


def test_piecewise_changes_at_the_boundary():
    s = get("piecewise", boundaries=[100, 200], values=[0.1, 0.01, 0.001])
    expected = {0: 0.1, 99: 0.1, 100: 0.01, 199: 0.01, 200: 0.001, 10**6: 0.001}
    assert {t: s.lr(t) for t in expected} == expected
    assert all(s.lr(t) == [0.1, 0.01, 0.001][np.searchsorted([100, 200], t, "right")]
               for t in range(300))


def test_piecewise_no_boundaries_is_constant():
    assert get("piecewise", boundaries=[], values=[0.5]).lr(123) == 0.5


@pytest.mark.parametrize("start", [0.0, 0.02])
def test_cosine_formula_with_warmup(start):
    # warm-up linear from warmup_start (lr 0 at step 0 by default) to lr at step W, as
    # Keras CosineDecay(warmup_target) and optax warmup_cosine_decay_schedule; it was
    # lr*(t+1)/(W+1) before (issue 16)
    lr, T, W, lo = 0.1, 1000, 50, 1e-3
    s = get("cosine", lr=lr, total_steps=T, min_lr=lo, warmup_steps=W, warmup_start=start)
    assert s.lr(0) == start
    for t in range(W):
        assert math.isclose(s.lr(t), start + (lr - start) * t / W, rel_tol=1e-15)
    for t in range(W, T):
        expected = lo + (lr - lo) / 2 * (1 + math.cos(math.pi * (t - W) / (T - W)))
        assert math.isclose(s.lr(t), expected, rel_tol=1e-13)
    assert s.lr(W) == lr
    assert s.lr(T) == s.lr(T + 1) == s.lr(10 * T) == lo       # past the end: final value
    assert start == s.lr(0) < s.lr(W - 1) < lr and s.momentum(0) is None


def test_onecycle_hand_values():
    s = get("onecycle", max_lr=1.0, total_steps=20)
    assert s.lr(0) == 0.040000000000000036                   # torch's cos rounding
    assert s.lr(5) == 1.0 and s.momentum(5) == 0.85          # peak at pct*T - 1
    assert s.lr(19) == 1.0 / 25 / 1e4 and s.momentum(19) == 0.95
    lin = get("onecycle", max_lr=1.0, total_steps=20, anneal="linear", three_phase=True)
    assert lin.lr(0) == 0.04 and lin.lr(5) == 1.0
    assert math.isclose(lin.lr(10), 0.04) and math.isclose(lin.lr(19), 4e-6)
    assert [lin.momentum(t) for t in (0, 5)] == [0.95, 0.85]
    assert all(lin.momentum(t) == 0.95 for t in range(10, 25))   # phase 3: constant max


@pytest.mark.parametrize("name,kw", [
    ("onecycle", dict(max_lr=0.1, total_steps=100)),
    ("onecycle", dict(max_lr=0.1, total_steps=100, anneal="linear", three_phase=True)),
    ("cosine", dict(lr=0.1, total_steps=100, warmup_steps=10)),
])
def test_past_the_end_returns_the_final_value(name, kw):
    s = get(name, **kw)
    last = kw["total_steps"] - 1 if name == "onecycle" else kw["total_steps"]
    for t in (last, last + 1, last + 1000):
        assert s.lr(t) == s.lr(last) and s.momentum(t) == s.momentum(last)
    assert s.lr(last) >= 0


# ---- PyTorch goldens ------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(ONECYCLE))
def test_onecycle_matches_torch_bitwise(case):
    g = ONECYCLE[case]
    s = get("onecycle", **g["config"])
    T = g["config"]["total_steps"]
    lr = np.array([s.lr(t) for t in range(T)])
    np.testing.assert_array_equal(lr, g["lr"])                 # SGD run
    np.testing.assert_array_equal(lr, g["lr_adam"])            # Adam run
    if g["config"].get("cycle_momentum", True):
        mom = np.array([s.momentum(t) for t in range(T)])
        np.testing.assert_array_equal(mom, g["momentum"])      # SGD momentum
        np.testing.assert_array_equal(mom, g["beta1"])         # Adam betas[0]
    else:
        assert all(s.momentum(t) is None for t in range(T))
        assert set(g["momentum"]) == {0.9} and set(g["beta1"]) == {0.9}   # torch left them


def test_onecycle_goldens_cover_the_modes():
    cfgs = [g["config"] for g in ONECYCLE.values()]
    for anneal in ("cos", "linear"):
        for three in (False, True):
            assert any(c.get("anneal", "cos") == anneal and c.get("three_phase", False) == three
                       for c in cfgs)
    assert max(c["total_steps"] for c in cfgs) >= 1000


def replay(s, metrics):
    out = {"lr": [], "best": [], "num_bad": [], "cooldown": []}
    for m in metrics:
        s.observe(m)
        out["lr"].append(s.lr(0))
        out["best"].append(s.best)
        out["num_bad"].append(s.num_bad_epochs)
        out["cooldown"].append(s.cooldown_counter)
    return {k: np.array(v) for k, v in out.items()}


@pytest.mark.parametrize("case", sorted(PLATEAU))
def test_plateau_matches_torch_bitwise(case):
    g = PLATEAU[case]
    got = replay(get("plateau", **g["config"]), g["metric"])
    for key in ("lr", "best", "num_bad", "cooldown"):
        np.testing.assert_array_equal(got[key], g[key], err_msg=f"{case}: {key}")


def test_plateau_goldens_exercise_every_rule():
    cfgs = {c: g["config"] for c, g in PLATEAU.items()}
    assert {c.get("mode", "min") for c in cfgs.values()} == {"min", "max"}
    assert {c.get("threshold_mode", "rel") for c in cfgs.values()} == {"rel", "abs"}
    assert any(c.get("cooldown", 0) > 0 for c in cfgs.values())
    hit_floor = [c for c, g in PLATEAU.items() if cfgs[c].get("min_lr", 0) > 0
                 and g["lr"].min() == cfgs[c]["min_lr"]]
    assert hit_floor                                           # min_lr reached
    assert np.isnan(PLATEAU["nan_p1"]["metric"]).any()
    assert len(PLATEAU["default_1000"]["metric"]) == 1000
    assert PLATEAU["slow_rel_p2"]["lr"].min() == 1.0           # gains within threshold


def test_plateau_flat_metric_reduction_epochs():
    # torch: patience 2, cooldown 2 -> reductions at epoch indices 3, 8, 13 (gap 5)
    s = get("plateau", lr=1.0, factor=0.5, patience=2, cooldown=2, threshold=0.0)
    cuts = [i for i in range(16) if s.observe(10.0)]
    assert cuts == [3, 8, 13] and s.num_reductions == 3 and s.lr(0) == 0.125


@pytest.mark.parametrize("case", sorted(COSINE))
def test_cosine_matches_torch_cosine_annealing(case):
    g = COSINE[case]
    s = get("cosine", **g["config"])
    lr = np.array([s.lr(t) for t in range(len(g["lr"]))])
    # torch computes it recursively (chainable form); equal to rounding
    np.testing.assert_allclose(lr, g["lr"], rtol=1e-12, atol=1e-15)


# ---- plateau wrapping a base schedule -------------------------------------------------

def test_plateau_with_base_multiplies_the_base_lr():
    base = get("cosine", lr=0.1, total_steps=100)
    s = get("plateau", base=base, factor=0.5, patience=0, min_lr=0.01)
    assert [s.lr(t) for t in range(100)] == [base.lr(t) for t in range(100)]
    s.observe(1.0)
    assert s.observe(1.0) is True                              # 2nd flat epoch: cut
    for t in range(101):
        b = base.lr(t)
        assert s.lr(t) == max(b * 0.5, min(b, 0.01))
    assert s.lr(0) == 0.05 and s.lr(99) == base.lr(99)        # floor never raises the base
    assert s.state_dict()["current_lr"] is None and s.state_dict()["scale"] == 0.5


def test_plateau_passes_through_base_momentum():
    base = get("onecycle", max_lr=0.1, total_steps=50)
    s = get("plateau", base=base)
    assert s.momentum(10) == base.momentum(10)
    assert get("plateau", lr=0.1).momentum(10) is None


# ---- resume ---------------------------------------------------------------------------

def test_plateau_resume_continues_the_same_sequence():
    g = PLATEAU["min_rel_p5_cd3"]
    metrics, cfg = g["metric"], g["config"]
    ref = get("plateau", **cfg)
    expected = replay(ref, metrics)["lr"]
    first = get("plateau", **cfg)
    replay(first, metrics[:137])
    state = json.loads(json.dumps(first.state_dict()))         # survives a JSON round trip
    fresh = get("plateau", **cfg)
    fresh.load_state_dict(state)
    rest = replay(fresh, metrics[137:])["lr"]
    np.testing.assert_array_equal(rest, expected[137:])
    assert fresh.state_dict() == ref.state_dict()


def test_plateau_state_dict_round_trip_before_any_metric():
    s = get("plateau", lr=0.1, mode="max")
    t = get("plateau", lr=0.1, mode="max")
    t.load_state_dict(s.state_dict())
    assert t.state_dict() == s.state_dict() and t.best == -math.inf


@pytest.mark.parametrize("name,kw", [
    ("constant", dict(lr=0.1)),
    ("power", dict(lr=0.1, steps=10)),
    ("exponential", dict(lr=0.1, steps=10, staircase=True)),
    ("piecewise", dict(boundaries=[5], values=[1.0, 0.1])),
    ("onecycle", dict(max_lr=0.1, total_steps=100, three_phase=True)),
    ("cosine", dict(lr=0.1, total_steps=100, warmup_steps=5)),
])
def test_stateless_resume_is_pure(name, kw):
    a = get(name, **kw)
    seq = [(a.lr(t), a.momentum(t)) for t in range(120)]
    b = get(name, **kw)
    b.load_state_dict(a.state_dict())
    assert a.state_dict() == {}
    assert [(b.lr(t), b.momentum(t)) for t in range(60, 120)] == seq[60:]   # any order
    assert [(a.lr(t), a.momentum(t)) for t in reversed(range(120))] == seq[::-1]


# ---- protocol, registry, repr ---------------------------------------------------------

def test_public_access_and_registry():
    assert mt.schedules is schedules
    assert schedules.names() == ["constant", "power", "exponential", "piecewise", "plateau",
                                 "onecycle", "cosine", "polynomial", "linear", "cyclic",
                                 "cosine_restarts", "sequential"]
    for name in schedules.names():
        assert isinstance(schedules.describe(name), str) and "\n" not in schedules.describe(name)


def test_parameters_match_design_table():
    R = schedules.REQUIRED
    assert schedules.parameters("constant") == {"lr": R}
    assert schedules.parameters("power") == {"lr": R, "steps": R, "power": 1, "rate": 1.0,
                                             "staircase": False}
    assert schedules.parameters("exponential") == {"lr": R, "rate": 0.1, "steps": R,
                                                    "staircase": False}
    assert schedules.parameters("piecewise") == {"boundaries": R, "values": R,
                                                  "boundary_inclusive": False}   # issue 10
    assert schedules.parameters("plateau") == {
        "lr": None, "factor": 0.1, "patience": 10, "mode": "min", "threshold": 1e-4,
        "threshold_mode": "rel", "cooldown": 0, "min_lr": 0, "eps": 1e-8, "base": None}
    assert schedules.parameters("onecycle") == {
        "max_lr": R, "total_steps": R, "pct_start": 0.3, "anneal": "cos", "div_factor": 25,
        "final_div_factor": 1e4, "three_phase": False, "cycle_momentum": True,
        "base_momentum": 0.85, "max_momentum": 0.95}
    assert schedules.parameters("cosine") == {"lr": R, "total_steps": R, "min_lr": 0,
                                              "warmup_steps": 0, "warmup_start": 0,
                                              "periodic": False}
    assert schedules.parameters("polynomial") == {"lr": R, "total_steps": R, "end_lr": 0.0,
                                                  "power": 1.0, "cycle": False}
    assert schedules.parameters("linear") == {"lr": R, "start_factor": 1 / 3,
                                              "end_factor": 1.0, "total_steps": 5}
    assert schedules.parameters("cyclic") == {
        "base_lr": R, "max_lr": R, "step_size_up": 2000, "step_size_down": None,
        "mode": "triangular", "gamma": 1.0, "cycle_momentum": True, "base_momentum": 0.8,
        "max_momentum": 0.9}
    assert schedules.parameters("cosine_restarts") == {"lr": R, "first_steps": R,
                                                       "t_mult": 1.0, "m_mul": 1.0,
                                                       "min_lr": 0.0}
    assert schedules.parameters("sequential") == {"schedules": R, "boundaries": R}


def test_repr_and_call():
    s = get("onecycle", max_lr=0.01, total_steps=100)
    assert repr(s).startswith("onecycle(max_lr=0.01, total_steps=100, pct_start=0.3")
    assert s(17) == s.lr(17)
    assert repr(get("piecewise", boundaries=[3], values=[1, 2])) == \
        "piecewise(boundaries=[3], values=[1.0, 2.0])"
    p = get("plateau", base=get("constant", lr=0.1))
    assert repr(p).startswith("plateau(factor=0.1,") and repr(p).endswith("base=constant(lr=0.1))")


def test_schedules_are_immutable():
    s = get("cosine", lr=0.1, total_steps=10)
    with pytest.raises(AttributeError, match="immutable"):
        s.total_steps = 20
    with pytest.raises(AttributeError, match="immutable"):
        get("plateau", lr=0.1).factor = 0.5


def test_numpy_integer_steps():
    s = get("onecycle", max_lr=0.1, total_steps=100)
    assert s.lr(np.int64(30)) == s.lr(30) and s.momentum(np.int32(3)) == s.momentum(3)


def test_doctests():
    result = doctest.testmod(schedules, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 10 and result.failed == 0


# ---- every validation error -----------------------------------------------------------

ERRORS = [
    # registry
    ("nope", {}, ValueError, r"unknown schedule 'nope'; valid: constant, power"),
    ("cosine", dict(lr=0.1, total_steps=10, warmup=3), TypeError,
     r"cosine: unknown parameter 'warmup'; valid: lr, total_steps, min_lr, warmup_steps, "
     r"warmup_start, periodic"),
    ("power", dict(lr=0.1), TypeError, r"power: missing required parameter\(s\) steps"),
    ("exponential", dict(lr=0.1), TypeError, r"exponential: missing required .* steps"),
    # lr-like parameters
    ("constant", dict(lr=0.0), ValueError, r"constant: lr must be > 0.0, got 0.0"),
    ("constant", dict(lr="0.1"), TypeError, r"constant: lr must be a number, got '0.1'"),
    ("constant", dict(lr=float("nan")), ValueError, r"constant: lr must not be NaN"),
    ("power", dict(lr=-1, steps=10), ValueError, r"power: lr must be > 0.0, got -1.0"),
    ("power", dict(lr=0.1, steps=0), ValueError, r"power: steps must be > 0.0, got 0.0"),
    ("power", dict(lr=0.1, steps=10, power=-1), ValueError, r"power: power must be >= 0.0"),
    ("exponential", dict(lr=0.1, steps=-5), ValueError, r"exponential: steps must be > 0.0"),
    ("exponential", dict(lr=0.1, steps=5, rate=0), ValueError, r"exponential: rate must be > 0"),
    ("exponential", dict(lr=0.1, steps=5, staircase="yes"), TypeError,
     r"exponential: staircase must be True or False"),
    # piecewise
    ("piecewise", dict(boundaries=[200, 100], values=[1, 2, 3]), ValueError,
     r"piecewise: boundaries must be strictly increasing, got \[200, 100\]"),
    ("piecewise", dict(boundaries=[100, 100], values=[1, 2, 3]), ValueError,
     r"strictly increasing"),
    ("piecewise", dict(boundaries=[100, 200], values=[1, 2]), ValueError,
     r"piecewise: need len\(values\) == len\(boundaries\) \+ 1, got 2 values for 2 bound"),
    ("piecewise", dict(boundaries=[1.5], values=[1, 2]), TypeError,
     r"piecewise: boundaries\[0\] must be an integer"),
    ("piecewise", dict(boundaries=[-1], values=[1, 2]), ValueError,
     r"piecewise: boundaries\[0\] must be >= 0"),
    ("piecewise", dict(boundaries=[1], values=[1, -2]), ValueError,
     r"piecewise: values\[1\] must be >= 0.0"),
    ("piecewise", dict(boundaries=5, values=[1, 2]), TypeError, r"must be sequences"),
    # plateau
    ("plateau", dict(), TypeError, r"plateau: give exactly one of lr or base"),
    ("plateau", dict(lr=0.1, base="cosine"), TypeError, r"plateau: give exactly one of lr"),
    ("plateau", dict(base="cosine"), TypeError, r"plateau: base must be a schedule"),
    ("plateau", dict(lr=0.1, factor=1.0), ValueError,
     r"plateau: factor must be in \(0.0, 1.0\), got 1.0"),
    ("plateau", dict(lr=0.1, factor=0), ValueError, r"plateau: factor must be in \(0.0, 1.0\)"),
    ("plateau", dict(lr=0.1, patience=-1), ValueError, r"plateau: patience must be >= 0"),
    ("plateau", dict(lr=0.1, patience=2.5), TypeError, r"plateau: patience must be an integer"),
    ("plateau", dict(lr=0.1, mode="down"), ValueError,
     r"plateau: mode must be one of min, max; got 'down'"),
    ("plateau", dict(lr=0.1, threshold=-1e-4), ValueError, r"plateau: threshold must be >= 0"),
    ("plateau", dict(lr=0.1, threshold_mode="pct"), ValueError,
     r"plateau: threshold_mode must be one of rel, abs"),
    ("plateau", dict(lr=0.1, cooldown=-2), ValueError, r"plateau: cooldown must be >= 0"),
    ("plateau", dict(lr=0.1, min_lr=-1), ValueError, r"plateau: min_lr must be >= 0.0"),
    ("plateau", dict(lr=0.1, eps=-1), ValueError, r"plateau: eps must be >= 0.0"),
    ("plateau", dict(lr=0), ValueError, r"plateau: lr must be > 0.0"),
    # onecycle
    ("onecycle", dict(max_lr=0, total_steps=100), ValueError, r"onecycle: max_lr must be > 0"),
    ("onecycle", dict(max_lr=0.1, total_steps=1), ValueError,
     r"onecycle: total_steps must be >= 2, got 1"),
    ("onecycle", dict(max_lr=0.1, total_steps=100.0), TypeError,
     r"onecycle: total_steps must be an integer"),
    ("onecycle", dict(max_lr=0.1, total_steps=100, pct_start=1.5), ValueError,
     r"^onecycle: pct_start must be in \(0.0, 1.0\), got 1.5$"),
    ("onecycle", dict(max_lr=0.1, total_steps=100, pct_start=0), ValueError,
     r"pct_start must be in \(0.0, 1.0\), got 0.0"),
    ("onecycle", dict(max_lr=0.1, total_steps=10, pct_start=0.1), ValueError,
     r"onecycle: pct_start\*total_steps must not be 1"),
    ("onecycle", dict(max_lr=0.1, total_steps=100, anneal="cosine"), ValueError,
     r"onecycle: anneal must be one of cos, linear; got 'cosine'"),
    ("onecycle", dict(max_lr=0.1, total_steps=100, div_factor=0), ValueError,
     r"onecycle: div_factor must be > 0"),
    ("onecycle", dict(max_lr=0.1, total_steps=100, final_div_factor=-1), ValueError,
     r"onecycle: final_div_factor must be > 0"),
    ("onecycle", dict(max_lr=0.1, total_steps=100, three_phase=1), TypeError,
     r"onecycle: three_phase must be True or False, got 1"),
    ("onecycle", dict(max_lr=0.1, total_steps=100, cycle_momentum="no"), TypeError,
     r"onecycle: cycle_momentum must be True or False"),
    ("onecycle", dict(max_lr=0.1, total_steps=100, base_momentum=1.2), ValueError,
     r"onecycle: base_momentum must be in \[0.0, 1.0\], got 1.2"),
    ("onecycle", dict(max_lr=0.1, total_steps=100, max_momentum=-0.1), ValueError,
     r"onecycle: max_momentum must be in \[0.0, 1.0\]"),
    ("onecycle", dict(max_lr=0.1, total_steps=100, base_momentum=0.95, max_momentum=0.9),
     ValueError, r"onecycle: base_momentum must be <= max_momentum, got 0.95 > 0.9"),
    # cosine
    ("cosine", dict(lr=0.1, total_steps=0), ValueError, r"cosine: total_steps must be >= 1"),
    ("cosine", dict(lr=0.1, total_steps=10, min_lr=0.2), ValueError,
     r"cosine: min_lr must be in \[0.0, 0.1\], got 0.2"),
    ("cosine", dict(lr=0.1, total_steps=10, warmup_steps=-1), ValueError,
     r"cosine: warmup_steps must be >= 0"),
    ("cosine", dict(lr=0.1, total_steps=10, warmup_steps=10), ValueError,
     r"cosine: warmup_steps must be < total_steps, got 10 >= 10"),
]


@pytest.mark.parametrize("name,kw,exc,match", ERRORS,
                         ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)])
def test_validation_errors(name, kw, exc, match):
    with pytest.raises(exc, match=match) as info:
        get(name, **kw)
    assert "\n" not in str(info.value)


def test_onecycle_three_phase_late_peak_is_allowed_as_in_torch():
    s = get("onecycle", max_lr=1.0, total_steps=100, pct_start=0.6, three_phase=True)
    assert s.lr(59) == 1.0 and 0.04 < s.lr(99) < 1.0 and s.lr(200) == s.lr(99)


def test_plateau_rejects_plateau_base():
    with pytest.raises(ValueError, match="plateau: base must be a stateless schedule"):
        get("plateau", base=get("plateau", lr=0.1))


def test_step_errors():
    s = get("cosine", lr=0.1, total_steps=10)
    with pytest.raises(ValueError, match=r"cosine: step must be >= 0, got -1"):
        s.lr(-1)
    with pytest.raises(TypeError, match=r"cosine: step must be an integer, got 1.5"):
        s.lr(1.5)
    with pytest.raises(ValueError, match=r"onecycle: step must be >= 0"):
        get("onecycle", max_lr=0.1, total_steps=10).momentum(-3)


def test_state_dict_errors():
    with pytest.raises(ValueError, match=r"constant: has no state, got keys \['x'\]"):
        get("constant", lr=0.1).load_state_dict({"x": 1})
    with pytest.raises(TypeError, match=r"constant: state must be a dict"):
        get("constant", lr=0.1).load_state_dict([])
    p = get("plateau", lr=0.1)
    with pytest.raises(ValueError, match=r"plateau: state keys differ: missing \['best'"):
        p.load_state_dict({})
    state = p.state_dict()
    with pytest.raises(ValueError, match=r"unexpected \['zzz'\]"):
        p.load_state_dict({**state, "zzz": 1})
    with pytest.raises(ValueError, match=r"plateau: state was saved without a base"):
        get("plateau", base=get("constant", lr=0.1)).load_state_dict(state)
