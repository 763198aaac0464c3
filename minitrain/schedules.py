"""Learning-rate (and momentum) schedules: small objects asked ``lr(step)`` every step.

The protocol
------------
Every schedule answers, for the ``step``-th optimizer update (``step`` counts updates
from 0, so the first update uses ``lr(0)``):

* ``lr(step) -> float``: the learning rate for that update (``sched(step)`` is the same);
* ``momentum(step) -> float | None``: the momentum to use (``momentum`` on SGD and
  RMSprop, ``beta1`` on the Adam family), or None when the schedule leaves it alone;
* ``state_dict() / load_state_dict(d)``: checkpoint support.

The trainer does, before every update::

    opt.lr = sched.lr(step)
    if (m := sched.momentum(step)) is not None:
        opt.set_momentum(m)

Schedules are **pure functions of the step**: there is no hidden counter, so a resumed
run that asks ``lr(step)`` gets exactly the value the uninterrupted run got, and a
schedule can be previewed at any step in any order. The one exception is ``plateau``
(performance scheduling), which must remember the metric history; it is fed with
``observe(metric)`` once per epoch and its ``state_dict()`` holds that memory.

Combining schedules
-------------------
* ``sequential(schedules, boundaries)`` chains schedules: schedule ``i`` answers from
  ``boundaries[i-1]`` on, counting its own steps from 0 there (torch ``SequentialLR``,
  optax ``join_schedules``).
* ``with_warmup(schedule, warmup_steps, warmup_start)`` puts a linear warm-up in front
  of any schedule (the schedule then starts, at its own step 0, after the warm-up).
* ``plateau`` may wrap a stateless *base* schedule; each reduction multiplies the base
  schedule's lr by ``factor``::

      sched = get("plateau", base=get("cosine", lr=0.1, total_steps=5000), patience=3)

The registry
------------
``names()``, ``get(name, **params)``, ``describe(name)``, ``parameters(name)`` (name ->
default) and ``spec(name)`` (type, default, choices, help, what the run fills in);
``build(name, params, lr=, total_steps=, warmup_steps=, warmup_start=)`` is the one
place where a run's lr and length become a schedule's parameters
(``fill_from_run`` does the filling alone), and ``cycles_momentum(schedule)`` says
whether a schedule needs an optimizer with momentum. The names and parameters are
fixed public API (DESIGN §3):

===============  =============================================================
constant         ``lr``
power            ``lr / (1 + rate*t/steps)**power`` (Keras ``InverseTimeDecay``)
exponential      ``lr * rate**(t/steps)`` (``floor(t/steps)`` with ``staircase``)
piecewise        ``values[i]``, ``i`` = number of boundaries <= t (< t: Keras)
plateau          torch ``ReduceLROnPlateau``; optional ``base=`` schedule
onecycle         torch ``OneCycleLR``, momentum cycled inversely
cosine           linear warm-up, then cosine decay to ``min_lr`` (Keras, optax)
polynomial       Keras ``PolynomialDecay`` (torch ``PolynomialLR``)
linear           torch ``LinearLR``
cyclic           torch ``CyclicLR`` (three modes), momentum cycled inversely
cosine_restarts  torch ``CosineAnnealingWarmRestarts``, Keras ``CosineDecayRestarts``
sequential       torch ``SequentialLR``, optax ``join_schedules``
===============  =============================================================

Tests compare every schedule with recorded PyTorch and Keras values (``onecycle`` and
``plateau`` bit for bit). Schedules asked for a step past their end return their final
value instead of raising, so a training loop that runs one step long never crashes.

>>> s = get("onecycle", max_lr=0.01, total_steps=100)
>>> round(s.lr(0), 6), s.lr(29), round(s.lr(99), 10), s.momentum(29)
(0.0004, 0.01, 4e-08, 0.85)

This module imports no NumPy (the command line reads the registry at start-up).
"""
from __future__ import annotations

import bisect
import inspect
import math
import numbers
from typing import NamedTuple

from minitrain._validation import check_choice, check_int, check_range

__all__ = [
    "Schedule", "Constant", "Power", "Exponential", "Piecewise", "Plateau", "OneCycle",
    "Cosine", "Polynomial", "Linear", "Cyclic", "CosineRestarts", "Sequential", "Warmup",
    "Param", "REQUIRED", "names", "get", "describe", "parameters", "spec", "warmup_spec",
    "fill_from_run", "build", "with_warmup", "cycles_momentum", "convert", "parse_spec",
]

#: The default reported by :func:`parameters` for a parameter that must be given.
REQUIRED = inspect.Parameter.empty


# ---- validation helpers -------------------------------------------------------------
def _check_step(step, owner):
    """``step`` as an int >= 0 (numpy integers are fine)."""
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise TypeError(f"{owner}: step must be an integer, got {step!r}")
    if step < 0:
        raise ValueError(f"{owner}: step must be >= 0, got {step!r}")
    return int(step)


def _num(name, value, lo=None, hi=None, *, owner, lo_open=False, hi_open=False):
    """A finite float in the interval (NaN and ±inf are rejected)."""
    value = check_range(name, value, lo, hi, owner=owner, lo_open=lo_open, hi_open=hi_open)
    if math.isinf(value):
        raise ValueError(f"{owner}: {name} must be finite, got {value!r}")
    return value


def _flag(name, value, owner):
    if not isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be True or False, got {value!r}")
    return value


def _steps(steps, owner):
    """A time scale > 0 in steps; kept an int when given as one (for a tidy repr)."""
    value = _num("steps", steps, 0.0, owner=owner, lo_open=True)
    return int(steps) if isinstance(steps, numbers.Integral) else value


# ---- parameter descriptions (what a command line or config file needs) --------------
#: Parameter kinds: a number, a flag, one of ``choices``, a list, or schedules.
KINDS = ("float", "int", "bool", "choice", "floats", "ints", "schedule", "schedules")


class Param(NamedTuple):
    """One schedule parameter, as :func:`spec` reports it.

    ``kind`` is one of :data:`KINDS` (``floats``/``ints``: a list; ``schedule``: a
    schedule object, library only; ``schedules``: a list of schedules or of tables
    ``{"name": ..., **params}``). ``default`` is :data:`REQUIRED` when the parameter
    must be given. ``from_run`` names what :func:`fill_from_run` puts there when it is
    not given: ``"lr"`` (the run's lr), ``"total_steps"`` (the run's length in
    updates), ``"warmup_steps"``/``"warmup_start"`` (the run's warm-up), or None.
    ``low`` is the smallest valid value of an integer filled from the run.
    """

    name: str
    kind: str
    default: object
    help: str
    choices: tuple = ()
    from_run: str | None = None
    low: int | None = None


def _p(kind, help, *, choices=(), from_run=None, low=None, required=False):
    """One entry of a class's ``_spec`` (the default comes from the signature)."""
    return dict(kind=kind, help=help, choices=tuple(choices), from_run=from_run, low=low,
                required=required)


# ---- the protocol -------------------------------------------------------------------
class Schedule:
    """Base class: frozen parameters, ``lr``/``momentum``/``state_dict`` protocol.

    Subclasses describe their parameters in ``_spec`` (constructor order), set them in
    ``__init__`` and implement ``_lr(step)`` (and ``_momentum(step)`` when they set
    momentum); the public ``lr``/``momentum`` validate ``step`` first. Parameters
    cannot be reassigned after construction: build a new schedule instead.
    """

    name = "schedule"          # registry name, set by each subclass
    _spec: dict = {}           # parameter -> _p(...), in constructor order
    stateful = False           # True when observe() changes the answers (plateau)
    _fill_unless: dict = {}    # fill_from_run skips parameter k when _fill_unless[k] is given
    _frozen = False

    def __setattr__(self, key, value):
        if self._frozen:
            raise AttributeError(f"{self.name}: schedules are immutable; "
                                 f"build a new one instead of setting {key!r}")
        object.__setattr__(self, key, value)

    def _freeze(self):
        object.__setattr__(self, "_frozen", True)

    # -- the protocol ---------------------------------------------------------------
    def lr(self, step) -> float:
        """Learning rate for the ``step``-th update (0-based)."""
        return self._lr(_check_step(step, self.name))

    def momentum(self, step):
        """Momentum (or Adam ``beta1``) for the ``step``-th update; None: leave it alone."""
        return self._momentum(_check_step(step, self.name))

    def __call__(self, step) -> float:
        return self.lr(step)

    def state_dict(self) -> dict:
        """Mutable state; ``{}`` for the stateless schedules (everything else is params)."""
        return {}

    def load_state_dict(self, state) -> None:
        """Restore :meth:`state_dict`; stateless schedules accept only ``{}``."""
        if not isinstance(state, dict):
            raise TypeError(f"{self.name}: state must be a dict, got {type(state).__name__}")
        if state:
            raise ValueError(f"{self.name}: has no state, got keys {sorted(state)}")

    def cycles_momentum(self) -> bool:
        """True when :meth:`momentum` returns a number (at some step)."""
        return False

    # -- introspection --------------------------------------------------------------
    def params(self) -> dict:
        """The constructor parameters, as given (after validation)."""
        return {k: getattr(self, k) for k in self._spec}

    def key_steps(self, total):
        """Steps worth showing in a preview of ``total`` steps (phase ends etc.)."""
        return []

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{self.name}({args})"

    def _lr(self, step):  # pragma: no cover - abstract
        raise NotImplementedError

    def _momentum(self, step):
        return None

    @classmethod
    def _fill(cls, params, run):
        """:func:`fill_from_run` beyond the flat parameters (sequential's children)."""


