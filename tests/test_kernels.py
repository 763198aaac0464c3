"""Kernels against the NumPy reference (hypothesis), serial vs parallel, specialisation."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minitrain import optim
from minitrain.optim import _compile
from ref_optim import REFERENCE

unit = st.one_of(st.just(0.0), st.floats(1e-6, 0.999))   # no values that vanish in float32
pos = st.floats(1e-10, 1e-2)
wd = st.sampled_from([0.0, 0.0, 1e-3, 0.1])
lr = st.floats(0.0, 0.5)

#: registry name -> strategies for its hyperparameters (names as in optim.hyperparameters)
OPTIMIZERS_UNDER_TEST = {
    "sgd": dict(lr=lr, weight_decay=wd),
    "momentum": dict(lr=lr, momentum=unit, weight_decay=wd),
    "nesterov": dict(lr=lr, momentum=st.floats(0.01, 0.999), weight_decay=wd),
    "adagrad": dict(lr=lr, eps=pos, initial_accumulator=st.floats(0.0, 1.0), weight_decay=wd),
    "rmsprop": dict(lr=lr, rho=unit, eps=pos, momentum=unit, centered=st.booleans(),
                    weight_decay=wd),
    "adam": dict(lr=lr, beta1=st.floats(0.51, 0.999), beta2=unit, eps=pos, weight_decay=wd,
                 amsgrad=st.booleans(), decoupled_weight_decay=st.booleans()),
    "adamax": dict(lr=lr, beta1=st.floats(0.51, 0.999), beta2=unit, eps=pos, weight_decay=wd),
    "nadam": dict(lr=lr, beta1=st.floats(0.51, 0.999), beta2=unit, eps=pos, weight_decay=wd,
                  momentum_decay=st.floats(0.0, 1.0), decoupled_weight_decay=st.booleans()),
    "adamw": dict(lr=lr, beta1=st.floats(0.51, 0.999), beta2=unit, eps=pos, weight_decay=wd,
                  amsgrad=st.booleans()),
    "radam": dict(lr=lr, beta1=st.floats(0.51, 0.999), beta2=unit, eps=pos, weight_decay=wd,
                  decoupled_weight_decay=st.booleans()),
    "lion": dict(lr=lr, beta1=unit, beta2=unit, weight_decay=wd),
}
#: the gradient preparation every optimizer has (tested in test_optim_extras.py)
COMMON = ("maximize", "clipnorm", "clipvalue", "global_clipnorm")
#: torch-only options (their own tests in test_optim_extras.py)
EXTRA = {"sgd": ("dampening",), "momentum": ("dampening",), "nesterov": ("dampening",),
         "adagrad": ("lr_decay",)}


def random_state(opt, name, n, dtype, rng):
    """Plausible state buffers for every buffer the optimizer's next step needs."""
    state = {}
    keys = list(opt._buffers())
    if getattr(opt, "momentum", 0) and np.dtype(dtype).type(opt.momentum) != 0:
        keys.append("buf")                                # momentum buffer already started
    for key in keys:
        if key in ("v", "s", "u", "v_max"):
            state[key] = rng.uniform(0.0, 2.0, n)
        else:
            state[key] = rng.normal(0.0, 1.0, n)
    if "g_avg" in state:                                  # keep v - g_avg^2 > 0
        state["g_avg"] = 0.9 * np.sqrt(state["v"]) * rng.uniform(-1, 1, n)
    if "v_max" in state:
        state["v_max"] = np.maximum(state["v_max"], state["v"])
    return {k: v.astype(dtype) for k, v in state.items()}


def test_every_registry_name_is_under_test():
    assert set(OPTIMIZERS_UNDER_TEST) == set(optim.names())
    for name, strategies in OPTIMIZERS_UNDER_TEST.items():
        assert set(strategies) | set(COMMON) | set(EXTRA.get(name, ())) == \
            set(optim.hyperparameters(name))


