"""Optimizers: PyTorch golden trajectories, state_dict, validation, registry, docs."""
import doctest
import json
import pathlib

import numpy as np
import pytest

import minitrain as mt
from minitrain import optim

GOLDENS = pathlib.Path(__file__).parent / "goldens"
CLASSES = [optim.SGD, optim.Adagrad, optim.RMSprop, optim.Adam, optim.Adamax, optim.Nadam,
           optim.AdamW, optim.RAdam, optim.Lion]


def gradient(p, A, c, noise_t):
    """Same as scripts/goldens_optim.py: g = A (p - c) + noise, in p's dtype."""
    dt = p.dtype
    return A.astype(dt) * (p - c.astype(dt)) + noise_t.astype(dt)


def golden_cases():
    for name in optim.names():
        if "torch" not in optim.conventions(name):
            continue                                      # Lion: Keras goldens (test_keras)
        with np.load(GOLDENS / f"optim_{name}.npz") as z:
            for k, hp in enumerate(json.loads(str(z["configs"]))):
                for dtype in ("float32", "float64"):
                    yield pytest.param(name, k, hp, dtype, id=f"{name}-{k}-{dtype}")


@pytest.mark.parametrize("name,k,hp,dtype", list(golden_cases()))
def test_matches_pytorch_trajectory(name, k, hp, dtype):
    z = np.load(GOLDENS / f"optim_{name}.npz")
    gold = z[f"traj_{k}_{dtype}"]
    assert gold.shape[0] >= 200
    opt = mt.optim.get(name, **hp)
    lr0 = float(z[f"lr0_{k}"])
    assert lr0 == opt.lr                                  # same default lr as PyTorch
    p = z["p0"].astype(dtype)
    got = np.empty_like(gold)
    for t in range(gold.shape[0]):
        opt.lr = lr0 * float(z["lr_factor"][t])           # a new lr at every step
        opt.step(p, gradient(p, z["A"], z["c"], z["noise"][t]))
        got[t] = p
    rtol = 1e-10 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(got, gold, rtol=rtol, atol=rtol * np.abs(gold).max())


# ----------------------------------------------------------------- state_dict
ROUND_TRIP = [("sgd", {}), ("momentum", {"weight_decay": 0.1}), ("nesterov", {}),
              ("adagrad", {"initial_accumulator": 0.1}),
              ("rmsprop", {"centered": True, "momentum": 0.9}),
              ("adam", {"amsgrad": True}), ("adamax", {}),
              ("nadam", {"decoupled_weight_decay": True, "weight_decay": 0.1}),
              ("adamw", {})]