class Constant(Schedule):
    """Constant learning rate.

    ``lr(t) = lr`` for every step t.

    Parameters
    ----------
    lr : float
        The learning rate, > 0.

    Examples
    --------
    >>> Constant(0.01).lr(12345)
    0.01
    """

    name = "constant"
    _spec = dict(lr=_p("float", "the learning rate, > 0", from_run="lr"))

    def __init__(self, lr):
        self.lr_ = _num("lr", lr, 0.0, owner=self.name, lo_open=True)
        self._freeze()

    def params(self):
        return {"lr": self.lr_}

    def _lr(self, step):
        return self.lr_


class Power(Schedule):
    """Power (inverse-time) decay: the lr falls as a power of time.

    ::

        lr(t) = lr / (1 + rate * u)**power,   u = t/steps  (floor(t/steps) with staircase)

    With ``rate=1`` the lr is ``lr / 2**power`` after ``steps`` updates and
    ``lr / (k+1)**power`` after ``k*steps``. ``power=1`` is Keras
    ``InverseTimeDecay(lr, decay_steps=steps, decay_rate=rate, staircase)``, value for
    value (same operations).

    Parameters
    ----------
    lr : float
        Learning rate at step 0, > 0.
    steps : float
        Time scale in updates, > 0 (Keras ``decay_steps``).
    power : float, default 1
        Exponent, >= 0 (0 gives a constant lr).
    rate : float, default 1.0
        Multiplier of ``u``, >= 0 (Keras ``decay_rate``).
    staircase : bool, default False
        Use whole multiples of ``steps`` only (``u = floor(t/steps)``).

    Examples
    --------
    >>> s = Power(lr=0.1, steps=100)
    >>> [round(s.lr(t), 6) for t in (0, 100, 300)]
    [0.1, 0.05, 0.025]
    >>> k = Power(lr=0.1, steps=10, rate=0.5, staircase=True)
    >>> [k.lr(t) for t in (0, 9, 10, 25)]
    [0.1, 0.1, 0.06666666666666667, 0.05]
    """

    name = "power"
    _spec = dict(
        lr=_p("float", "learning rate at step 0, > 0", from_run="lr"),
        steps=_p("float", "time scale in updates, > 0"),
        power=_p("float", "exponent, >= 0"),
        rate=_p("float", "multiplier of t/steps, >= 0 (Keras decay_rate)"),
        staircase=_p("bool", "use floor(t/steps)"),
    )

    def __init__(self, lr, steps, power=1, rate=1.0, staircase=False):
        o = self.name
        self.lr_ = _num("lr", lr, 0.0, owner=o, lo_open=True)
        self.steps = _steps(steps, o)
        self.power = _num("power", power, 0.0, owner=o)
        self.rate = _num("rate", rate, 0.0, owner=o)
        self.staircase = _flag("staircase", staircase, o)
        self._freeze()

    def params(self):
        return {"lr": self.lr_, "steps": self.steps, "power": self.power,
                "rate": self.rate, "staircase": self.staircase}

    def _lr(self, step):
        u = math.floor(step / self.steps) if self.staircase else step / self.steps
        return self.lr_ / (1 + self.rate * u) ** self.power


class Exponential(Schedule):
    """Exponential decay: the lr is multiplied by ``rate`` every ``steps`` updates.

    ``lr(t) = lr * rate**(t/steps)``, or with ``staircase=True``
    ``lr(t) = lr * rate**floor(t/steps)`` (a step decay: constant within each block of
    ``steps`` updates, as torch ``StepLR(steps, gamma=rate)``).

    Parameters
    ----------
    lr : float
        Learning rate at step 0, > 0.
    rate : float, default 0.1
        Factor applied per ``steps`` updates, > 0 (< 1 decays).
    steps : float
        Updates per factor of ``rate``, > 0. Required (it follows ``rate`` only to keep
        the fixed parameter order).
    staircase : bool, default False
        Apply whole factors only (``floor(t/steps)``).

    Examples
    --------
    >>> s = Exponential(lr=0.1, rate=0.1, steps=100)
    >>> [round(s.lr(t), 8) for t in (0, 50, 100, 200)]
    [0.1, 0.03162278, 0.01, 0.001]
    >>> s = Exponential(lr=0.1, rate=0.5, steps=100, staircase=True)
    >>> [s.lr(t) for t in (0, 99, 100, 250)]
    [0.1, 0.1, 0.05, 0.025]
    """

    name = "exponential"
    _spec = dict(
        lr=_p("float", "learning rate at step 0, > 0", from_run="lr"),
        rate=_p("float", "factor per `steps` updates, > 0"),
        steps=_p("float", "updates per factor of rate, > 0", required=True),
        staircase=_p("bool", "apply whole factors only (step decay)"),
    )

    def __init__(self, lr, rate=0.1, steps=None, staircase=False):
        if steps is None:
            raise TypeError(f"{self.name}: steps is required (updates per factor of rate)")
        self.lr_ = _num("lr", lr, 0.0, owner=self.name, lo_open=True)
        self.rate = _num("rate", rate, 0.0, owner=self.name, lo_open=True)
        self.steps = _steps(steps, self.name)
        self.staircase = _flag("staircase", staircase, self.name)
        self._freeze()

    def params(self):
        return {"lr": self.lr_, "rate": self.rate, "steps": self.steps,
                "staircase": self.staircase}

    def _lr(self, step):
        exponent = math.floor(step / self.steps) if self.staircase else step / self.steps
        return self.lr_ * self.rate ** exponent


def _boundaries(boundaries, owner, lo=0):
    """A strictly increasing list of ints >= lo."""
    try:
        boundaries = list(boundaries)
    except TypeError:
        raise TypeError(f"{owner}: boundaries must be a sequence of integers, "
                        f"got {boundaries!r}") from None
    boundaries = [check_int(f"boundaries[{i}]", b, lo, owner=owner)
                  for i, b in enumerate(boundaries)]
    for i in range(1, len(boundaries)):
        if boundaries[i] <= boundaries[i - 1]:
            raise ValueError(f"{owner}: boundaries must be strictly increasing, "
                             f"got {boundaries}")
    return boundaries


class Piecewise(Schedule):
    """Piecewise constant: ``values[i]`` where ``i`` = number of boundaries <= t.

    ::

        lr(t) = values[0]     for            t <  boundaries[0]
                values[i]     for boundaries[i-1] <= t < boundaries[i]
                values[-1]    for boundaries[-1] <= t

    The value changes **at** ``t == boundary`` (as torch ``MultiStepLR`` and optax).
    With ``boundary_inclusive=True`` the boundary step still belongs to the interval
    before it, as in Keras ``PiecewiseConstantDecay``, so the value changes one step
    later, at ``t == boundary + 1``::

        lr(t) = values[i]     where i = number of boundaries < t

    Parameters
    ----------
    boundaries : sequence of int
        Steps (>= 0, strictly increasing) at which the next value starts.
    values : sequence of float
        ``len(boundaries) + 1`` learning rates, each >= 0.
    boundary_inclusive : bool, default False
        Keras's convention: each interval includes its upper boundary.

    Examples
    --------
    >>> s = Piecewise(boundaries=[100, 200], values=[0.1, 0.01, 0.001])
    >>> [s.lr(t) for t in (0, 99, 100, 199, 200, 10**6)]
    [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    >>> k = Piecewise(boundaries=[100, 200], values=[0.1, 0.01, 0.001], boundary_inclusive=True)
    >>> [k.lr(t) for t in (100, 101, 200, 201)]
    [0.1, 0.01, 0.01, 0.001]
    """

    name = "piecewise"
    _spec = dict(
        boundaries=_p("ints", "steps at which the next value starts, increasing"),
        values=_p("floats", "len(boundaries) + 1 learning rates, >= 0"),
        boundary_inclusive=_p("bool", "switch at boundary+1, as Keras"),
    )

    def __init__(self, boundaries, values, boundary_inclusive=False):
        owner = self.name
        try:
            boundaries, values = list(boundaries), list(values)
        except TypeError:
            raise TypeError(f"{owner}: boundaries and values must be sequences, "
                            f"got {boundaries!r} and {values!r}") from None
        boundaries = _boundaries(boundaries, owner)
        values = [_num(f"values[{i}]", v, 0.0, owner=owner) for i, v in enumerate(values)]
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"{owner}: need len(values) == len(boundaries) + 1, got "
                             f"{len(values)} values for {len(boundaries)} boundaries")
        self.boundaries = tuple(boundaries)
        self.values = tuple(values)
        self.boundary_inclusive = _flag("boundary_inclusive", boundary_inclusive, owner)
        self._freeze()

    def params(self):
        """The parameters; ``boundary_inclusive`` only when True (keeps reprs short)."""
        d = {"boundaries": list(self.boundaries), "values": list(self.values)}
        if self.boundary_inclusive:
            d["boundary_inclusive"] = True
        return d

    def key_steps(self, total):
        shift = 1 if self.boundary_inclusive else 0
        return [s + shift for b in self.boundaries for s in (b - 1, b)]

    def _lr(self, step):
        if self.boundary_inclusive:         # Keras: the boundary step is still before it
            step -= 1
        return self.values[bisect.bisect_right(self.boundaries, step)]


