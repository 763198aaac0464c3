"""The schedule registry as the one list (spec, fill_from_run, build), composition
(sequential, with_warmup), purity and state round trips, validation of the new schedules,
and parameters from text. Goldens against torch/Keras/optax: test_schedules_peers.py.
"""
import inspect
import json
import math
import subprocess
import sys

import pytest

from minitrain import schedules
from minitrain.schedules import REQUIRED, build, fill_from_run, get, spec, with_warmup

# the least a caller gives besides what a run fills in (lr, total_steps)
MINIMAL = {
    "constant": {}, "power": {"steps": 100}, "exponential": {"steps": 100},
    "piecewise": {"boundaries": [30], "values": [0.1, 0.01]}, "plateau": {},
    "onecycle": {}, "cosine": {}, "polynomial": {}, "linear": {},
    "cyclic": {"base_lr": 0.01, "step_size_up": 20}, "cosine_restarts": {"first_steps": 25},
    "sequential": {"schedules": [{"name": "linear", "start_factor": 0.1}, {"name": "cosine"}],
                   "boundaries": [10]},
}


def run_schedule(name, **extra):
    return build(name, {**MINIMAL[name], **extra}, lr=0.1, total_steps=120)


# ---- the registry is the one list ----------------------------------------------------

def test_minimal_covers_exactly_the_required_parameters_the_run_does_not_fill():
    assert set(MINIMAL) == set(schedules.names())
    for name in schedules.names():
        needed = {p.name for p in spec(name) if p.default is REQUIRED and p.from_run is None}
        assert needed <= set(MINIMAL[name]), name


@pytest.mark.parametrize("name", schedules.names())
def test_spec_matches_the_constructor(name):
    cls = type(run_schedule(name))
    signature = [p for p in inspect.signature(cls.__init__).parameters.values()
                 if p.name != "self"]
    params = spec(name)
    assert [p.name for p in params] == [p.name for p in signature]
    for p, sig in zip(params, signature):
        assert p.default is REQUIRED or p.default == sig.default, p
        assert p.kind in schedules.KINDS and p.help and "\n" not in p.help
        assert bool(p.choices) == (p.kind == "choice")
        assert p.from_run in (None, "lr", "total_steps", "warmup_steps", "warmup_start")
    assert schedules.parameters(name) == {p.name: p.default for p in params}
    assert schedules.describe(name).endswith(".")            # a whole sentence, one line


@pytest.mark.parametrize("name", schedules.names())
def test_lr_and_length_parameters_are_filled_from_the_run(name):
    for p in spec(name):
        if p.name in ("lr", "total_steps"):
            assert p.from_run == p.name
        if p.name == "max_lr":
            assert p.from_run == "lr"             # onecycle, cyclic: the run's lr is the peak
        if p.from_run == "total_steps":
            assert p.low is not None and p.kind == "int"


@pytest.mark.parametrize("name,param", [(n, p.name) for n in schedules.names()
                                        for p in spec(n) if p.low is not None])
def test_low_is_the_least_valid_value(name, param):
    base = {**MINIMAL[name], "lr" if "lr" in schedules.parameters(name) else "max_lr": 0.1}
    low = {p.name: p for p in spec(name)}[param].low
    get(name, **{**base, param: low})
    with pytest.raises(ValueError, match=f"{name}: {param} must be >= {low}"):
        get(name, **{**base, param: low - 1})


@pytest.mark.parametrize("name,param", [(n, p) for n in schedules.names()
                                        for p in spec(n) if p.kind == "choice"])
def test_choices_are_the_accepted_values(name, param):
    for choice in param.choices:
        assert run_schedule(name, **{param.name: choice}).params()[param.name] == choice
    with pytest.raises(ValueError, match=f"{name}: {param.name} must be one of "
                                         f"{', '.join(param.choices)}"):
        run_schedule(name, **{param.name: "nope"})


FLOATS = [(n, p.name) for n in schedules.names() for p in spec(n) if p.kind == "float"]


@pytest.mark.parametrize("name,param", FLOATS)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_inf_are_rejected(name, param, bad):
    with pytest.raises(ValueError, match=f"^{name}: {param} must") as info:
        run_schedule(name, **{param: bad})
    assert "\n" not in str(info.value)


