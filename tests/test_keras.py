"""convention="keras": Keras 3 goldens, Keras defaults, where the conventions agree and
where they differ, the NumPy restatement of Keras's steps, state, registry, schedules, CLI.

The goldens come from scripts/goldens_keras.py (Keras 3 on the torch backend); these
tests import neither keras nor torch.
"""
import json
import pathlib
import re

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minitrain as mt
from minitrain import checkpoint as ckpt
from minitrain import optim, schedules
from minitrain.optim import _compile
from minitrain.cli import cli
from ref_optim import KERAS_REFERENCE

GOLDENS = pathlib.Path(__file__).parent / "goldens"
TOL = {"float64": 1e-12, "float32": 1e-5}


def load(name):
    return np.load(GOLDENS / f"keras_{name}.npz")


def gradient(p, z, t):
    """Same as scripts/goldens_keras.py: g = A (p - c) + noise, in p's dtype."""
    dt = p.dtype
    return z["A"].astype(dt) * (p - z["c"].astype(dt)) + z["noise"][t].astype(dt)


def trajectory(name, hp, dtype, z, convention, lr_factor=None):
    """minitrain's trajectory on the golden problem; lr_t = hp["lr"] * lr_factor[t]."""
    lr_factor = z["lr_factor"] if lr_factor is None else lr_factor
    opt = optim.get(name, convention=convention, **hp)
    p = z["p0"].astype(dtype)
    out = np.empty((len(lr_factor), p.size), dtype)
    for t in range(len(lr_factor)):
        opt.lr = hp["lr"] * float(lr_factor[t])          # a new lr at every step
        opt.step(p, gradient(p, z, t))
        out[t] = p
    return out


def rel_diff(a, b):
    return float(np.max(np.abs(a - b)) / np.abs(b).max())


KERAS_NAMES = [n for n in optim.names() if "keras" in optim.conventions(n)]
BOTH = [n for n in KERAS_NAMES if "torch" in optim.conventions(n)]
#: options of the gradient preparation (test_optim_extras.py) and torch-only options
NOT_IN_KERAS_REFERENCE = ("maximize", "clipnorm", "clipvalue", "global_clipnorm",
                          "dampening", "lr_decay")


def golden_cases():
    for name in KERAS_NAMES:
        with load(name) as z:
            for k, hp in enumerate(json.loads(str(z["configs"]))):
                for dtype in ("float32", "float64"):
                    yield pytest.param(name, k, hp, dtype, id=f"{name}-{k}-{dtype}")


# ----------------------------------------------------------------- Keras goldens
@pytest.mark.parametrize("name,k,hp,dtype", list(golden_cases()))
def test_matches_keras_trajectory(name, k, hp, dtype):
    """float64 against Keras in float64 (rel 1e-12), float32 against Keras in float32."""
    z = load(name)
    gold = z[f"traj_{k}_{dtype}"]
    assert gold.shape[0] >= 200 and np.ptp(z["lr_factor"]) > 0.5    # lr changes every step
    got = trajectory(name, hp, dtype, z, "keras")
    np.testing.assert_allclose(got, gold, rtol=TOL[dtype], atol=TOL[dtype] * np.abs(gold).max())


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_keras_defaults_are_keras_own(name):
    """defaults(name, "keras") against Keras's get_config() of a default optimizer."""
    keras = json.loads(str(load(name)["keras_defaults"]))
    ours = optim.defaults(name, convention="keras")
    presets = {"momentum": {"momentum"}, "nesterov": {"momentum"}}.get(name, set())
    compared = [k for k in ours if k in keras and k not in presets]
    assert {"lr", "weight_decay"} <= set(compared)
    assert {k: ours[k] for k in compared} == {k: keras[k] for k in compared}
    opt = optim.get(name, convention="keras")
    assert {k: getattr(opt, k) for k in ours} == ours and opt.convention == "keras"
    if name == "nadam":                     # Keras's schedule 0.96**t: momentum_decay = 1
        assert ours["momentum_decay"] == 1.0 and ours["decoupled_weight_decay"] is True


def test_keras_defaults_table():
    """The table of the issue, spelled out (a readable summary of the test above)."""
    d = {n: optim.defaults(n, "keras") for n in KERAS_NAMES}
    assert d["sgd"]["lr"] == 0.01 and d["adagrad"]["initial_accumulator"] == 0.1
    assert d["rmsprop"]["rho"] == 0.9 and d["adamw"]["weight_decay"] == 0.004
    assert all(d[n]["eps"] == 1e-7 for n in d if "eps" in d[n])
    assert all(d[n]["lr"] == 1e-3 for n in d if n not in ("sgd", "momentum", "nesterov"))