class Plateau(Schedule):
    """Performance scheduling: cut the lr by ``factor`` when a metric stops improving.

    Exactly PyTorch's ``ReduceLROnPlateau``. Call ``observe(metric)`` once per epoch
    (typically with the validation loss); ``lr(step)`` returns the current lr.
    On each ``observe(m)``::

        1. improved = m < best*(1 - threshold)    (mode "min", threshold_mode "rel")
                      m < best - threshold        (mode "min", threshold_mode "abs")
                      m > best*(1 + threshold)    (mode "max", threshold_mode "rel")
                      m > best + threshold        (mode "max", threshold_mode "abs")
           best starts at +inf ("min") or -inf ("max"); NaN is never an improvement.
        2. if improved: best = m, num_bad = 0      else: num_bad += 1
        3. if cooldown_counter > 0: cooldown_counter -= 1, num_bad = 0
        4. if num_bad > patience:                  (strictly: the (patience+1)-th bad epoch)
               new = max(lr*factor, min_lr); if lr - new > eps: lr = new
               cooldown_counter = cooldown, num_bad = 0

    With a stateless ``base`` schedule (instead of ``lr``) the reductions multiply
    the base schedule's lr, and ``min_lr`` bounds what the reductions can do::

        lr(t) = max(base.lr(t) * scale, min(base.lr(t), min_lr))

    where ``scale = factor**n`` after ``n`` reductions (``eps`` is not used then).
    This is the one way minitrain combines a decay with performance scheduling.

    Other libraries differ (docs only): Keras' callback reduces at ``>= patience`` with an
    absolute ``min_delta`` and counts cooldown differently; optax's ``reduce_on_plateau``
    reduces at ``== patience``. With a flat metric, patience 2 and cooldown 2, torch (and
    minitrain) reduce at epochs 3, 8, 13, ...; Keras at 2, 5, 8; optax at 2, 6, 10.

    Parameters
    ----------
    lr : float, optional
        Starting learning rate, > 0. Give ``lr`` or ``base``, not both.
    factor : float, default 0.1
        Multiplier per reduction, in (0, 1).
    patience : int, default 10
        Bad epochs tolerated; the lr drops on the ``patience + 1``-th in a row.
    mode : {"min", "max"}, default "min"
        Whether the metric should go down (a loss) or up (an accuracy).
    threshold : float, default 1e-4
        Least change that counts as an improvement, >= 0.
    threshold_mode : {"rel", "abs"}, default "rel"
        ``threshold`` relative to ``best`` or absolute.
    cooldown : int, default 0
        Epochs after a reduction during which bad epochs are not counted.
    min_lr : float, default 0
        Lower bound for the reductions.
    eps : float, default 1e-8
        A reduction smaller than ``eps`` is skipped (torch's rule; not used with ``base``).
    base : Schedule, optional
        A stateless schedule whose lr the reductions multiply.

    Examples
    --------
    >>> s = Plateau(lr=1.0, factor=0.5, patience=1)
    >>> [(s.observe(m), s.lr(0))[1] for m in [5, 4, 4, 4, 4, 3, 3]]
    [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5]
    """

    name = "plateau"
    stateful = True
    _fill_unless = {"lr": "base"}
    _spec = dict(
        lr=_p("float", "starting lr, > 0 (or give base)", from_run="lr"),
        factor=_p("float", "lr multiplier per plateau, in (0, 1)"),
        patience=_p("int", "bad epochs tolerated before a cut, >= 0"),
        mode=_p("choice", "the metric should go down (min) or up (max)",
                choices=("min", "max")),
        threshold=_p("float", "least change that counts as an improvement, >= 0"),
        threshold_mode=_p("choice", "threshold relative to best or absolute",
                          choices=("rel", "abs")),
        cooldown=_p("int", "epochs ignored after a cut, >= 0"),
        min_lr=_p("float", "lower bound for the reductions, >= 0"),
        eps=_p("float", "reductions smaller than this are skipped, >= 0"),
        base=_p("schedule", "a stateless schedule the reductions multiply (library only)"),
    )
    _STATE = ("best", "num_bad_epochs", "cooldown_counter", "current_lr", "scale",
              "num_reductions", "epochs")

    def __init__(self, lr=None, factor=0.1, patience=10, mode="min", threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8, base=None):
        owner = self.name
        if (lr is None) == (base is None):
            raise TypeError(f"{owner}: give exactly one of lr or base, got "
                            f"lr={lr!r}, base={base!r}")
        if base is not None:
            if not isinstance(base, Schedule):
                raise TypeError(f"{owner}: base must be a schedule from "
                                f"minitrain.schedules.get, got {base!r}")
            if base.stateful:
                raise ValueError(f"{owner}: base must be a stateless schedule, "
                                 f"without a plateau in it, got {base.name}")
        self.lr_ = None if lr is None else _num("lr", lr, 0.0, owner=owner, lo_open=True)
        self.base = base
        self.factor = _num("factor", factor, 0.0, 1.0, owner=owner,
                                  lo_open=True, hi_open=True)
        self.patience = check_int("patience", patience, 0, owner=owner)
        self.mode = check_choice("mode", mode, ("min", "max"), owner=owner)
        self.threshold = _num("threshold", threshold, 0.0, owner=owner)
        self.threshold_mode = check_choice("threshold_mode", threshold_mode,
                                           ("rel", "abs"), owner=owner)
        self.cooldown = check_int("cooldown", cooldown, 0, owner=owner)
        self.min_lr = _num("min_lr", min_lr, 0.0, owner=owner)
        self.eps = _num("eps", eps, 0.0, owner=owner)
        # the only mutable part; a dict so that the parameters above stay frozen
        self._state = {}
        self._freeze()
        self.reset()

    def params(self):
        return {"lr": self.lr_, "factor": self.factor, "patience": self.patience,
                "mode": self.mode, "threshold": self.threshold,
                "threshold_mode": self.threshold_mode, "cooldown": self.cooldown,
                "min_lr": self.min_lr, "eps": self.eps, "base": self.base}

    def __repr__(self):
        p = self.params()
        p.pop("lr" if self.base is not None else "base")
        args = ", ".join(f"{k}={v!r}" for k, v in p.items())
        return f"{self.name}({args})"

    # -- state ----------------------------------------------------------------------
    def reset(self):
        """Forget the metric history: best, counters, and every reduction."""
        self._state.clear()
        self._state.update(best=math.inf if self.mode == "min" else -math.inf,
                           num_bad_epochs=0, cooldown_counter=0, current_lr=self.lr_,
                           scale=1.0, num_reductions=0, epochs=0)

    def state_dict(self):
        """``best, num_bad_epochs, cooldown_counter, current_lr, scale, num_reductions,
        epochs`` as plain Python numbers (``current_lr`` is None with a base)."""
        return dict(self._state)

    def load_state_dict(self, state):
        if not isinstance(state, dict):
            raise TypeError(f"{self.name}: state must be a dict, got {type(state).__name__}")
        missing = [k for k in self._STATE if k not in state]
        extra = sorted(k for k in state if k not in self._STATE)
        if missing or extra:
            raise ValueError(f"{self.name}: state keys differ: missing {missing}, "
                             f"unexpected {extra}")
        if (state["current_lr"] is None) != (self.base is not None):
            raise ValueError(f"{self.name}: state was saved "
                             f"{'with' if state['current_lr'] is None else 'without'} a "
                             f"base schedule; this plateau is "
                             f"{'with' if self.base is not None else 'without'} one")
        self._state.update({k: state[k] for k in self._STATE})

    @property
    def best(self):
        """Best metric seen so far (±inf before the first observation)."""
        return self._state["best"]

    @property
    def num_bad_epochs(self):
        return self._state["num_bad_epochs"]

    @property
    def cooldown_counter(self):
        return self._state["cooldown_counter"]

    @property
    def num_reductions(self):
        return self._state["num_reductions"]

    # -- the rule -------------------------------------------------------------------
    def _is_better(self, a, best):
        # 1. the four cases of torch's _is_better, same arithmetic
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def observe(self, metric) -> bool:
        """Record one epoch's ``metric``; return True if the lr was reduced."""
        current = float(metric)
        st = self._state
        st["epochs"] += 1
        # 2. improvement or one more bad epoch
        if self._is_better(current, st["best"]):
            st["best"] = current
            st["num_bad_epochs"] = 0
        else:
            st["num_bad_epochs"] += 1
        # 3. bad epochs during cooldown do not count
        if st["cooldown_counter"] > 0:
            st["cooldown_counter"] -= 1
            st["num_bad_epochs"] = 0
        # 4. reduce on the (patience+1)-th bad epoch
        reduced = False
        if st["num_bad_epochs"] > self.patience:
            if self.base is None:
                old = st["current_lr"]
                new = max(old * self.factor, self.min_lr)
                if old - new > self.eps:
                    st["current_lr"] = new
                    reduced = True
            else:
                st["scale"] *= self.factor
                reduced = True
            st["num_reductions"] += reduced
            st["cooldown_counter"] = self.cooldown
            st["num_bad_epochs"] = 0
        return reduced

    def _lr(self, step):
        if self.base is None:
            return self._state["current_lr"]
        b = self.base.lr(step)
        return max(b * self._state["scale"], min(b, self.min_lr))

    def _momentum(self, step):
        return None if self.base is None else self.base.momentum(step)

    def cycles_momentum(self):
        return self.base is not None and self.base.cycles_momentum()