def test_import_is_numpy_free():
    code = ("import sys, minitrain.schedules as s; s.get('cyclic', base_lr=0.1, max_lr=1.0)"
            ".lr(3); s.spec('sequential'); s.parse_spec('cosine:min_lr=0'); "
            "print('numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_warmup_spec_is_the_run_options():
    steps, start = schedules.warmup_spec()
    assert (steps.name, steps.kind, steps.default) == ("warmup_steps", "int", 0)
    assert (start.name, start.kind, start.default) == ("warmup_start", "float", 0.0)
    cos = {p.name: p for p in spec("cosine")}
    assert cos["warmup_steps"].from_run == "warmup_steps"
    assert cos["warmup_start"].from_run == "warmup_start"


# ---- fill_from_run and build: the one home of "from the run" -----------------------------

def test_fill_from_run_fills_only_what_is_missing():
    given = {"pct_start": 0.25, "total_steps": 50}
    out = fill_from_run("onecycle", given, lr=0.1, total_steps=1000)
    assert out == {"pct_start": 0.25, "total_steps": 50, "max_lr": 0.1}
    assert given == {"pct_start": 0.25, "total_steps": 50}          # not modified
    assert fill_from_run("onecycle", {}, lr=0.1, total_steps=1)["total_steps"] == 2   # low
    assert fill_from_run("cosine", None) == {}                      # nothing to fill with
    assert fill_from_run("cosine", {}, lr=0.1) == {"lr": 0.1}
    assert fill_from_run("cyclic", {"base_lr": 0.01}, lr=0.1, total_steps=99) == {
        "base_lr": 0.01, "max_lr": 0.1}                             # no total_steps there
    assert fill_from_run("plateau", {}, lr=0.1, total_steps=9) == {"lr": 0.1}
    base = get("constant", lr=0.2)
    assert fill_from_run("plateau", {"base": base}, lr=0.1) == {"base": base}
    assert fill_from_run("cosine", {}, warmup_steps=5, warmup_start=0.01) == {
        "warmup_steps": 5, "warmup_start": 0.01}
    with pytest.raises(ValueError, match="unknown schedule 'nope'"):
        fill_from_run("nope", {})


def test_fill_from_run_gives_sequential_children_their_segments():
    child = get("constant", lr=0.5)
    params = {"schedules": [{"name": "linear", "start_factor": 0.1}, child,
                            {"name": "onecycle", "total_steps": 7}, {"name": "cosine"}],
              "boundaries": [100, 300, 307]}
    out = fill_from_run("sequential", params, lr=0.1, total_steps=1000)
    assert out["schedules"] == [
        {"name": "linear", "start_factor": 0.1, "lr": 0.1, "total_steps": 100}, child,
        {"name": "onecycle", "total_steps": 7, "max_lr": 0.1},
        {"name": "cosine", "lr": 0.1, "total_steps": 693}]
    assert params["schedules"][0] == {"name": "linear", "start_factor": 0.1}
    short = fill_from_run("sequential", params, lr=0.1, total_steps=200)["schedules"]
    assert short[3]["total_steps"] == 1                           # never reached: least valid
    s = get("sequential", **out)
    assert s.lr(99) == pytest.approx(0.0991) and s.lr(100) == 0.5
    assert s.lr(999) > 0 == s.lr(1000)                      # the run ends with the cosine


def test_build_with_warmup_wraps_and_shortens_the_schedule():
    s = build("exponential", {"steps": 100}, lr=0.1, total_steps=500, warmup_steps=50,
              warmup_start=0.01)
    ref = with_warmup(get("exponential", lr=0.1, steps=100), 50, 0.01)
    assert [s.lr(t) for t in range(600)] == [ref.lr(t) for t in range(600)]
    o = build("onecycle", {}, lr=0.1, total_steps=500, warmup_steps=100)
    assert o.schedule.total_steps == 400 and o.lr(0) == 0.0
    assert o.lr(100) == get("onecycle", max_lr=0.1, total_steps=400).lr(0)
    plain = build("constant", {}, lr=0.1, total_steps=10)             # no warm-up: as is
    assert isinstance(plain, schedules.Constant) and plain.params() == {"lr": 0.1}


def test_build_cosine_warms_up_itself():
    s = build("cosine", {"min_lr": 0.001}, lr=0.1, total_steps=500, warmup_steps=50,
              warmup_start=0.01)
    assert isinstance(s, schedules.Cosine)
    assert s.params() == {"lr": 0.1, "total_steps": 500, "min_lr": 0.001, "warmup_steps": 50,
                          "warmup_start": 0.01}
    with pytest.raises(ValueError, match="cosine: give the warm-up once, either "
                                         "warmup_steps as a schedule parameter"):
        build("cosine", {"warmup_steps": 5}, lr=0.1, total_steps=500, warmup_steps=50)


def test_build_errors():
    with pytest.raises(ValueError, match=r"warmup: warmup_steps must be < the run's "
                                         r"total_steps, got 100 >= 100"):
        build("constant", {}, lr=0.1, total_steps=100, warmup_steps=100)
    with pytest.raises(ValueError, match="warmup: warmup_steps must be >= 0"):
        build("constant", {}, lr=0.1, warmup_steps=-1)
    with pytest.raises(ValueError, match="warmup: warmup_start must be >= 0.0"):
        build("constant", {}, lr=0.1, warmup_start=-1.0)
    with pytest.raises(TypeError, match="cyclic: missing required parameter.* base_lr"):
        build("cyclic", {}, lr=0.1, total_steps=100)


# ---- with_warmup --------------------------------------------------------------------------

def test_with_warmup_ramp_and_handover():
    inner = get("onecycle", max_lr=1.0, total_steps=100)
    s = with_warmup(inner, 10, warmup_start=0.0)
    assert [s.lr(t) for t in (0, 5)] == [0.0, inner.lr(0) * 0.5]
    assert all(s.lr(10 + t) == inner.lr(t) and s.momentum(10 + t) == inner.momentum(t)
               for t in range(120))
    assert all(s.momentum(t) == inner.momentum(0) for t in range(10))
    assert schedules.cycles_momentum(s) and s.key_steps(110)[:2] == [9, 10]
    assert repr(s).startswith("warmup(schedule=onecycle(max_lr=1.0")
    assert repr(s).endswith("warmup_steps=10, warmup_start=0.0)")
    assert with_warmup({"name": "constant", "lr": 0.1}, 4).lr(2) == 0.05


def test_with_warmup_of_plateau_passes_observe_and_state():
    s = with_warmup(get("plateau", lr=1.0, factor=0.5, patience=0), 4, warmup_start=0.0)
    assert s.stateful and hasattr(s, "observe") and s.lr(2) == 0.5
    s.observe(1.0)
    s.observe(1.0)                                           # second flat epoch: cut
    assert s.lr(2) == 0.25 and s.lr(50) == 0.5
    fresh = with_warmup(get("plateau", lr=1.0, factor=0.5, patience=0), 4)
    fresh.load_state_dict(json.loads(json.dumps(s.state_dict())))
    assert [fresh.lr(t) for t in range(9)] == [s.lr(t) for t in range(9)]
    assert not hasattr(with_warmup(get("constant", lr=0.1), 3), "observe")


# ---- sequential -----------------------------------------------------------------------------

def test_sequential_children_count_their_own_steps():
    a = get("cyclic", base_lr=0.01, max_lr=0.1, step_size_up=5)
    b = get("linear", lr=0.2, start_factor=0.5, total_steps=10)
    s = get("sequential", schedules=[a, b], boundaries=[12])
    for t in range(40):
        child, local = (a, t) if t < 12 else (b, t - 12)
        assert s.lr(t) == child.lr(local) and s.momentum(t) == child.momentum(local)
    assert {11, 12} <= set(s.key_steps(40))                  # both sides of the boundary
    assert schedules.cycles_momentum(s) and s.state_dict() == {}
    assert repr(s) == (f"sequential(schedules=[{a!r}, {b!r}], boundaries=[12])")


def test_sequential_with_a_plateau_child():
    s = get("sequential", schedules=[{"name": "constant", "lr": 0.01},
                                     {"name": "plateau", "lr": 0.1, "patience": 0}],
            boundaries=[5])
    assert s.stateful and s.lr(4) == 0.01 and s.lr(5) == 0.1
    assert s.observe(1.0) is False and s.observe(1.0) is True
    state = json.loads(json.dumps(s.state_dict()))
    assert state["schedules"][0] == {} and state["schedules"][1]["num_reductions"] == 1
    fresh = get("sequential", **{"schedules": [{"name": "constant", "lr": 0.01},
                                               {"name": "plateau", "lr": 0.1, "patience": 0}],
                                 "boundaries": [5]})
    fresh.load_state_dict(state)
    assert [fresh.lr(t) for t in range(10)] == [s.lr(t) for t in range(10)]
    with pytest.raises(ValueError, match=r"sequential: state must be \{'schedules'"):
        fresh.load_state_dict({})
    with pytest.raises(ValueError, match="plateau: base must be a stateless schedule"):
        get("plateau", base=s)


def test_nested_sequential_and_plateau_of_a_sequential():
    inner = get("sequential", schedules=[get("constant", lr=1.0), get("constant", lr=2.0)],
                boundaries=[3])
    outer = get("sequential", schedules=[inner, get("constant", lr=3.0)], boundaries=[6])
    assert [outer.lr(t) for t in range(8)] == [1, 1, 1, 2, 2, 2, 3, 3]
    p = get("plateau", base=outer, patience=0, factor=0.5)
    p.observe(1)
    p.observe(1)
    assert p.lr(7) == 1.5


# ---- every schedule: pure in t, state round trip -----------------------------------------

@pytest.mark.parametrize("name", schedules.names())
@pytest.mark.parametrize("warmup", [0, 7])
def test_each_schedule_is_pure_in_the_step(name, warmup):
    a = build(name, MINIMAL[name], lr=0.1, total_steps=120, warmup_steps=warmup)
    if a.stateful:                       # plateau: some history first
        for m in (3.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0):
            a.observe(m)
    seq = [(a.lr(t), a.momentum(t)) for t in range(150)]
    b = build(name, MINIMAL[name], lr=0.1, total_steps=120, warmup_steps=warmup)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    assert [(b.lr(t), b.momentum(t)) for t in reversed(range(150))] == seq[::-1]
    assert [(a.lr(t), a.momentum(t)) for t in range(75, 150)] == seq[75:]
    if not a.stateful:
        assert a.state_dict() == {}
        fresh = build(name, MINIMAL[name], lr=0.1, total_steps=120, warmup_steps=warmup)
        assert [(fresh.lr(t), fresh.momentum(t)) for t in range(150)] == seq
    assert all(isinstance(k, int) for k in a.key_steps(150))
    assert all(math.isfinite(lr) and lr >= 0 for lr, _ in seq)


def test_cycles_momentum():
    cm = schedules.cycles_momentum
    assert cm(get("onecycle", max_lr=0.1, total_steps=10))
    assert not cm(get("onecycle", max_lr=0.1, total_steps=10, cycle_momentum=False))
    assert cm(get("cyclic", base_lr=0.1, max_lr=0.2))
    assert not cm(get("cyclic", base_lr=0.1, max_lr=0.2, cycle_momentum=False))
    assert cm(get("plateau", base=get("onecycle", max_lr=0.1, total_steps=10)))
    assert not cm(get("plateau", lr=0.1)) and not cm(get("cosine", lr=0.1, total_steps=5))
    assert not cm(None)

    class Custom:
        def lr(self, step):
            return 0.1

        def momentum(self, step):
            return 0.9

    assert cm(Custom())


# ---- validation of the new schedules ----------------------------------------------------------

ERRORS = [
    ("power", dict(lr=0.1, steps=10, rate=-1), ValueError, r"power: rate must be >= 0.0"),
    ("power", dict(lr=0.1, steps=10, staircase=1), TypeError,
     r"power: staircase must be True or False, got 1"),
    ("polynomial", dict(lr=0.1, total_steps=0), ValueError,
     r"polynomial: total_steps must be >= 1, got 0"),
    ("polynomial", dict(lr=0.1, total_steps=10, end_lr=-0.1), ValueError,
     r"polynomial: end_lr must be >= 0.0, got -0.1"),
    ("polynomial", dict(lr=0.1, total_steps=10, power=-1), ValueError,
     r"polynomial: power must be >= 0.0"),
    ("polynomial", dict(lr=0.1, total_steps=10, cycle="no"), TypeError,
     r"polynomial: cycle must be True or False"),
    ("linear", dict(lr=0.1, start_factor=0), ValueError,
     r"linear: start_factor must be in \(0.0, 1.0\], got 0.0"),
    ("linear", dict(lr=0.1, end_factor=1.5), ValueError,
     r"linear: end_factor must be in \[0.0, 1.0\], got 1.5"),
    ("linear", dict(lr=0.1, total_steps=2.5), TypeError,
     r"linear: total_steps must be an integer, got 2.5"),
    ("cyclic", dict(base_lr=0.2, max_lr=0.1), ValueError,
     r"cyclic: base_lr must be <= max_lr, got 0.2 > 0.1"),
    ("cyclic", dict(base_lr=-0.1, max_lr=0.1), ValueError, r"cyclic: base_lr must be >= 0.0"),
    ("cyclic", dict(base_lr=0.1, max_lr=0.2, step_size_up=0), ValueError,
     r"cyclic: step_size_up must be >= 1, got 0"),
    ("cyclic", dict(base_lr=0.1, max_lr=0.2, step_size_down=-1), ValueError,
     r"cyclic: step_size_down must be >= 0"),
    ("cyclic", dict(base_lr=0.1, max_lr=0.2, mode="tri"), ValueError,
     r"cyclic: mode must be one of triangular, triangular2, exp_range; got 'tri'"),
    ("cyclic", dict(base_lr=0.1, max_lr=0.2, gamma=0), ValueError,
     r"cyclic: gamma must be > 0.0"),
    ("cyclic", dict(base_lr=0.1, max_lr=0.2, base_momentum=0.95), ValueError,
     r"cyclic: base_momentum must be <= max_momentum, got 0.95 > 0.9"),
    ("cosine_restarts", dict(lr=0.1, first_steps=0), ValueError,
     r"cosine_restarts: first_steps must be >= 1"),
    ("cosine_restarts", dict(lr=0.1, first_steps=5, t_mult=0.5), ValueError,
     r"cosine_restarts: t_mult must be >= 1.0, got 0.5"),
    ("cosine_restarts", dict(lr=0.1, first_steps=5, min_lr=0.2), ValueError,
     r"cosine_restarts: min_lr must be in \[0.0, 0.1\], got 0.2"),
    ("cosine", dict(lr=0.1, total_steps=10, warmup_start=-1), ValueError,
     r"cosine: warmup_start must be >= 0.0"),
    ("piecewise", dict(boundaries=[1], values=[1, math.inf]), ValueError,
     r"piecewise: values\[1\] must be finite, got inf"),
    ("sequential", dict(schedules=[], boundaries=[]), ValueError,
     r"sequential: schedules must not be empty"),
    ("sequential", dict(schedules="cosine", boundaries=[]), TypeError,
     r"sequential: schedules must be a list of schedules, got 'cosine'"),
    ("sequential", dict(schedules=[{"lr": 0.1}], boundaries=[]), TypeError,
     r"sequential: schedules\[0\] must be a schedule or a table with a 'name'"),
    ("sequential", dict(schedules=[{"name": "constant", "lr": 0.1}] * 2, boundaries=[]),
     ValueError, r"sequential: need len\(boundaries\) == len\(schedules\) - 1, got 0 "),
    ("sequential", dict(schedules=[{"name": "constant", "lr": 0.1}] * 2, boundaries=[0]),
     ValueError, r"sequential: boundaries\[0\] must be >= 1, got 0"),
    ("sequential", dict(schedules=[{"name": "constant", "lr": 0.1}] * 3,
                        boundaries=[5, 5]), ValueError,
     r"sequential: boundaries must be strictly increasing, got \[5, 5\]"),
    ("sequential", dict(schedules=[{"name": "constant", "lr": 0.0}], boundaries=[]),
     ValueError, r"constant: lr must be > 0.0"),
]


@pytest.mark.parametrize("name,kw,exc,match", ERRORS,
                         ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)])