# ----------------------------------------------------------------- the conventions
@pytest.mark.parametrize("name", [n for n in BOTH if n != "sgd"])
def test_conventions_differ_far_above_tolerance(name):
    """Same problem and explicit hyperparameters, changing lr: torch != Keras golden.

    Every set differs by more than 1e4 times the float64 tolerance; the second set
    (large eps, weight decay, momentum) by more than 100 times the float32 one.
    """
    z = load(name)
    for k, hp in enumerate(json.loads(str(z["configs"]))):
        gold = z[f"traj_{k}_float64"]
        torch_rule = trajectory(name, hp, "float64", z, "torch")
        assert rel_diff(torch_rule, gold) > 1e-8, (name, k)
        if k == 1:
            assert rel_diff(torch_rule, gold) > 1e-3, name


def test_plain_sgd_is_one_algorithm():
    """Without momentum, L2 and decoupled decay give the same step: SGD agrees (documented)."""
    z = load("sgd")
    for k, hp in enumerate(json.loads(str(z["configs"]))):
        np.testing.assert_allclose(trajectory("sgd", hp, "float64", z, "torch"),
                                   z[f"traj_{k}_float64"], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["momentum", "nesterov"])
def test_momentum_agrees_across_conventions_under_a_constant_lr(name):
    """lr inside or outside the velocity is the same algorithm while lr is constant."""
    z = load(name)
    const = np.ones_like(z["lr_factor"])
    for hp in ({"lr": 0.02}, {"lr": 0.05, "momentum": 0.7}):
        a = trajectory(name, hp, "float64", z, "torch", const)
        b = trajectory(name, hp, "float64", z, "keras", const)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
        assert rel_diff(trajectory(name, hp, "float64", z, "torch"),
                        trajectory(name, hp, "float64", z, "keras")) > 1e-3   # lr changes


# ----------------------------------------------------------------- kernel vs NumPy Keras
unit = st.one_of(st.just(0.0), st.floats(1e-6, 0.999))
pos = st.floats(1e-10, 1e-1)
wd = st.sampled_from([0.0, 0.0, 1e-3, 0.1])
lr = st.floats(0.0, 0.5)
KERAS_UNDER_TEST = {
    "sgd": dict(lr=lr, weight_decay=wd),
    "momentum": dict(lr=lr, momentum=unit, weight_decay=wd),
    "nesterov": dict(lr=lr, momentum=st.floats(0.01, 0.999), weight_decay=wd),
    "adagrad": dict(lr=lr, eps=pos, initial_accumulator=st.floats(0.0, 1.0), weight_decay=wd),
    "rmsprop": dict(lr=lr, rho=unit, eps=pos, momentum=unit, centered=st.booleans(),
                    weight_decay=wd),
    "adam": dict(lr=lr, beta1=st.floats(0.51, 0.999), beta2=unit, eps=pos, weight_decay=wd,
                 amsgrad=st.booleans()),
    "adamax": dict(lr=lr, beta1=st.floats(0.51, 0.999), beta2=unit, eps=pos, weight_decay=wd),
    "nadam": dict(lr=lr, beta1=st.floats(0.51, 0.999), beta2=unit, eps=pos, weight_decay=wd,
                  momentum_decay=st.floats(0.0, 1.0)),
    "adamw": dict(lr=lr, beta1=st.floats(0.51, 0.999), beta2=unit, eps=pos, weight_decay=wd,
                  amsgrad=st.booleans()),
    "lion": dict(lr=lr, beta1=unit, beta2=unit, weight_decay=wd),
}


def test_every_keras_optimizer_is_under_test():
    assert set(KERAS_UNDER_TEST) == set(KERAS_NAMES)
    for name, strategies in KERAS_UNDER_TEST.items():
        fixed = {"decoupled_weight_decay"}                # always True under keras
        assert set(optim.hyperparameters(name)) - set(NOT_IN_KERAS_REFERENCE) - fixed == \
            set(strategies)


def random_state(opt, n, dtype, rng):
    keys = list(opt._buffers())
    if getattr(opt, "momentum", 0) and np.dtype(dtype).type(opt.momentum) != 0:
        keys.append("buf")
    state = {k: (rng.uniform(0.0, 2.0, n) if k in ("v", "s", "u", "v_max")
                 else rng.normal(0.0, 1.0, n)) for k in keys}
    if "g_avg" in state:                                  # keep v - g_avg^2 > 0
        state["g_avg"] = 0.9 * np.sqrt(state["v"]) * rng.uniform(-1, 1, n)
    if "v_max" in state:
        state["v_max"] = np.maximum(state["v_max"], state["v"])
    return {k: v.astype(dtype) for k, v in state.items()}