def steps(opt, p, k, start, rng_seed):
    rng = np.random.default_rng(rng_seed + start)
    for t in range(start, start + k):
        opt.lr = 0.01 * (1 + 0.5 * np.sin(t))
        opt.step(p, (p + rng.normal(0, 0.1, p.size)).astype(p.dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,hp", ROUND_TRIP)
def test_state_dict_round_trip_is_bit_exact(name, hp, dtype):
    k, p0 = 7, np.linspace(-2, 2, 33).astype(dtype)
    straight = optim.get(name, **hp)
    p_straight = p0.copy()
    steps(straight, p_straight, k, 0, 1)
    steps(straight, p_straight, k, k, 1)

    first = optim.get(name, **hp)
    p = p0.copy()
    steps(first, p, k, 0, 1)
    saved = first.state_dict()
    for buf in saved["state"].values():                   # copies, not views
        buf += 1000
    saved = first.state_dict()
    steps(first, p.copy(), 3, 100, 1)                     # later use must not leak in
    fresh = optim.get(name)
    fresh.load_state_dict(saved)
    assert fresh.t == k and fresh.hyperparameters() == saved["hyperparameters"]
    steps(fresh, p, k, k, 1)
    assert np.array_equal(p, p_straight)
    for key, buf in straight.state.items():
        assert np.array_equal(fresh.state[key], buf), key


def test_load_state_dict_restores_a_changed_momentum():
    opt = optim.get("momentum", lr=0.1)
    opt.set_momentum(0.5)
    p = np.ones(3)
    opt.step(p, p.copy())
    fresh = optim.get("momentum")
    fresh.load_state_dict(opt.state_dict())
    assert fresh.momentum == 0.5 and fresh.lr == 0.1


def test_load_state_dict_copies_and_checks():
    opt = optim.Adam(amsgrad=True)
    p = np.ones(5)
    opt.step(p, p)
    sd = opt.state_dict()
    other = optim.Adam()
    other.load_state_dict(sd)
    sd["state"]["m"][:] = 42
    assert not np.any(other.state["m"] == 42)
    with pytest.raises(ValueError, match="state is for 'Adam'"):
        optim.Nadam().load_state_dict(sd)
    bad = opt.state_dict(); bad["state"]["m"] = np.zeros(4)
    with pytest.raises(ValueError, match=r"state buffer 'm' has shape \(4,\)"):
        optim.Adam().load_state_dict(bad)
    bad = opt.state_dict(); bad["state"]["w"] = np.zeros(5)
    with pytest.raises(ValueError, match="unknown state buffer 'w'"):
        optim.Adam().load_state_dict(bad)
    bad = opt.state_dict(); del bad["state"]["v_max"]
    with pytest.raises(ValueError, match="missing state buffer 'v_max'"):
        optim.Adam().load_state_dict(bad)
    bad = opt.state_dict(); bad["hyperparameters"]["beta1"] = 2.0
    with pytest.raises(ValueError, match="beta1 must be in"):
        optim.Adam().load_state_dict(bad)
    used = optim.Adam(); used.step(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="state is for shape"):
        used.load_state_dict(sd)


# ----------------------------------------------------------------- validation
BAD_VALUES = [
    ("sgd", "lr", -1.0), ("momentum", "momentum", 1.0), ("momentum", "momentum", -0.1),
    ("nesterov", "momentum", 0.0), ("adagrad", "eps", 0.0),
    ("adagrad", "initial_accumulator", -1.0), ("rmsprop", "rho", 1.0),
    ("rmsprop", "eps", -1e-8), ("rmsprop", "momentum", 1.5), ("adam", "beta1", 1.0),
    ("adam", "beta2", -0.1), ("adam", "weight_decay", -1e-3), ("adamax", "beta1", 1.5),
    ("nadam", "momentum_decay", -1.0), ("adamw", "weight_decay", -1.0),
    ("adam", "lr", float("nan")),
]


@pytest.mark.parametrize("name,key,value", BAD_VALUES)
def test_invalid_hyperparameter_value(name, key, value):
    with pytest.raises(ValueError, match=key):
        optim.get(name, **{key: value})


def test_validation_messages_and_types():
    with pytest.raises(ValueError, match=r"^Adam: beta1 must be in \[0.0, 1.0\), got 1.5$"):
        optim.Adam(beta1=1.5)
    with pytest.raises(ValueError, match=r"^SGD: nesterov=True requires momentum > 0"):
        optim.SGD(nesterov=True)
    with pytest.raises(TypeError, match="lr must be a number"):
        optim.Adam(lr="fast")
    with pytest.raises(TypeError, match="amsgrad must be True or False"):
        optim.Adam(amsgrad=1)
    with pytest.raises(TypeError, match="centered must be True or False"):
        optim.RMSprop(centered="yes")
    with pytest.raises(TypeError, match=r"Adam: unknown hyperparameter 'momentum'; valid ones "
                                        r"are lr, beta1, beta2, eps, weight_decay, amsgrad"):
        optim.Adam(momentum=0.9)
    with pytest.raises(TypeError, match="AdamW: unknown hyperparameter 'decoupled_weight_decay'"):
        optim.AdamW(decoupled_weight_decay=False)
    with pytest.raises(TypeError, match=r"sgd: unknown hyperparameter 'momentum'; valid ones "
                                        r"are lr, dampening, weight_decay, maximize, clipnorm, clipvalue, "
                                        r"global_clipnorm$"):
        optim.get("sgd", momentum=0.9)
    with pytest.raises(TypeError, match="'nesterov'"):
        optim.get("nesterov", nesterov=False)
    with pytest.raises(ValueError, match="optimizer must be one of sgd, momentum"):
        optim.get("lbfgs")
    opt = optim.Adam()
    with pytest.raises(ValueError, match="lr must be >= 0.0"):
        opt.lr = -0.1
    with pytest.raises(ValueError, match="beta1"):
        opt.beta1 = 1.0
    assert opt.lr == 1e-3 and opt.beta1 == 0.9                # unchanged after errors


def test_step_array_errors():
    opt = optim.Adam()
    f64 = np.ones(4)
    cases = [
        ((f64, [1.0] * 4), TypeError, "grads must be a NumPy array"),
        ((np.ones(4, int), np.ones(4, int)), TypeError, "must be float32 or float64"),
        ((np.ones((2, 2)), np.ones((2, 2))), ValueError, "must be 1-D"),
        ((np.ones(8)[::2], np.ones(4)), ValueError, "params must be C-contiguous"),
        ((f64, np.ones(5)), ValueError, "shapes differ"),
        ((f64, np.ones(4, np.float32)), TypeError, "dtypes differ"),
    ]
    for args, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            opt.step(*args)
    ro = np.ones(4); ro.flags.writeable = False
    with pytest.raises(ValueError, match="params must be writeable"):
        opt.step(ro, np.ones(4))
    assert opt.t == 0 and opt.state == {}
    opt.step(f64, f64.copy())
    with pytest.raises(ValueError, match=r"shape \(5,\) but the optimizer state has shape \(4,\)"):
        opt.step(np.ones(5), np.ones(5))
    with pytest.raises(TypeError, match="float32 but the optimizer state is float64"):
        opt.step(np.ones(4, np.float32), np.ones(4, np.float32))
    assert opt.t == 1


# ----------------------------------------------------------------- momentum API
def test_set_momentum():
    for name, attr in [("sgd", "momentum"), ("momentum", "momentum"), ("rmsprop", "momentum"),
                       ("adam", "beta1"), ("adamax", "beta1"), ("nadam", "beta1"),
                       ("adamw", "beta1")]:
        opt = optim.get(name)
        assert opt.momentum_attr == attr
        opt.set_momentum(0.85)
        assert getattr(opt, attr) == 0.85
        with pytest.raises(ValueError, match=attr):
            opt.set_momentum(1.0)
    opt = optim.get("adagrad")
    assert opt.momentum_attr is None
    with pytest.raises(TypeError, match="Adagrad has no momentum"):
        opt.set_momentum(0.9)
    with pytest.raises(ValueError, match="nesterov=True requires momentum > 0"):
        optim.get("nesterov").set_momentum(0.0)


def test_momentum_switched_on_later_starts_buffer_with_gradient():
    """Like torch: the first step with momentum != 0 sets buf = g."""
    opt = optim.get("sgd", lr=0.1)
    p, g = np.ones(3), np.full(3, 2.0)
    opt.step(p, g)
    assert "buf" not in opt.state
    opt.set_momentum(0.9)
    opt.step(p, g)
    assert np.array_equal(opt.state["buf"], g)


# ----------------------------------------------------------------- registry, repr, docs
COMMON = dict(maximize=False, clipnorm=None, clipvalue=None, global_clipnorm=None)
PYTORCH_DEFAULTS = {
    "sgd": dict(lr=1e-3, dampening=0.0, weight_decay=0.0),
    "momentum": dict(lr=1e-3, momentum=0.9, dampening=0.0, weight_decay=0.0),
    "nesterov": dict(lr=1e-3, momentum=0.9, dampening=0.0, weight_decay=0.0),
    "adagrad": dict(lr=1e-2, eps=1e-10, initial_accumulator=0.0, weight_decay=0.0,
                    lr_decay=0.0),
    "rmsprop": dict(lr=1e-2, rho=0.99, eps=1e-8, momentum=0.0, centered=False,
                    weight_decay=0.0),
    "adam": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False,
                 decoupled_weight_decay=False),
    "adamax": dict(lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0),
    "nadam": dict(lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                  momentum_decay=4e-3, decoupled_weight_decay=False),
    "adamw": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2, amsgrad=False),
    "radam": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                  decoupled_weight_decay=False),
    "lion": dict(lr=1e-3, beta1=0.9, beta2=0.99, weight_decay=0.0),     # Keras's
}
PYTORCH_DEFAULTS = {k: {**v, **COMMON} for k, v in PYTORCH_DEFAULTS.items()}