def test_validation_errors(name, kw, exc, match):
    with pytest.raises(exc, match=match) as info:
        get(name, **kw)
    assert "\n" not in str(info.value)


def test_with_warmup_errors():
    with pytest.raises(TypeError, match="warmup: schedule must be a schedule or a table"):
        with_warmup("cosine", 5)
    with pytest.raises(TypeError, match="warmup: warmup_steps must be an integer"):
        with_warmup(get("constant", lr=0.1), 2.5)


# ---- parameters from text -------------------------------------------------------------------

def test_parse_spec():
    ps = schedules.parse_spec
    assert ps("cosine") == ("cosine", {})
    assert ps(" cosine : min_lr = 1e-5 , warmup_steps=1e2") == (
        "cosine", {"min_lr": 1e-5, "warmup_steps": 100})
    assert ps("piecewise:boundaries=[100,200],values=[0.1,0.01,0.001],"
              "boundary_inclusive=yes") == ("piecewise", {
                  "boundaries": [100, 200], "values": [0.1, 0.01, 0.001],
                  "boundary_inclusive": True})
    assert ps("cyclic:mode=exp_range,step_size_down=3") == (
        "cyclic", {"mode": "exp_range", "step_size_down": 3})
    name, params = ps("sequential:schedules=[linear:start_factor=0.01,total_steps=100;"
                      "cosine:min_lr=1e-5],boundaries=[100]")
    assert (name, params) == ("sequential", {
        "schedules": [{"name": "linear", "start_factor": 0.01, "total_steps": 100},
                      {"name": "cosine", "min_lr": 1e-5}], "boundaries": [100]})
    s = build(name, params, lr=0.1, total_steps=1000)
    assert s.schedules[1].params()["total_steps"] == 900
    name, params = ps("plateau:base=[cosine:lr=0.1,total_steps=5],patience=2")
    assert params["patience"] == 2 and repr(params["base"]) == \
        "cosine(lr=0.1, total_steps=5, min_lr=0.0, warmup_steps=0)"