@pytest.mark.parametrize("name", list(OPTIMIZERS_UNDER_TEST))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_kernel_matches_numpy_reference(name, data):
    hp = data.draw(st.fixed_dictionaries(OPTIMIZERS_UNDER_TEST[name]), label="hp")
    n = data.draw(st.integers(1, 300), label="n")
    t = data.draw(st.integers(0, 500), label="steps already taken")
    dtype = data.draw(st.sampled_from([np.float32, np.float64]), label="dtype")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    opt = optim.get(name, **hp)
    p = rng.normal(0, 1, n).astype(dtype)
    g = rng.normal(0, 1, n).astype(dtype)
    state = random_state(opt, name, n, dtype, rng) if t > 0 else {}
    mu_product = float(np.float32(rng.uniform(0.0, 0.9) ** min(t, 30))) if t else 1.0
    sd = {"optimizer": type(opt).__name__, "t": t, "hyperparameters": opt.hyperparameters(),
          "shape": (n,), "dtype": np.dtype(dtype).name, "state": state,
          "mu_product": mu_product}
    opt.load_state_dict(sd)
    fn, presets = REFERENCE[name]
    full = {k: v for k, v in {**presets, **opt.hyperparameters()}.items() if k not in COMMON}
    if t == 0:                                            # fresh state, as step() allocates
        state = {k: opt._new_buffer(k) for k in opt._buffers()}
    if name == "nadam":
        want_p, want_state, want_mu = fn(p, g, state, t + 1, mu_product, **full)
    else:
        want_p, want_state = fn(p, g, state, t + 1, **full)
    opt.step(p, g)
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(p, want_p, rtol=rtol, atol=rtol)
    assert set(opt.state) == set(want_state)
    for key in want_state:
        np.testing.assert_allclose(opt.state[key], want_state[key], rtol=rtol, atol=rtol,
                                   err_msg=key)
    if name == "nadam":
        assert opt.mu_product == want_mu


VARIANTS = [("sgd", {"weight_decay": 0.1}), ("momentum", {}), ("nesterov", {"weight_decay": 0.1}),
            ("adagrad", {"weight_decay": 0.1}),
            ("rmsprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.1}),
            ("adam", {"amsgrad": True, "weight_decay": 0.1}),
            ("adam", {"decoupled_weight_decay": True, "weight_decay": 0.1}),
            ("adamax", {"weight_decay": 0.1}), ("nadam", {"weight_decay": 0.1}),
            ("adamw", {"amsgrad": True}), ("radam", {"weight_decay": 0.1}),
            ("lion", {"weight_decay": 0.1})]


def run(name, hp, n, dtype, steps, parallel, monkeypatch):
    monkeypatch.setattr(_compile, "PARALLEL_MIN_SIZE", 0 if parallel else 10**12)
    rng = np.random.default_rng(7)
    p = rng.normal(0, 1, n).astype(dtype)
    opt = optim.get(name, **hp)
    for t in range(steps):
        g = (p * 0.5 + rng.normal(0, 0.1, n)).astype(dtype)
        opt.lr = 0.01 * (1 + 0.5 * np.sin(t))
        opt.step(p, g)
    return p, opt


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,hp", VARIANTS)
def test_parallel_matches_serial_bit_for_bit(name, hp, dtype, monkeypatch):
    n = 20_011                                            # odd: threads get unequal chunks
    p_serial, o_serial = run(name, hp, n, dtype, 3, False, monkeypatch)
    p_parallel, o_parallel = run(name, hp, n, dtype, 3, True, monkeypatch)
    assert o_parallel._parallel and not o_serial._parallel
    assert np.array_equal(p_serial, p_parallel)
    for key in o_serial.state:
        assert np.array_equal(o_serial.state[key], o_parallel.state[key])


def test_one_compiled_signature_per_dtype():
    for name, hp in VARIANTS:
        for dtype in (np.float32, np.float64):
            p = np.ones(64, dtype)
            opt = optim.get(name, **hp)
            for t in range(50):                           # Python floats and ints as lr
                opt.lr = 1 if t % 7 == 0 else 0.01 / (t + 1)
                opt.set_momentum(0.9) if opt.momentum_attr else None
                opt.step(p, p * 0.5)
    for serial in [k.serial for k in _compile.KERNELS.values()]:
        dtypes = [sig[0].dtype for sig in serial.signatures]
        assert len(dtypes) == len(set(dtypes)) <= 2, serial.signatures


@pytest.mark.parametrize("name", optim.names())
def test_nan_in_gradient_shows_in_parameters(name):
    p = np.ones(8, np.float32)
    g = np.full(8, 0.1, np.float32)
    g[3] = np.nan
    opt = optim.get(name, lr=0.1)
    opt.step(p, g)
    opt.step(p, np.full(8, 0.1, np.float32))
    assert np.isnan(p[3]) and np.isfinite(np.delete(p, 3)).all()