def test_registry():
    assert optim.names() == ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam",
                             "adamax", "nadam", "adamw", "radam", "lion")
    for name in optim.names():
        assert optim.defaults(name) == PYTORCH_DEFAULTS[name]
        assert optim.hyperparameters(name) == tuple(PYTORCH_DEFAULTS[name])
        opt = optim.get(name)
        assert {k: getattr(opt, k) for k in PYTORCH_DEFAULTS[name]} == PYTORCH_DEFAULTS[name]
        line = optim.describe(name)
        assert line.startswith(name + ": ") and "\n" not in line
        assert "p" in optim.update_rule(name)
    assert optim.get("nesterov").nesterov is True
    assert isinstance(mt.optim.get("adamw"), optim.Adam)


def test_repr():
    opt = optim.Adam(lr=0.01)
    opt.step(np.ones(2), np.ones(2))
    assert repr(opt) == ("Adam(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-08, weight_decay=0.0, "
                         "amsgrad=False, decoupled_weight_decay=False, t=1)")


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_docstrings_have_the_sections(cls):
    doc = cls.__doc__
    for section in ("Update rule", "Parameters", "Notes", "References", "Examples"):
        assert f"\n    {section}\n    ---" in doc, section
    for name in cls.hyperparameter_names:
        if name not in COMMON:
            assert f"\n    {name} : " in doc, name
    assert "\n    maximize, clipnorm, clipvalue, global_clipnorm\n" in doc
    assert f"minitrain.optim.{cls.__name__ if cls is not optim.AdamW else 'Adam'}" in \
        cls.kernel.serial.__doc__


def test_doctests():
    import importlib
    attempted = 0
    for module in ("", "._base", "._compile", *(f".{n}" for n in (
            "sgd", "adagrad", "rmsprop", "adam", "adamax", "nadam", "radam", "lion"))):
        result = doctest.testmod(importlib.import_module("minitrain.optim" + module),
                                 optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module
        attempted += result.attempted
    assert attempted > 10


def test_load_state_dict_of_an_unstepped_optimizer_resets_it():
    """Rolling back to a state saved before the first step starts the optimizer afresh."""
    fresh = mt.optim.get("adam", lr=0.1)
    saved = fresh.state_dict()
    p, g = np.ones(4), np.full(4, 0.5)
    fresh.step(p, g)
    fresh.load_state_dict(saved)
    assert fresh.t == 0 and fresh.state == {}
    q = np.ones(3, np.float32)                   # any shape and dtype is accepted again
    fresh.step(q, np.full(3, 0.5, np.float32))
    reference = mt.optim.get("adam", lr=0.1)
    r = np.ones(3, np.float32)
    reference.step(r, np.full(3, 0.5, np.float32))
    np.testing.assert_array_equal(q, r)