@pytest.mark.parametrize("name", list(KERAS_UNDER_TEST))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_kernel_matches_numpy_keras_step(name, data):
    hp = data.draw(st.fixed_dictionaries(KERAS_UNDER_TEST[name]), label="hp")
    n = data.draw(st.integers(1, 200), label="n")
    t = data.draw(st.integers(0, 300), label="steps already taken")
    dtype = data.draw(st.sampled_from([np.float32, np.float64]), label="dtype")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    opt = optim.get(name, convention="keras", **hp)
    p, g = rng.normal(0, 1, n).astype(dtype), rng.normal(0, 1, n).astype(dtype)
    state = random_state(opt, n, dtype, rng) if t > 0 else {}
    mu_product = float(np.dtype(dtype).type(rng.uniform(0.0, 0.9) ** min(t, 30))) if t else 1.0
    opt.load_state_dict({"optimizer": type(opt).__name__, "convention": "keras", "t": t,
                         "hyperparameters": opt.hyperparameters(), "shape": (n,),
                         "dtype": np.dtype(dtype).name, "state": state,
                         "mu_product": mu_product})
    fn, presets = KERAS_REFERENCE[name]
    full = {k: v for k, v in {**presets, **opt.hyperparameters()}.items()
            if k not in NOT_IN_KERAS_REFERENCE}
    if t == 0:
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
        assert opt.mu_product == pytest.approx(want_mu, rel=rtol)