@pytest.mark.parametrize("text,match", [
    ("nope:lr=1", r"unknown schedule 'nope'"),
    ("cosine:lr", r"cosine: expected key=value, got 'lr' in 'cosine:lr'"),
    ("cosine:lr=1,lr=2", r"cosine: lr given twice"),
    ("cosine:lr=abc", r"cosine: lr must be a number, got 'abc'"),
    ("cosine:total_steps=2.5", r"cosine: total_steps must be an integer, got '2.5'"),
    ("cosine:periodic=maybe", r"cosine: periodic must be true or false, got 'maybe'"),
    ("cyclic:mode=up", r"cyclic: mode must be one of triangular, triangular2, exp_range, "
                       r"got 'up'"),
    ("piecewise:values=[0.1,x]", r"piecewise: values must be numbers like"),
    ("piecewise:values=[0.1,0.2", r"unbalanced brackets"),
])
def test_parse_spec_errors(text, match):
    with pytest.raises(ValueError, match=match) as info:
        schedules.parse_spec(text)
    assert "\n" not in str(info.value)


def test_convert():
    assert schedules.convert("cosine", "lr", 0.5) == 0.5               # typed: unchanged
    assert schedules.convert("piecewise", "boundaries", "[3]") == [3]
    assert schedules.convert("onecycle", "three_phase", "False") is False
    with pytest.raises(TypeError, match="cosine: unknown parameter 'nope'; valid: lr,"):
        schedules.convert("cosine", "nope", "1")


def test_sequential_from_a_toml_list_of_tables():
    import tomllib
    cfg = tomllib.loads('''
        schedule = "sequential"
        [schedule_params]
        boundaries = [100]
        [[schedule_params.schedules]]
        name = "linear"
        start_factor = 0.01
        [[schedule_params.schedules]]
        name = "cosine"
        min_lr = 1e-5
    ''')
    s = build(cfg["schedule"], cfg["schedule_params"], lr=0.1, total_steps=1000)
    text = build(*schedules.parse_spec("sequential:schedules=[linear:start_factor=0.01;"
                                       "cosine:min_lr=1e-5],boundaries=[100]"),
                 lr=0.1, total_steps=1000)
    assert repr(s) == repr(text) == (
        "sequential(schedules=[linear(lr=0.1, start_factor=0.01, end_factor=1.0, "
        "total_steps=100), cosine(lr=0.1, total_steps=900, min_lr=1e-05, warmup_steps=0)], "
        "boundaries=[100])")