class OneCycle(Schedule):
    """The 1cycle policy (Smith), exactly as PyTorch's ``OneCycleLR``.

    With ``T = total_steps``, ``init = max_lr/div_factor`` and
    ``final = init/final_div_factor``, the phases (float ends, as in torch) are::

        three_phase=False (fastai, default)
          1. t <= pct_start*T - 1 :  lr init -> max_lr,   momentum max_m -> base_m
          2. t <= T - 1           :  lr max_lr -> final,  momentum base_m -> max_m
        three_phase=True (the paper)
          1. t <= pct_start*T - 1   :  lr init -> max_lr,  momentum max_m -> base_m
          2. t <= 2*pct_start*T - 2 :  lr max_lr -> init,  momentum base_m -> max_m
          3. t <= T - 1             :  lr init -> final,   momentum max_m (constant)
        past the end, t >= T       :  the value at T - 1

    Within a phase from ``start`` (the previous end, or 0) to ``end``,
    ``pct = (t - start)/(end - start)`` and the value is ``anneal(a, b, pct)``::

        anneal="cos":     b + (a - b)/2 * (cos(pi*pct) + 1)
        anneal="linear":  (b - a)*pct + a

    so ``lr(0)`` is ``init`` up to rounding (0.040000000000000036 for max_lr=1), as in
    torch. ``momentum(t)`` is None when ``cycle_momentum=False``.

    With ``three_phase`` and ``pct_start`` above about 0.5, phase 2 is still running at
    the last step and phase 3 never starts (as in torch); keep ``pct_start`` < 0.5.

    For the T updates ``t = 0 .. T-1`` the values equal torch's bit for bit. Past the
    end minitrain returns the final value rather than raising mid-training; torch
    computes one more value at ``t = T`` (never used for an update: the phase formula at
    ``pct > 1``, which in linear mode lies below ``final`` and can be negative) and
    raises for ``t > T``.

    **The textbook 1cycle** (linear up to ``max_lr`` about halfway, linear back down to
    the start, then a last drop well below the start) is
    ``onecycle(anneal="linear", three_phase=True, pct_start=0.45)``; ``div_factor`` is
    ``max_lr/lr_start`` and the final drop reaches ``lr_start/final_div_factor``.

    Parameters
    ----------
    max_lr : float
        Peak learning rate, > 0.
    total_steps : int
        Number of updates in the cycle, >= 2.
    pct_start : float, default 0.3
        Fraction of the steps spent increasing the lr, in (0, 1).
    anneal : {"cos", "linear"}, default "cos"
        Shape of every phase.
    div_factor : float, default 25
        Start lr = ``max_lr / div_factor``.
    final_div_factor : float, default 1e4
        Final lr = start lr / ``final_div_factor``.
    three_phase : bool, default False
        The paper's three phases instead of fastai's two.
    cycle_momentum : bool, default True
        Cycle momentum (SGD, RMSprop) or ``beta1`` (Adam family) inversely to the lr.
    base_momentum, max_momentum : float, default 0.85, 0.95
        Momentum at the peak lr and at the ends, in [0, 1], base <= max.

    Examples
    --------
    >>> s = OneCycle(max_lr=1.0, total_steps=20, anneal="linear", three_phase=True)
    >>> [round(s.lr(t), 3) for t in (0, 5, 10, 19, 25)]
    [0.04, 1.0, 0.04, 0.0, 0.0]
    >>> [round(s.momentum(t), 3) for t in (0, 5, 10, 19)]
    [0.95, 0.85, 0.95, 0.95]
    """

    name = "onecycle"
    _spec = dict(
        max_lr=_p("float", "peak learning rate, > 0", from_run="lr"),
        total_steps=_p("int", "updates in the cycle, >= 2", from_run="total_steps", low=2),
        pct_start=_p("float", "fraction of the steps going up, in (0, 1)"),
        anneal=_p("choice", "shape of every phase", choices=("cos", "linear")),
        div_factor=_p("float", "start lr = max_lr/div_factor, > 0"),
        final_div_factor=_p("float", "final lr = start lr/final_div_factor, > 0"),
        three_phase=_p("bool", "the paper's 3 phases instead of fastai's 2"),
        cycle_momentum=_p("bool", "cycle momentum/beta1 inversely to the lr"),
        base_momentum=_p("float", "momentum at the peak lr, in [0, 1]"),
        max_momentum=_p("float", "momentum at the ends, in [0, 1]"),
    )

    def __init__(self, max_lr, total_steps, pct_start=0.3, anneal="cos", div_factor=25,
                 final_div_factor=1e4, three_phase=False, cycle_momentum=True,
                 base_momentum=0.85, max_momentum=0.95):
        o = self.name
        self.max_lr = _num("max_lr", max_lr, 0.0, owner=o, lo_open=True)
        self.total_steps = check_int("total_steps", total_steps, 2, owner=o)
        self.pct_start = _num("pct_start", pct_start, 0.0, 1.0, owner=o,
                                     lo_open=True, hi_open=True)
        self.anneal = check_choice("anneal", anneal, ("cos", "linear"), owner=o)
        self.div_factor = _num("div_factor", div_factor, 0.0, owner=o, lo_open=True)
        self.final_div_factor = _num("final_div_factor", final_div_factor, 0.0,
                                            owner=o, lo_open=True)
        self.three_phase = _flag("three_phase", three_phase, o)
        self.cycle_momentum = _flag("cycle_momentum", cycle_momentum, o)
        self.base_momentum = _num("base_momentum", base_momentum, 0.0, 1.0, owner=o)
        self.max_momentum = _num("max_momentum", max_momentum, 0.0, 1.0, owner=o)
        if self.base_momentum > self.max_momentum:
            raise ValueError(f"{o}: base_momentum must be <= max_momentum, got "
                             f"{self.base_momentum} > {self.max_momentum}")

        T = self.total_steps
        init = self.max_lr / self.div_factor          # torch's group["initial_lr"]
        final = init / self.final_div_factor          # torch's group["min_lr"]
        peak_end = float(self.pct_start * T) - 1      # float, as in torch
        if peak_end == 0.0:
            raise ValueError(f"{o}: pct_start*total_steps must not be 1 (the warm-up "
                             f"phase would be empty), got {self.pct_start}*{T}")
        lo_m, hi_m = self.base_momentum, self.max_momentum
        if three_phase:
            down_end = float(2 * self.pct_start * T) - 2
            phases = [(peak_end, init, self.max_lr, hi_m, lo_m),
                      (down_end, self.max_lr, init, lo_m, hi_m),
                      (T - 1, init, final, hi_m, hi_m)]
        else:
            phases = [(peak_end, init, self.max_lr, hi_m, lo_m),
                      (T - 1, self.max_lr, final, lo_m, hi_m)]
        self._phases = tuple(phases)   # (end_step, lr_from, lr_to, mom_from, mom_to)
        self.initial_lr, self.final_lr = init, final
        self._freeze()

    def key_steps(self, total):
        ends = [p[0] for p in self._phases]
        return [int(math.floor(e)) for e in ends] + [int(math.ceil(e)) for e in ends]

    def _where(self, step):
        """(phase, pct) for a step, clamped to the last step; torch's get_lr loop."""
        step = min(step, self.total_steps - 1)
        start = 0.0
        for i, phase in enumerate(self._phases):
            end = phase[0]
            if step <= end or i == len(self._phases) - 1:
                return phase, (step - start) / (end - start)
            start = end
        raise AssertionError("unreachable")

    def _anneal(self, a, b, pct):
        if self.anneal == "cos":
            return b + (a - b) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (b - a) * pct + a

    def _lr(self, step):
        phase, pct = self._where(step)
        return self._anneal(phase[1], phase[2], pct)

    def cycles_momentum(self):
        return self.cycle_momentum

    def _momentum(self, step):
        if not self.cycle_momentum:
            return None
        phase, pct = self._where(step)
        return self._anneal(phase[3], phase[4], pct)


class Cosine(Schedule):
    """Cosine decay from ``lr`` to ``min_lr`` over ``total_steps``, optional warm-up.

    With ``W = warmup_steps``, ``T = total_steps`` and ``s = warmup_start``::

        1. t < W       :  s + (lr - s) * t/W                         linear warm-up
        2. W <= t < T  :  min_lr + (lr - min_lr)/2 * (1 + cos(pi * (t - W)/(T - W)))
        3. t >= T      :  min_lr                                 clamped (default)
           t >= T      :  formula 2 continued                    periodic=True

    The warm-up starts at ``warmup_start`` (0 by default, so the first update uses
    lr 0) and reaches ``lr`` at ``t = W``, where the cosine starts; the cosine takes the
    remaining ``T - W`` updates. This is Keras ``CosineDecay(warmup_start, T - W,
    alpha=min_lr/lr, warmup_target=lr, warmup_steps=W)`` and optax
    ``warmup_cosine_decay_schedule(warmup_start, lr, W, T, end_value=min_lr)``, equal
    to rounding. (minitrain 0.1 warmed up as ``lr*(t+1)/(W+1)``, which neither
    library uses.) Past the end there are two conventions:

    * **clamped** (``periodic=False``, the default): stays at ``min_lr``, as Keras
      ``CosineDecay`` and optax ``cosine_decay_schedule``;
    * **periodic** (``periodic=True``): follows the cosine back up to ``lr`` at ``2T``
      and down again (period ``2T``), as torch ``CosineAnnealingLR(T_max=T,
      eta_min=min_lr)``, whose values past ``T_max`` are this closed form.

    Both agree for ``t <= T``; they differ only for a run longer than ``total_steps``.

    Parameters
    ----------
    lr : float
        Peak learning rate (after warm-up), > 0.
    total_steps : int
        Updates until ``min_lr`` is reached (warm-up included), >= 1.
    min_lr : float, default 0
        Final learning rate, in [0, lr].
    warmup_steps : int, default 0
        Linear warm-up updates, < ``total_steps``.
    warmup_start : float, default 0
        Learning rate at step 0 of the warm-up, >= 0.
    periodic : bool, default False
        Past ``total_steps``, continue the cosine (torch) instead of holding ``min_lr``
        (Keras, optax).

    Examples
    --------
    >>> s = Cosine(lr=1.0, total_steps=10, min_lr=0.1, warmup_steps=4)
    >>> [round(s.lr(t), 4) for t in (0, 3, 4, 7, 9, 10, 99)]
    [0.0, 0.75, 1.0, 0.55, 0.1603, 0.1, 0.1]
    >>> p = Cosine(lr=1.0, total_steps=10, periodic=True)
    >>> [round(p.lr(t), 4) for t in (5, 10, 15, 20, 30)]
    [0.5, 0.0, 0.5, 1.0, 0.0]
    """

    name = "cosine"
    _spec = dict(
        lr=_p("float", "peak learning rate (after the warm-up), > 0", from_run="lr"),
        total_steps=_p("int", "updates until min_lr, warm-up included, >= 1",
                       from_run="total_steps", low=1),
        min_lr=_p("float", "final learning rate, in [0, lr]"),
        warmup_steps=_p("int", "linear warm-up updates, < total_steps",
                        from_run="warmup_steps"),
        warmup_start=_p("float", "learning rate at step 0 of the warm-up, >= 0",
                        from_run="warmup_start"),
        periodic=_p("bool", "past the end rise again (torch) instead of holding min_lr"),
    )

    def __init__(self, lr, total_steps, min_lr=0, warmup_steps=0, warmup_start=0,
                 periodic=False):
        o = self.name
        self.lr_ = _num("lr", lr, 0.0, owner=o, lo_open=True)
        self.total_steps = check_int("total_steps", total_steps, 1, owner=o)
        self.min_lr = _num("min_lr", min_lr, 0.0, self.lr_, owner=o)
        self.warmup_steps = check_int("warmup_steps", warmup_steps, 0, owner=o)
        if self.warmup_steps >= self.total_steps:
            raise ValueError(f"{o}: warmup_steps must be < total_steps, got "
                             f"{self.warmup_steps} >= {self.total_steps}")
        self.warmup_start = _num("warmup_start", warmup_start, 0.0, owner=o)
        self.periodic = _flag("periodic", periodic, o)
        self._freeze()

    def params(self):
        """The parameters; warm-up and ``periodic`` only when used (short reprs)."""
        d = {"lr": self.lr_, "total_steps": self.total_steps, "min_lr": self.min_lr,
             "warmup_steps": self.warmup_steps}
        if self.warmup_start:
            d["warmup_start"] = self.warmup_start
        if self.periodic:
            d["periodic"] = True
        return d

    def key_steps(self, total):
        w = self.warmup_steps
        return [w - 1, w, self.total_steps - 1] if w else [self.total_steps - 1]

    def _lr(self, step):
        W, T = self.warmup_steps, self.total_steps
        if step < W:                                           # 1. warm-up (Keras's form)
            return (self.lr_ - self.warmup_start) * (step / W) + self.warmup_start
        if step >= T and not self.periodic:                    # 3. past the end
            return self.min_lr
        pct = (step - W) / (T - W)                             # 2. cosine decay
        return self.min_lr + (self.lr_ - self.min_lr) / 2 * (1 + math.cos(math.pi * pct))