KERAS_VARIANTS = [("momentum", {"weight_decay": 0.1}), ("nesterov", {}),
                  ("adagrad", {"weight_decay": 0.1}),
                  ("rmsprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.1}),
                  ("adam", {"amsgrad": True, "weight_decay": 0.1}), ("adamax", {}),
                  ("nadam", {"weight_decay": 0.1}), ("adamw", {})]


def run(name, hp, n, dtype, steps, parallel, monkeypatch):
    monkeypatch.setattr(_compile, "PARALLEL_MIN_SIZE", 0 if parallel else 10**12)
    rng = np.random.default_rng(7)
    p = rng.normal(0, 1, n).astype(dtype)
    opt = optim.get(name, convention="keras", **hp)
    for t in range(steps):
        opt.lr = 0.01 * (1 + 0.5 * np.sin(t))
        opt.step(p, (p * 0.5 + rng.normal(0, 0.1, n)).astype(dtype))
    return p, opt


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,hp", KERAS_VARIANTS)
def test_keras_parallel_matches_serial_bit_for_bit(name, hp, dtype, monkeypatch):
    p_serial, o_serial = run(name, hp, 20_011, dtype, 3, False, monkeypatch)
    p_parallel, o_parallel = run(name, hp, 20_011, dtype, 3, True, monkeypatch)
    assert np.array_equal(p_serial, p_parallel)
    for key in o_serial.state:
        assert np.array_equal(o_serial.state[key], o_parallel.state[key])


def test_still_one_compiled_signature_per_dtype():
    for name, hp in KERAS_VARIANTS:
        for convention in optim.CONVENTIONS:
            for dtype in (np.float32, np.float64):
                p = np.ones(64, dtype)
                opt = optim.get(name, convention=convention, **hp)
                for t in range(5):
                    opt.lr = 1 if t == 0 else 0.01 / (t + 1)
                    opt.step(p, p * 0.5)
    for serial in [k.serial for k in _compile.KERNELS.values()]:
        dtypes = [sig[0].dtype for sig in serial.signatures]
        assert len(dtypes) == len(set(dtypes)) <= 2, serial.signatures


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_keras_nan_in_gradient_shows_in_parameters(name):
    p = np.ones(8, np.float32)
    g = np.full(8, 0.1, np.float32)
    g[3] = np.nan
    opt = optim.get(name, lr=0.1, convention="keras")
    opt.step(p, g)
    opt.step(p, np.full(8, 0.1, np.float32))
    assert np.isnan(p[3]) and np.isfinite(np.delete(p, 3)).all()


# ----------------------------------------------------------------- state, registry, docs
def test_state_dict_records_the_convention_and_refuses_a_mismatch():
    opt = optim.get("nadam", convention="keras", lr=0.01)
    p = np.linspace(-1, 1, 5)
    for _ in range(3):
        opt.step(p, p.copy())
    sd = opt.state_dict()
    assert sd["convention"] == "keras"
    with pytest.raises(ValueError, match=r"^Nadam.load_state_dict: state is for convention "
                                         r"'keras', this optimizer uses 'torch'$"):
        optim.get("nadam").load_state_dict(sd)
    fresh = optim.get("nadam", convention="keras")
    fresh.load_state_dict(sd)
    q, r = p.copy(), p.copy()
    opt.step(q, q * 0.5)
    fresh.step(r, r * 0.5)
    assert np.array_equal(q, r) and fresh.mu_product == opt.mu_product
    old = optim.get("adam").state_dict()           # a state saved before conventions
    del old["convention"]
    optim.get("adam").load_state_dict(old)
    with pytest.raises(ValueError, match="convention 'torch', this optimizer uses 'keras'"):
        optim.get("adam", convention="keras").load_state_dict(old)


def test_registry_and_parse_spec():
    assert optim.CONVENTIONS == ("torch", "keras")
    assert optim.parse_spec("adam") == ("adam", "torch")
    assert optim.parse_spec("adam@keras") == ("adam", "keras")
    assert optim.parse_spec(" nesterov@torch ") == ("nesterov", "torch")
    with pytest.raises(ValueError, match="convention must be one of torch, keras; got 'tf'"):
        optim.parse_spec("adam@tf")
    with pytest.raises(ValueError, match="optimizer must be one of"):
        optim.parse_spec("lbfgs@keras")
    with pytest.raises(ValueError, match="NAME or NAME@CONVENTION, got 'adam@'"):
        optim.parse_spec("adam@")
    with pytest.raises(ValueError, match="convention must be one of torch, keras"):
        optim.get("adam", convention="jax")
    with pytest.raises(ValueError, match="convention must be one of torch, keras"):
        optim.Adam(convention="Keras")
    with pytest.raises(ValueError, match=r"^Adam: decoupled_weight_decay must be True with "
                                         r"convention='keras'"):
        optim.get("adam", convention="keras", decoupled_weight_decay=False)
    assert "convention" not in optim.hyperparameters("adam")
    assert repr(optim.get("sgd", convention="keras")) == (
        "SGD(lr=0.01, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, "
        "convention='keras', t=0)")


@pytest.mark.parametrize("name", BOTH)
def test_update_rule_keras_block(name):
    rule = optim.update_rule(name, convention="keras")
    assert rule != optim.update_rule(name) and re.search(r"^p\s+<- p", rule, re.M)
    assert "(1 - lr * weight_decay)" in rule          # Keras decouples on every optimizer
    expect = {"adagrad": "sqrt(s + eps)", "rmsprop": "sqrt(v + eps)",
              "adam": "sqrt(bc2) / bc1", "adamw": "sqrt(bc2) / bc1", "adamax": "(u + eps)",
              "nadam": "0.96**t", "momentum": "lr * g", "nesterov": "lr * g"}
    if name in expect:
        assert expect[name] in rule
    with pytest.raises(ValueError, match="convention must be one of"):
        optim.update_rule(name, convention="tf")


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adagrad, optim.RMSprop, optim.Adam,
                                 optim.Adamax, optim.Nadam, optim.AdamW],
                         ids=lambda c: c.__name__)
def test_docstrings_document_the_keras_convention(cls):
    doc = cls.__doc__
    assert "\n    Update rule (keras)\n    ---" in doc
    assert "\n    convention : " in doc and 'convention="keras"' in doc
    torch_defaults = cls.convention_defaults["torch"]
    for name, value in cls.convention_defaults["keras"].items():
        if value != torch_defaults[name]:                 # e.g. "default=1e-8 (torch) or
            line = next(s for s in doc.splitlines()       #       1e-7 (keras)"
                        if s.startswith(f"    {name} : "))
            written = re.search(r"(\S+) \(keras\)", line).group(1)
            assert written == str(value) or float(written) == value, line


# ----------------------------------------------------------------- schedules
SCHED = np.load(GOLDENS / "keras_schedules.npz")


def sched_cases(kind):
    return sorted({k.split("/")[1] for k in SCHED.files if k.startswith(kind + "/")})


@pytest.mark.parametrize("case", sched_cases("piecewise"))
def test_piecewise_boundary_inclusive_is_keras(case):
    cfg = json.loads(str(SCHED[f"piecewise/{case}/config"]))
    gold = SCHED[f"piecewise/{case}/lr"]
    keras_form = schedules.get("piecewise", **cfg, boundary_inclusive=True)
    assert [keras_form.lr(t) for t in range(len(gold))] == list(gold)
    torch_form = schedules.get("piecewise", **cfg)
    for b in cfg["boundaries"]:                # torch switches one step earlier
        assert torch_form.lr(b) == keras_form.lr(b + 1) != keras_form.lr(b)
    assert keras_form.params()["boundary_inclusive"] is True
    assert "boundary_inclusive" not in torch_form.params()


@pytest.mark.parametrize("case", sched_cases("cosine_keras"))
def test_cosine_clamped_is_keras_cosine_decay(case):
    cfg = json.loads(str(SCHED[f"cosine_keras/{case}/config"]))
    gold = SCHED[f"cosine_keras/{case}/lr"]
    assert len(gold) > 2 * cfg["total_steps"]        # well past the end
    s = schedules.get("cosine", **cfg)
    np.testing.assert_allclose([s.lr(t) for t in range(len(gold))], gold, rtol=1e-12,
                               atol=1e-15)


@pytest.mark.parametrize("case", sched_cases("cosine_torch"))
def test_cosine_periodic_is_torch_cosine_annealing(case):
    cfg = json.loads(str(SCHED[f"cosine_torch/{case}/config"]))
    gold = SCHED[f"cosine_torch/{case}/lr"]
    T = cfg["total_steps"]
    assert len(gold) > 4 * T and gold[2 * T] == pytest.approx(cfg["lr"])   # back up
    periodic = schedules.get("cosine", **cfg, periodic=True)
    np.testing.assert_allclose([periodic.lr(t) for t in range(len(gold))], gold, rtol=1e-12,
                               atol=1e-12)
    clamped = schedules.get("cosine", **cfg)
    assert [clamped.lr(t) for t in range(T + 1)] == [periodic.lr(t) for t in range(T + 1)]
    assert clamped.lr(2 * T) == clamped.min_lr < periodic.lr(T + 1)


def test_schedule_parameter_errors():
    with pytest.raises(TypeError, match="piecewise: boundary_inclusive must be True or False"):
        schedules.get("piecewise", boundaries=[1], values=[1, 2], boundary_inclusive=1)
    with pytest.raises(TypeError, match="cosine: periodic must be True or False, got 'yes'"):
        schedules.get("cosine", lr=0.1, total_steps=5, periodic="yes")


# ----------------------------------------------------------------- command line
def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_cli_schedule_preview_of_the_keras_and_torch_forms():
    r = invoke("schedule", "piecewise", "--boundaries", "10", "--values", "1,0.5",
               "--boundary-inclusive", "--steps", "20")
    assert r.exit_code == 0, r.output
    rows = {int(line.split()[0]): float(line.split()[1]) for line in r.output.splitlines()
            if line.strip() and line.split()[0].isdigit()}
    assert rows[10] == 1.0 and rows[11] == 0.5
    r = invoke("schedule", "cosine", "--lr", "1", "--total-steps", "10", "--periodic",
               "--steps", "21")
    assert r.exit_code == 0 and "periodic=True" in r.output
    r = invoke("schedule", "constant", "--lr", "1", "--periodic")
    assert r.exit_code == 2 and "--periodic is not an option of schedule 'constant'" in r.output


def test_cli_fit_convention(tmp_path, monkeypatch):
    monkeypatch.setenv("MINITRAIN_CACHE", str(tmp_path / "cache"))
    common = ("fit", "--dataset", "moons", "--n-samples", 200, "--epochs", 2, "-o", "adam",
              "--eps", "1e-3", "--quiet", "--json")
    sums = {}
    for convention in optim.CONVENTIONS:
        out = tmp_path / convention
        r = invoke(*common, "--convention", convention, "--out", out)
        assert r.exit_code == 0, r.output
        sums[convention] = json.loads(r.output.strip().splitlines()[-1])["params_sha256"]
        assert f'convention = "{convention}"' in (out / "config.toml").read_text()
        state = ckpt.load(out / "model.npz")
        opt = state["optimizer"]["state"]
        assert opt["convention"] == convention and opt["hyperparameters"]["eps"] == 1e-3
    assert sums["torch"] != sums["keras"]
    r = invoke("fit", "--resume", tmp_path / "keras", "--epochs", 3, "--quiet")
    assert r.exit_code == 0, r.output
    r = invoke(*common, "--convention", "tf", "--out", tmp_path / "x")
    assert r.exit_code == 2 and "'tf' is not one of 'torch', 'keras'" in r.output