class Polynomial(Schedule):
    """Polynomial decay from ``lr`` to ``end_lr``, exactly Keras ``PolynomialDecay``.

    With ``T = total_steps``::

        lr(t) = (lr - end_lr) * (1 - t'/T')**power + end_lr
        cycle=False:  t' = min(t, T),  T' = T                 (then end_lr for ever)
        cycle=True:   t' = t,          T' = T * max(1, ceil(t/T))
                      (after each T steps the decay restarts from lr, stretched)

    ``power=1`` decays linearly. With ``end_lr=0`` and ``cycle=False`` this is torch
    ``PolynomialLR(total_iters=T, power=power)``.

    Parameters
    ----------
    lr : float
        Learning rate at step 0, > 0.
    total_steps : int
        Updates of the decay, >= 1 (Keras ``decay_steps``, torch ``total_iters``).
    end_lr : float, default 0.0
        Learning rate reached at ``total_steps``, >= 0.
    power : float, default 1.0
        Exponent, >= 0.
    cycle : bool, default False
        Restart the decay after each multiple of ``total_steps`` (Keras ``cycle``).

    Examples
    --------
    >>> s = Polynomial(lr=0.05, total_steps=10, end_lr=0.001)
    >>> [round(s.lr(t), 6) for t in (0, 5, 10, 15)]
    [0.05, 0.0255, 0.001, 0.001]
    >>> round(Polynomial(lr=0.05, total_steps=10, end_lr=0.001, cycle=True).lr(15), 6)
    0.01325
    """

    name = "polynomial"
    _spec = dict(
        lr=_p("float", "learning rate at step 0, > 0", from_run="lr"),
        total_steps=_p("int", "updates of the decay, >= 1", from_run="total_steps", low=1),
        end_lr=_p("float", "learning rate at total_steps, >= 0"),
        power=_p("float", "exponent, >= 0"),
        cycle=_p("bool", "restart the decay after each total_steps (Keras)"),
    )

    def __init__(self, lr, total_steps, end_lr=0.0, power=1.0, cycle=False):
        o = self.name
        self.lr_ = _num("lr", lr, 0.0, owner=o, lo_open=True)
        self.total_steps = check_int("total_steps", total_steps, 1, owner=o)
        self.end_lr = _num("end_lr", end_lr, 0.0, owner=o)
        self.power = _num("power", power, 0.0, owner=o)
        self.cycle = _flag("cycle", cycle, o)
        self._freeze()

    def params(self):
        return {"lr": self.lr_, "total_steps": self.total_steps, "end_lr": self.end_lr,
                "power": self.power, "cycle": self.cycle}

    def key_steps(self, total):
        return [self.total_steps - 1, self.total_steps]

    def _lr(self, step):
        T = self.total_steps
        if self.cycle:
            T = T * max(1, -(-step // T))                      # ceil(t/T), 1 at t = 0
        else:
            step = min(step, T)
        return (self.lr_ - self.end_lr) * (1 - step / T) ** self.power + self.end_lr


class Linear(Schedule):
    """Linear change of the lr by a factor, exactly torch ``LinearLR``.

    With ``T = total_steps``::

        lr(t) = lr * (start_factor + (end_factor - start_factor) * min(t, T) / T)

    so ``lr(0) = lr * start_factor`` and ``lr(t) = lr * end_factor`` from ``t = T`` on.
    A warm-up is ``start_factor < 1, end_factor = 1``; a linear decay is
    ``start_factor = 1, end_factor < 1``. torch computes the same values recursively
    (equal to rounding); minitrain uses torch's closed form.

    Parameters
    ----------
    lr : float
        Learning rate the factors multiply, > 0.
    start_factor : float, default 1/3
        Factor at step 0, in (0, 1] (torch's range).
    end_factor : float, default 1.0
        Factor from ``total_steps`` on, in [0, 1].
    total_steps : int, default 5
        Updates of the change, >= 1 (torch ``total_iters``). A run fills it with its
        length (:func:`fill_from_run`), so from the command line the change spans the run.

    Examples
    --------
    >>> s = Linear(lr=0.05, start_factor=0.05, total_steps=40)
    >>> [round(s.lr(t), 7) for t in (0, 1, 2, 3, 40, 100)]
    [0.0025, 0.0036875, 0.004875, 0.0060625, 0.05, 0.05]
    """

    name = "linear"
    _spec = dict(
        lr=_p("float", "learning rate the factors multiply, > 0", from_run="lr"),
        start_factor=_p("float", "factor at step 0, in (0, 1]"),
        end_factor=_p("float", "factor from total_steps on, in [0, 1]"),
        total_steps=_p("int", "updates of the change, >= 1", from_run="total_steps", low=1),
    )

    def __init__(self, lr, start_factor=1.0 / 3, end_factor=1.0, total_steps=5):
        o = self.name
        self.lr_ = _num("lr", lr, 0.0, owner=o, lo_open=True)
        self.start_factor = _num("start_factor", start_factor, 0.0, 1.0, owner=o,
                                 lo_open=True)
        self.end_factor = _num("end_factor", end_factor, 0.0, 1.0, owner=o)
        self.total_steps = check_int("total_steps", total_steps, 1, owner=o)
        self._freeze()

    def params(self):
        return {"lr": self.lr_, "start_factor": self.start_factor,
                "end_factor": self.end_factor, "total_steps": self.total_steps}

    def key_steps(self, total):
        return [self.total_steps - 1, self.total_steps]

    def _lr(self, step):
        T = self.total_steps                                   # torch's closed form
        return self.lr_ * (self.start_factor + (self.end_factor - self.start_factor)
                           * min(T, step) / T)


class Cyclic(Schedule):
    """Cyclical learning rates (Smith's CLR), exactly torch ``CyclicLR``.

    With ``up = step_size_up``, ``down = step_size_down`` (``up`` if None),
    ``L = up + down`` and ``r = up/L``::

        cycle = floor(1 + t/L)                    (1, 2, ...)
        x     = 1 + t/L - cycle                   (position in the cycle, [0, 1))
        h     = x/r            if x <= r          (rising: 0 -> 1)
                (x - 1)/(r - 1) otherwise         (falling: 1 -> 0)
        lr(t)       = base_lr + (max_lr - base_lr) * h * scale
        momentum(t) = max_momentum - (max_momentum - base_momentum) * h * scale

        scale = 1                    mode "triangular"
                1/2**(cycle - 1)     mode "triangular2"  (amplitude halves every cycle)
                gamma**t             mode "exp_range"

    The lr rises from ``base_lr`` to ``max_lr`` over ``up`` updates and falls back over
    ``down``; momentum (SGD ``momentum``, Adam ``beta1``) moves the opposite way.
    Same operations as torch, so the values are torch's bit for bit.

    Parameters
    ----------
    base_lr : float
        Lower learning rate, >= 0.
    max_lr : float
        Upper learning rate, >= ``base_lr``.
    step_size_up : int, default 2000
        Updates of the rising half, >= 1.
    step_size_down : int, optional
        Updates of the falling half, >= 0; None: ``step_size_up``.
    mode : {"triangular", "triangular2", "exp_range"}, default "triangular"
        Amplitude scaling.
    gamma : float, default 1.0
        ``exp_range`` factor per update, > 0.
    cycle_momentum : bool, default True
        Cycle momentum/``beta1`` inversely to the lr.
    base_momentum, max_momentum : float, default 0.8, 0.9
        Momentum at the peak lr and at ``base_lr``, in [0, 1], base <= max.

    Examples
    --------
    >>> s = Cyclic(base_lr=0.1, max_lr=1.0, step_size_up=4, mode="triangular2")
    >>> [round(s.lr(t), 4) for t in (0, 2, 4, 6, 8, 12, 16)]
    [0.1, 0.55, 1.0, 0.55, 0.1, 0.55, 0.1]
    >>> [round(s.momentum(t), 4) for t in (0, 4, 12)]
    [0.9, 0.8, 0.85]
    """

    name = "cyclic"
    _spec = dict(
        base_lr=_p("float", "lower learning rate, >= 0"),
        max_lr=_p("float", "upper learning rate, >= base_lr", from_run="lr"),
        step_size_up=_p("int", "updates of the rising half, >= 1"),
        step_size_down=_p("int", "updates of the falling half, >= 0 (default: step_size_up)"),
        mode=_p("choice", "amplitude scaling", choices=("triangular", "triangular2",
                                                       "exp_range")),
        gamma=_p("float", "exp_range: amplitude factor per update, > 0"),
        cycle_momentum=_p("bool", "cycle momentum/beta1 inversely to the lr"),
        base_momentum=_p("float", "momentum at max_lr, in [0, 1]"),
        max_momentum=_p("float", "momentum at base_lr, in [0, 1]"),
    )

    def __init__(self, base_lr, max_lr, step_size_up=2000, step_size_down=None,
                 mode="triangular", gamma=1.0, cycle_momentum=True, base_momentum=0.8,
                 max_momentum=0.9):
        o = self.name
        self.base_lr = _num("base_lr", base_lr, 0.0, owner=o)
        self.max_lr = _num("max_lr", max_lr, 0.0, owner=o, lo_open=True)
        if self.base_lr > self.max_lr:
            raise ValueError(f"{o}: base_lr must be <= max_lr, got "
                             f"{self.base_lr} > {self.max_lr}")
        self.step_size_up = check_int("step_size_up", step_size_up, 1, owner=o)
        self.step_size_down = (None if step_size_down is None else
                               check_int("step_size_down", step_size_down, 0, owner=o))
        self.mode = check_choice("mode", mode, self._spec["mode"]["choices"], owner=o)
        self.gamma = _num("gamma", gamma, 0.0, owner=o, lo_open=True)
        self.cycle_momentum = _flag("cycle_momentum", cycle_momentum, o)
        self.base_momentum = _num("base_momentum", base_momentum, 0.0, 1.0, owner=o)
        self.max_momentum = _num("max_momentum", max_momentum, 0.0, 1.0, owner=o)
        if self.base_momentum > self.max_momentum:
            raise ValueError(f"{o}: base_momentum must be <= max_momentum, got "
                             f"{self.base_momentum} > {self.max_momentum}")
        up = float(self.step_size_up)                           # torch's arithmetic
        down = up if step_size_down is None else float(self.step_size_down)
        self._total_size = up + down
        self._step_ratio = up / self._total_size
        self._freeze()

    def key_steps(self, total):
        L, up = int(self._total_size), self.step_size_up
        return [s for k in range(0, total, L) for s in (k, k + up) if s < total][:40]

    def cycles_momentum(self):
        return self.cycle_momentum

    def _where(self, step):
        """(h * scale) of the docstring, computed as torch computes it."""
        cycle = math.floor(1 + step / self._total_size)
        x = 1.0 + step / self._total_size - cycle
        if x <= self._step_ratio:
            h = x / self._step_ratio
        else:
            h = (x - 1) / (self._step_ratio - 1)
        if self.mode == "triangular":
            scale = 1.0
        elif self.mode == "triangular2":
            scale = 1 / (2.0 ** (cycle - 1))
        else:
            scale = self.gamma ** step
        return h, scale

    def _lr(self, step):
        h, scale = self._where(step)
        return self.base_lr + (self.max_lr - self.base_lr) * h * scale

    def _momentum(self, step):
        if not self.cycle_momentum:
            return None
        h, scale = self._where(step)
        return self.max_momentum - (self.max_momentum - self.base_momentum) * h * scale


class CosineRestarts(Schedule):
    """Cosine decay with warm restarts (SGDR), as torch's and Keras's restart schedules.

    Run ``i = 0, 1, 2, ...`` lasts ``T_i = first_steps * t_mult**i`` updates and starts
    at ``S_i = T_0 + ... + T_(i-1)``; within it::

        lr(t) = min_lr + (lr - min_lr) * m_mul**i * (1 + cos(pi * (t - S_i)/T_i)) / 2

    so every run starts at ``lr * m_mul**i`` (plus ``min_lr`` share) and decays towards
    ``min_lr``. torch: ``CosineAnnealingWarmRestarts(T_0=first_steps, T_mult=t_mult,
    eta_min=min_lr)`` with ``m_mul = 1`` (bit for bit with integer ``t_mult``). Keras:
    ``CosineDecayRestarts(lr, first_steps, t_mul=t_mult, m_mul=m_mul,
    alpha=min_lr/lr)`` (note Keras's default ``t_mul`` is 2.0, torch's and minitrain's 1).

    Parameters
    ----------
    lr : float
        Learning rate at the start of the first run, > 0.
    first_steps : int
        Updates of the first run, >= 1.
    t_mult : float, default 1.0
        Each run is ``t_mult`` times longer than the one before, >= 1.
    m_mul : float, default 1.0
        Each run starts ``m_mul`` times lower (above ``min_lr``), >= 0.
    min_lr : float, default 0.0
        Learning rate at the end of every run, in [0, lr].

    Examples
    --------
    >>> s = CosineRestarts(lr=1.0, first_steps=4, t_mult=2, m_mul=0.5)
    >>> [round(s.lr(t), 4) for t in (0, 2, 3, 4, 8, 12, 13)]
    [1.0, 0.5, 0.1464, 0.5, 0.25, 0.25, 0.2476]
    """

    name = "cosine_restarts"
    _spec = dict(
        lr=_p("float", "learning rate at the start of the first run, > 0", from_run="lr"),
        first_steps=_p("int", "updates of the first run, >= 1"),
        t_mult=_p("float", "each run is t_mult times longer, >= 1"),
        m_mul=_p("float", "each run starts m_mul times lower, >= 0"),
        min_lr=_p("float", "learning rate at the end of every run, in [0, lr]"),
    )

    def __init__(self, lr, first_steps, t_mult=1.0, m_mul=1.0, min_lr=0.0):
        o = self.name
        self.lr_ = _num("lr", lr, 0.0, owner=o, lo_open=True)
        self.first_steps = check_int("first_steps", first_steps, 1, owner=o)
        self.t_mult = _num("t_mult", t_mult, 1.0, owner=o)
        self.m_mul = _num("m_mul", m_mul, 0.0, owner=o)
        self.min_lr = _num("min_lr", min_lr, 0.0, self.lr_, owner=o)
        # integer lengths (torch) are computed exactly with Python ints
        self._int_mult = int(self.t_mult) if self.t_mult.is_integer() else None
        self._freeze()

    def params(self):
        return {"lr": self.lr_, "first_steps": self.first_steps, "t_mult": self.t_mult,
                "m_mul": self.m_mul, "min_lr": self.min_lr}

    def _start(self, i):
        """S_i: the step at which run i starts."""
        T0, m = self.first_steps, self._int_mult
        if m == 1:
            return T0 * i
        if m is not None:
            return T0 * (m ** i - 1) // (m - 1)
        return T0 * (self.t_mult ** i - 1) / (self.t_mult - 1)

    def _run(self, step):
        """(i, S_i, T_i) for a step: the closed form, corrected to exact boundaries."""
        T0 = self.first_steps
        if self._int_mult == 1:
            i = step // T0
        else:
            q = self.t_mult
            i = int(math.log(step / T0 * (q - 1) + 1) / math.log(q))
            while i > 0 and self._start(i) > step:
                i -= 1
            while self._start(i + 1) <= step:
                i += 1
        length = T0 * (self._int_mult ** i if self._int_mult is not None
                       else self.t_mult ** i)
        return i, self._start(i), length

    def key_steps(self, total):
        out, i = [], 1
        while self._start(i) < total and i < 30:
            s = int(math.ceil(self._start(i)))
            out += [s - 1, s]
            i += 1
        return out

    def _lr(self, step):
        i, start, length = self._run(step)
        fac = self.m_mul ** i
        return (self.min_lr + (self.lr_ - self.min_lr) * fac
                * (1 + math.cos(math.pi * (step - start) / length)) / 2)


def _as_schedule(obj, owner, what):
    """A Schedule, or one built from a table ``{"name": ..., **params}``."""
    if isinstance(obj, Schedule):
        return obj
    if isinstance(obj, dict) and isinstance(obj.get("name"), str):
        params = {k: v for k, v in obj.items() if k != "name"}
        return get(obj["name"], **params)
    raise TypeError(f"{owner}: {what} must be a schedule or a table with a 'name', "
                    f"got {obj!r}")


class Sequential(Schedule):
    """Schedules one after another: torch ``SequentialLR``, optax ``join_schedules``.

    With boundaries ``b_1 < b_2 < ...`` (``b_0 = 0``)::

        lr(t) = schedules[i].lr(t - b_i)    where i = number of boundaries <= t

    Each schedule counts its own steps from 0 at its boundary; ``momentum`` is the
    active schedule's too (None from a schedule that leaves momentum alone: the
    optimizer keeps the last value set). ``state_dict`` holds the states of the
    stateful children (a ``plateau``), and ``observe(metric)`` is passed to every one
    of them, active or not (torch refuses ReduceLROnPlateau in SequentialLR).

    Parameters
    ----------
    schedules : sequence of Schedule or of dict
        At least one schedule; a table ``{"name": "cosine", "lr": 0.1, ...}`` is built
        with :func:`get` (so a config file can hold the children as a list of tables).
    boundaries : sequence of int
        ``len(schedules) - 1`` steps, >= 1 and strictly increasing.

    Examples
    --------
    >>> warm = Linear(lr=0.1, start_factor=0.1, total_steps=5)
    >>> s = Sequential([warm, Cosine(lr=0.1, total_steps=20)], boundaries=[5])
    >>> [round(s.lr(t), 4) for t in (0, 4, 5, 15, 25, 99)]
    [0.01, 0.082, 0.1, 0.05, 0.0, 0.0]
    """

    name = "sequential"
    _spec = dict(
        schedules=_p("schedules", "the schedules, each counting its steps from 0"),
        boundaries=_p("ints", "len(schedules)-1 steps where the next one starts"),
    )

    def __init__(self, schedules, boundaries):
        o = self.name
        if isinstance(schedules, (str, dict, Schedule)) or not hasattr(schedules, "__iter__"):
            raise TypeError(f"{o}: schedules must be a list of schedules, got {schedules!r}")
        children = [_as_schedule(s, o, f"schedules[{i}]") for i, s in enumerate(schedules)]
        if not children:
            raise ValueError(f"{o}: schedules must not be empty")
        bounds = _boundaries(boundaries, o, lo=1)
        if len(bounds) != len(children) - 1:
            raise ValueError(f"{o}: need len(boundaries) == len(schedules) - 1, got "
                             f"{len(bounds)} boundaries for {len(children)} schedules")
        self.schedules = tuple(children)
        self.boundaries = tuple(bounds)
        self.stateful = any(c.stateful for c in children)
        if self.stateful:
            self.observe = self._observe
        self._freeze()

    def params(self):
        return {"schedules": list(self.schedules), "boundaries": list(self.boundaries)}

    def _child(self, step):
        i = bisect.bisect_right(self.boundaries, step)
        return self.schedules[i], step - (self.boundaries[i - 1] if i else 0)

    def _lr(self, step):
        child, local = self._child(step)
        return child.lr(local)

    def _momentum(self, step):
        child, local = self._child(step)
        return child.momentum(local)

    def cycles_momentum(self):
        return any(c.cycles_momentum() for c in self.schedules)

    def key_steps(self, total):
        out, starts = [], (0, *self.boundaries)
        for start, child in zip(starts, self.schedules):
            out += [start - 1, start] + [start + k for k in child.key_steps(total - start)]
        return [s for s in out if s >= 0]

    def _observe(self, metric):
        return any([c.observe(metric) for c in self.schedules if c.stateful])

    def state_dict(self):
        """``{}`` without stateful children, else ``{"schedules": [state, ...]}``."""
        if not self.stateful:
            return {}
        return {"schedules": [c.state_dict() for c in self.schedules]}

    def load_state_dict(self, state):
        if not self.stateful:
            return super().load_state_dict(state)
        if not isinstance(state, dict) or set(state) != {"schedules"} \
                or len(state["schedules"]) != len(self.schedules):
            raise ValueError(f"{self.name}: state must be {{'schedules': [one state per "
                             f"schedule, {len(self.schedules)}]}}, got {state!r}")
        for child, s in zip(self.schedules, state["schedules"]):
            child.load_state_dict(s)

    @classmethod
    def _fill(cls, params, run):
        """:func:`fill_from_run` for the children given as tables: each gets the run's
        lr and, as ``total_steps``, the length of its own segment."""
        children, bounds = params.get("schedules"), params.get("boundaries")
        if not isinstance(children, (list, tuple)) or not isinstance(bounds, (list, tuple)) \
                or not all(isinstance(b, numbers.Integral) for b in bounds):
            return                                             # get() says what is wrong
        starts, ends = [0, *bounds], [*bounds, run["total_steps"]]
        filled = []
        for child, start, end in zip(children, starts, ends):
            if isinstance(child, dict) and isinstance(child.get("name"), str):
                seg = None if end is None else end - start     # raised to >= low by fill
                rest = {k: v for k, v in child.items() if k != "name"}
                child = {"name": child["name"],
                         **fill_from_run(child["name"], rest, lr=run["lr"], total_steps=seg)}
            filled.append(child)
        filled += list(children[len(filled):])
        params["schedules"] = filled


class Warmup(Schedule):
    """A linear warm-up in front of any schedule (made by :func:`with_warmup`).

    With ``W = warmup_steps``, ``s = warmup_start`` and the wrapped ``schedule``::

        t < W :  lr(t) = s + (schedule.lr(0) - s) * t/W     momentum: schedule.momentum(0)
        t >= W:  lr(t) = schedule.lr(t - W)                  momentum: schedule.momentum(t - W)

    The schedule starts, at its own step 0, once the warm-up is over (as optax
    ``join_schedules([linear_schedule(s, peak, W), schedule], [W])`` and Keras
    ``CosineDecay``'s warm-up, which both run the decay after the warm-up); the ramp
    ends at the schedule's first lr, so the curve is continuous. ``Cosine(lr, T,
    warmup_steps=W, warmup_start=s)`` equals ``with_warmup(Cosine(lr, T - W), W, s)``.
    A wrapped ``plateau`` keeps receiving ``observe``; its state is the state here.

    Parameters
    ----------
    schedule : Schedule
        The schedule after the warm-up.
    warmup_steps : int
        Updates of the warm-up, >= 1.
    warmup_start : float, default 0.0
        Learning rate at step 0, >= 0.

    Examples
    --------
    >>> s = with_warmup(Exponential(lr=0.1, rate=0.5, steps=10), 4, warmup_start=0.02)
    >>> [round(s.lr(t), 4) for t in (0, 1, 3, 4, 14)]
    [0.02, 0.04, 0.08, 0.1, 0.05]
    """

    name = "warmup"
    _spec = dict(
        schedule=_p("schedule", "the schedule after the warm-up"),
        warmup_steps=_p("int", "linear warm-up updates before the schedule, >= 0",
                        from_run="warmup_steps"),
        warmup_start=_p("float", "learning rate at step 0 of the warm-up, >= 0",
                        from_run="warmup_start"),
    )

    def __init__(self, schedule, warmup_steps, warmup_start=0.0):
        o = self.name
        self.schedule = _as_schedule(schedule, o, "schedule")
        self.warmup_steps = check_int("warmup_steps", warmup_steps, 1, owner=o)
        self.warmup_start = _num("warmup_start", warmup_start, 0.0, owner=o)
        self.stateful = self.schedule.stateful
        if self.stateful:
            self.observe = self.schedule.observe
        self._freeze()

    def _lr(self, step):
        W = self.warmup_steps
        if step < W:                                           # Keras's form of the ramp
            target = self.schedule.lr(0)
            return (target - self.warmup_start) * (step / W) + self.warmup_start
        return self.schedule.lr(step - W)

    def _momentum(self, step):
        return self.schedule.momentum(max(step - self.warmup_steps, 0))

    def cycles_momentum(self):
        return self.schedule.cycles_momentum()

    def key_steps(self, total):
        W = self.warmup_steps
        return [W - 1, W] + [W + k for k in self.schedule.key_steps(total - W)]

    def state_dict(self):
        return self.schedule.state_dict()

    def load_state_dict(self, state):
        self.schedule.load_state_dict(state)


def with_warmup(schedule, warmup_steps, warmup_start=0.0) -> Schedule:
    """``schedule`` after a linear warm-up of ``warmup_steps`` (see :class:`Warmup`).

    ``warmup_steps=0`` returns ``schedule`` itself, so callers need no special case.

    >>> c = get("constant", lr=0.1)
    >>> with_warmup(c, 0) is c, with_warmup(c, 10).lr(5)
    (True, 0.05)
    """
    if check_int("warmup_steps", warmup_steps, 0, owner="warmup") == 0:
        _num("warmup_start", warmup_start, 0.0, owner="warmup")
        return _as_schedule(schedule, "warmup", "schedule")
    return Warmup(schedule, warmup_steps, warmup_start)


# ---- registry ------------------------------------------------------------------------
_REGISTRY = {cls.name: cls for cls in (Constant, Power, Exponential, Piecewise, Plateau,
                                        OneCycle, Cosine, Polynomial, Linear, Cyclic,
                                        CosineRestarts, Sequential)}


def names():
    """Registry names, simplest first."""
    return list(_REGISTRY)


def _lookup(name):
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown schedule {name!r}; valid: {', '.join(_REGISTRY)}") from None


def _spec_of(cls):
    signature = inspect.signature(cls.__init__).parameters
    out = []
    for pname, entry in cls._spec.items():
        default = signature[pname].default
        if entry["required"] or default is inspect.Parameter.empty:
            default = REQUIRED
        out.append(Param(pname, entry["kind"], default, entry["help"], entry["choices"],
                         entry["from_run"], entry["low"]))
    return tuple(out)


def spec(name) -> tuple:
    """The parameters of a schedule, in constructor order, as :class:`Param` tuples.

    Everything a command line or config reader needs to build options generically:
    name, kind, default (:data:`REQUIRED` if none), help, choices and what the run
    fills in (``from_run``).

    >>> [(p.name, p.kind, p.default, p.from_run) for p in spec("polynomial")][:3]
    [('lr', 'float', <class 'inspect._empty'>, 'lr'), ('total_steps', 'int', \
<class 'inspect._empty'>, 'total_steps'), ('end_lr', 'float', 0.0, None)]
    """
    return _spec_of(_lookup(name))


def warmup_spec() -> tuple:
    """The run-level warm-up options of :func:`build` (for every schedule):
    ``warmup_steps`` (default 0: none) and ``warmup_start`` (default 0.0)."""
    steps, start = (p for p in _spec_of(Warmup) if p.name != "schedule")
    return (steps._replace(default=0), start)


def parameters(name) -> dict:
    """``{parameter: default}`` for a schedule; :data:`REQUIRED` marks required ones.

    >>> parameters("power")
    {'lr': <class 'inspect._empty'>, 'steps': <class 'inspect._empty'>, 'power': 1, \
'rate': 1.0, 'staircase': False}
    """
    return {p.name: p.default for p in spec(name)}


def describe(name) -> str:
    """One line: what the schedule does (the first line of its docstring)."""
    return inspect.getdoc(_lookup(name)).splitlines()[0].replace("``", "")


def get(name, **params) -> Schedule:
    """Build a schedule by registry name: ``get("cosine", lr=0.1, total_steps=1000)``.

    Unknown names raise ``ValueError`` listing the valid ones; unknown parameters raise
    ``TypeError`` naming the parameter and listing the valid ones; bad values raise
    ``ValueError`` (``"onecycle: pct_start must be in (0.0, 1.0), got 1.5"``).
    """
    cls = _lookup(name)
    valid = parameters(name)
    for key in params:
        if key not in valid:
            raise TypeError(f"{name}: unknown parameter {key!r}; valid: {', '.join(valid)}")
    missing = [k for k, v in valid.items() if v is REQUIRED and k not in params]
    if missing:
        raise TypeError(f"{name}: missing required parameter(s) {', '.join(missing)}")
    return cls(**params)


# ---- a run's schedule ------------------------------------------------------------------
def fill_from_run(name, params=None, lr=None, total_steps=None, *, warmup_steps=None,
                  warmup_start=None) -> dict:
    """``params`` completed with what a run knows; the one home of this rule.

    Every parameter whose :attr:`Param.from_run` is set and that ``params`` does not
    give is filled: ``"lr"`` with ``lr`` (``lr`` of most schedules, ``max_lr`` of
    ``onecycle`` and ``cyclic``: the run's lr is their peak; not plateau's ``lr`` when a
    ``base`` is given), ``"total_steps"`` with ``total_steps`` raised to the
    parameter's least valid value (``onecycle`` needs 2), ``"warmup_steps"`` /
    ``"warmup_start"`` with those (``cosine`` only). A ``sequential``'s children given
    as tables are filled too, each with the run's lr and the length of its own segment
    as ``total_steps`` (the last: ``total_steps - boundaries[-1]``). Arguments left
    None fill nothing. ``params`` is not modified.

    >>> fill_from_run("onecycle", {"pct_start": 0.25}, lr=0.1, total_steps=1000)
    {'pct_start': 0.25, 'max_lr': 0.1, 'total_steps': 1000}
    >>> fill_from_run("sequential", {"schedules": [{"name": "linear", "start_factor": 0.1},
    ...     {"name": "cosine"}], "boundaries": [100]}, lr=0.1, total_steps=1000)["schedules"]
    [{'name': 'linear', 'start_factor': 0.1, 'lr': 0.1, 'total_steps': 100}, \
{'name': 'cosine', 'lr': 0.1, 'total_steps': 900}]
    """
    cls = _lookup(name)
    out = dict(params or {})
    run = {"lr": lr, "total_steps": total_steps, "warmup_steps": warmup_steps,
           "warmup_start": warmup_start}
    for p in _spec_of(cls):
        value = None if p.from_run is None else run[p.from_run]
        if value is None or p.name in out or cls._fill_unless.get(p.name) in out:
            continue
        out[p.name] = value if p.low is None else max(value, p.low)
    cls._fill(out, run)
    return out


def build(name, params=None, *, lr=None, total_steps=None, warmup_steps=0,
          warmup_start=0.0) -> Schedule:
    """The schedule of a run: :func:`fill_from_run`, :func:`get`, :func:`with_warmup`.

    ``total_steps`` is the run's length in updates (epochs * steps per epoch) and
    ``lr`` its learning rate. With ``warmup_steps = W > 0`` the run warms up linearly
    from ``warmup_start`` for ``W`` updates and the schedule fills the remaining
    ``total_steps - W`` (it is built with that length and starts at its own step 0
    after the warm-up); ``cosine`` does this itself with its own ``warmup_steps`` /
    ``warmup_start`` (the same numbers, and exactly Keras's/optax's). Giving both the
    run's warm-up and cosine's own warm-up parameters is an error.

    >>> s = build("exponential", {"steps": 100}, lr=0.1, total_steps=500, warmup_steps=50)
    >>> s
    warmup(schedule=exponential(lr=0.1, rate=0.1, steps=100, staircase=False), \
warmup_steps=50, warmup_start=0.0)
    >>> build("cosine", lr=0.1, total_steps=500, warmup_steps=50)
    cosine(lr=0.1, total_steps=500, min_lr=0.0, warmup_steps=50)
    """
    cls = _lookup(name)
    W = check_int("warmup_steps", warmup_steps, 0, owner="warmup")
    own = [p.name for p in _spec_of(cls) if p.from_run in ("warmup_steps", "warmup_start")]
    if W and own:
        given = [k for k in own if k in (params or {})]
        if given:
            raise ValueError(f"{name}: give the warm-up once, either {given[0]} as a "
                             f"schedule parameter or warmup_steps={W} for the run")
        return get(name, **fill_from_run(name, params, lr, total_steps, warmup_steps=W,
                                         warmup_start=warmup_start))
    if W and total_steps is not None and W >= total_steps:
        raise ValueError(f"warmup: warmup_steps must be < the run's total_steps, got "
                         f"{W} >= {total_steps}")
    rest = None if total_steps is None else total_steps - W
    return with_warmup(get(name, **fill_from_run(name, params, lr, rest)), W, warmup_start)


def cycles_momentum(schedule) -> bool:
    """True when ``schedule`` sets the momentum (so the optimizer must have one).

    The run builder refuses such a schedule with an optimizer whose
    ``momentum_attr`` is None (Adagrad, plain SGD...). Any object with a
    ``momentum(step)`` method is accepted; None (no schedule) gives False.
    """
    if isinstance(schedule, Schedule):
        return schedule.cycles_momentum()
    momentum = getattr(schedule, "momentum", None)
    return callable(momentum) and momentum(0) is not None


# ---- parameters from text (command line, spec strings) --------------------------------
_BOOLS = {"true": True, "yes": True, "on": True, "1": True,
          "false": False, "no": False, "off": False, "0": False}
_KIND_TEXT = {"float": "a number", "int": "an integer", "bool": "true or false",
              "floats": "numbers like [0.1,0.01]", "ints": "integers like [100,200]",
              "schedule": "a schedule like cosine:min_lr=0", "choice": "one of",
              "schedules": "schedules like [linear:total_steps=5;cosine]"}


def _split(text, sep):
    """``text`` split at ``sep`` outside brackets; empty parts dropped."""
    parts, depth, current = [], 0, []
    for ch in text:
        depth += (ch == "[") - (ch == "]")
        if depth < 0:
            break
        if ch == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if depth != 0:
        raise ValueError(f"unbalanced brackets in {text!r}")
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _unbracket(text):
    text = text.strip()
    return text[1:-1] if text.startswith("[") and text.endswith("]") else text


def _int(text):
    try:
        return int(text)
    except ValueError:
        value = float(text)                        # "1e3" -> 1000; "2.5" is an error
        if not value.is_integer():
            raise
        return int(value)


def convert(name, param, text):
    """A parameter value from text, by its :func:`spec` kind (non-strings pass through).

    Lists are comma-separated, optionally in brackets (``100,200`` or ``[100,200]``);
    a ``schedules`` list is ``[spec;spec;...]`` of :func:`parse_spec` strings, each
    becoming a table ``{"name": ..., **params}``.

    >>> convert("cyclic", "step_size_up", "1e3"), convert("piecewise", "values", "1,0.5")
    (1000, [1.0, 0.5])
    """
    kinds = {p.name: p for p in spec(name)}
    if param not in kinds:
        raise TypeError(f"{name}: unknown parameter {param!r}; valid: {', '.join(kinds)}")
    if not isinstance(text, str):
        return text
    p = kinds[param]
    try:
        if p.kind == "float":
            return float(text)
        if p.kind == "int":
            return _int(text)
        if p.kind == "bool":
            return _BOOLS[text.strip().lower()]
        if p.kind == "choice":
            if text.strip() not in p.choices:
                raise ValueError
            return text.strip()
        if p.kind in ("floats", "ints"):
            one = float if p.kind == "floats" else _int
            return [one(v) for v in _split(_unbracket(text), ",")]
        if p.kind == "schedules":
            return [dict(name=n, **q) for n, q in map(parse_spec,
                                                      _split(_unbracket(text), ";"))]
        n, q = parse_spec(_unbracket(text))
        return get(n, **q)
    except (ValueError, KeyError):
        what = _KIND_TEXT[p.kind] + (f" {', '.join(p.choices)}" if p.choices else "")
        raise ValueError(f"{name}: {param} must be {what}, got {text!r}") from None


def parse_spec(text):
    """``"name:key=value,key=value"`` -> ``(name, params)``, values typed by :func:`spec`.

    Lists go in brackets, a ``sequential``'s children in brackets separated by ``;``::

        cosine:min_lr=1e-5
        piecewise:boundaries=[100,200],values=[0.1,0.01,0.001]
        sequential:schedules=[linear:start_factor=0.01,total_steps=100;cosine],boundaries=[100]

    The parameters are not validated here (:func:`get` does that, after
    :func:`fill_from_run`), so a spec may leave out what the run fills in.

    >>> parse_spec("onecycle:pct_start=0.25,three_phase=true")
    ('onecycle', {'pct_start': 0.25, 'three_phase': True})
    """
    if not isinstance(text, str):
        raise TypeError(f"a schedule spec must be a string, got {text!r}")
    name, _, rest = text.strip().partition(":")
    name = name.strip()
    _lookup(name)
    params = {}
    for item in _split(rest, ","):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ValueError(f"{name}: expected key=value, got {item!r} in {text!r}")
        if key in params:
            raise ValueError(f"{name}: {key} given twice in {text!r}")
        params[key] = convert(name, key, value.strip())
    return name, params
