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

Combining a decay with performance scheduling
---------------------------------------------
There is one rule: ``plateau`` may wrap a stateless *base* schedule, and each of its
reductions multiplies the base schedule's lr by ``factor``::

    sched = get("plateau", base=get("cosine", lr=0.1, total_steps=5000), patience=3)
    sched.lr(step) == max(base.lr(step) * factor**n, min(base.lr(step), min_lr))

where ``n`` is the number of reductions so far. No other nesting exists.

The registry
------------
``names()``, ``get(name, **params)``, ``describe(name)`` and ``parameters(name)``; the
names and parameters are fixed public API (DESIGN §3):

============  ================================================================
constant      ``lr``
power         ``lr / (1 + t/steps)**power``
exponential   ``lr * rate**(t/steps)`` (``floor(t/steps)`` with ``staircase``)
piecewise     ``values[i]``, ``i`` = number of boundaries <= t (< t: Keras)
plateau       torch ``ReduceLROnPlateau``; optional ``base=`` schedule
onecycle      torch ``OneCycleLR``, momentum cycled inversely
cosine        linear warm-up, then cosine decay to ``min_lr`` (clamped or periodic)
============  ================================================================

``onecycle`` and ``plateau`` reproduce PyTorch's ``OneCycleLR`` and
``ReduceLROnPlateau`` step for step, bit for bit (tests compare against recorded
PyTorch goldens). ``onecycle`` and ``cosine`` asked for a step past their end return
their final value instead of raising, so a training loop that runs one step long never
crashes mid-run.

>>> s = get("onecycle", max_lr=0.01, total_steps=100)
>>> round(s.lr(0), 6), s.lr(29), round(s.lr(99), 10), s.momentum(29)
(0.0004, 0.01, 4e-08, 0.85)
"""
from __future__ import annotations

import inspect
import math
import numbers

from minitrain._validation import check_choice, check_int, check_range

__all__ = [
    "Schedule", "Constant", "Power", "Exponential", "Piecewise", "Plateau", "OneCycle",
    "Cosine", "REQUIRED", "names", "get", "describe", "parameters",
]

#: The default reported by :func:`parameters` for a parameter that must be given.
REQUIRED = inspect.Parameter.empty


def _check_step(step, owner):
    """``step`` as an int >= 0 (numpy integers are fine)."""
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise TypeError(f"{owner}: step must be an integer, got {step!r}")
    if step < 0:
        raise ValueError(f"{owner}: step must be >= 0, got {step!r}")
    return int(step)


def _steps(steps, owner):
    """A time scale > 0 in steps; kept an int when given as one (for a tidy repr)."""
    value = check_range("steps", steps, 0.0, owner=owner, lo_open=True)
    return int(steps) if isinstance(steps, numbers.Integral) else value


class Schedule:
    """Base class: frozen parameters, ``lr``/``momentum``/``state_dict`` protocol.

    Subclasses set their parameters in ``__init__`` (listed in ``_params``) and
    implement ``_lr(step)``; the public ``lr`` validates ``step`` first. Parameters
    cannot be reassigned after construction: build a new schedule instead.
    """

    name = "schedule"          # registry name, set by each subclass
    _params: tuple = ()        # constructor parameters shown by repr() and params()
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
        _check_step(step, self.name)
        return None

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

    # -- introspection --------------------------------------------------------------
    def params(self) -> dict:
        """The constructor parameters, as given (after validation)."""
        return {k: getattr(self, k) for k in self._params}

    def key_steps(self, total):
        """Steps worth showing in a preview of ``total`` steps (phase ends etc.)."""
        return []

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{self.name}({args})"

    def _lr(self, step):  # pragma: no cover - abstract
        raise NotImplementedError


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
    _params = ("lr",)

    def __init__(self, lr):
        self.lr_ = check_range("lr", lr, 0.0, owner=self.name, lo_open=True)
        self._freeze()

    def params(self):
        return {"lr": self.lr_}

    def _lr(self, step):
        return self.lr_


class Power(Schedule):
    """Power decay: the lr falls as a power of time.

    ``lr(t) = lr / (1 + t/steps)**power``

    After ``steps`` updates the lr is ``lr / 2**power``, after ``k*steps`` it is
    ``lr / (k+1)**power``. ``power=1`` is inverse-time decay (Keras
    ``InverseTimeDecay`` with ``decay_rate=1``).

    Parameters
    ----------
    lr : float
        Learning rate at step 0, > 0.
    steps : float
        Time scale in updates, > 0: the lr is ``lr / 2**power`` at ``t = steps``.
    power : float, default 1
        Exponent, >= 0 (0 gives a constant lr).

    Examples
    --------
    >>> s = Power(lr=0.1, steps=100)
    >>> [round(s.lr(t), 6) for t in (0, 100, 300)]
    [0.1, 0.05, 0.025]
    """

    name = "power"
    _params = ("lr", "steps", "power")

    def __init__(self, lr, steps, power=1):
        self.lr_ = check_range("lr", lr, 0.0, owner=self.name, lo_open=True)
        self.steps = _steps(steps, self.name)
        self.power = check_range("power", power, 0.0, owner=self.name)
        self._freeze()

    def params(self):
        return {"lr": self.lr_, "steps": self.steps, "power": self.power}

    def _lr(self, step):
        return self.lr_ / (1 + step / self.steps) ** self.power


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
    _params = ("lr", "rate", "steps", "staircase")

    def __init__(self, lr, rate=0.1, steps=None, staircase=False):
        if steps is None:
            raise TypeError(f"{self.name}: steps is required (updates per factor of rate)")
        self.lr_ = check_range("lr", lr, 0.0, owner=self.name, lo_open=True)
        self.rate = check_range("rate", rate, 0.0, owner=self.name, lo_open=True)
        self.steps = _steps(steps, self.name)
        if not isinstance(staircase, bool):
            raise TypeError(f"{self.name}: staircase must be True or False, got {staircase!r}")
        self.staircase = staircase
        self._freeze()

    def params(self):
        return {"lr": self.lr_, "rate": self.rate, "steps": self.steps,
                "staircase": self.staircase}

    def _lr(self, step):
        exponent = math.floor(step / self.steps) if self.staircase else step / self.steps
        return self.lr_ * self.rate ** exponent


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
    _params = ("boundaries", "values", "boundary_inclusive")

    def __init__(self, boundaries, values, boundary_inclusive=False):
        owner = self.name
        try:
            boundaries, values = list(boundaries), list(values)
        except TypeError:
            raise TypeError(f"{owner}: boundaries and values must be sequences, "
                            f"got {boundaries!r} and {values!r}") from None
        boundaries = [check_int(f"boundaries[{i}]", b, 0, owner=owner)
                      for i, b in enumerate(boundaries)]
        values = [check_range(f"values[{i}]", v, 0.0, owner=owner)
                  for i, v in enumerate(values)]
        for i in range(1, len(boundaries)):
            if boundaries[i] <= boundaries[i - 1]:
                raise ValueError(f"{owner}: boundaries must be strictly increasing, "
                                 f"got {boundaries}")
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"{owner}: need len(values) == len(boundaries) + 1, got "
                             f"{len(values)} values for {len(boundaries)} boundaries")
        if not isinstance(boundary_inclusive, bool):
            raise TypeError(f"{owner}: boundary_inclusive must be True or False, "
                            f"got {boundary_inclusive!r}")
        self.boundaries = tuple(boundaries)
        self.values = tuple(values)
        self.boundary_inclusive = boundary_inclusive
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
        i = 0
        while i < len(self.boundaries) and self.boundaries[i] <= step:
            i += 1
        return self.values[i]


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
    _params = ("lr", "factor", "patience", "mode", "threshold", "threshold_mode",
               "cooldown", "min_lr", "eps", "base")
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
            if isinstance(base, Plateau):
                raise ValueError(f"{owner}: base must be a stateless schedule, "
                                 f"not another plateau")
        self.lr_ = None if lr is None else check_range("lr", lr, 0.0, owner=owner,
                                                       lo_open=True)
        self.base = base
        self.factor = check_range("factor", factor, 0.0, 1.0, owner=owner,
                                  lo_open=True, hi_open=True)
        self.patience = check_int("patience", patience, 0, owner=owner)
        self.mode = check_choice("mode", mode, ("min", "max"), owner=owner)
        self.threshold = check_range("threshold", threshold, 0.0, owner=owner)
        self.threshold_mode = check_choice("threshold_mode", threshold_mode,
                                           ("rel", "abs"), owner=owner)
        self.cooldown = check_int("cooldown", cooldown, 0, owner=owner)
        self.min_lr = check_range("min_lr", min_lr, 0.0, owner=owner)
        self.eps = check_range("eps", eps, 0.0, owner=owner)
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

    def momentum(self, step):
        return None if self.base is None else self.base.momentum(step)


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
    _params = ("max_lr", "total_steps", "pct_start", "anneal", "div_factor",
               "final_div_factor", "three_phase", "cycle_momentum", "base_momentum",
               "max_momentum")

    def __init__(self, max_lr, total_steps, pct_start=0.3, anneal="cos", div_factor=25,
                 final_div_factor=1e4, three_phase=False, cycle_momentum=True,
                 base_momentum=0.85, max_momentum=0.95):
        o = self.name
        self.max_lr = check_range("max_lr", max_lr, 0.0, owner=o, lo_open=True)
        self.total_steps = check_int("total_steps", total_steps, 2, owner=o)
        self.pct_start = check_range("pct_start", pct_start, 0.0, 1.0, owner=o,
                                     lo_open=True, hi_open=True)
        self.anneal = check_choice("anneal", anneal, ("cos", "linear"), owner=o)
        self.div_factor = check_range("div_factor", div_factor, 0.0, owner=o, lo_open=True)
        self.final_div_factor = check_range("final_div_factor", final_div_factor, 0.0,
                                            owner=o, lo_open=True)
        for flag in ("three_phase", "cycle_momentum"):
            if not isinstance(locals()[flag], bool):
                raise TypeError(f"{o}: {flag} must be True or False, got {locals()[flag]!r}")
        self.three_phase = three_phase
        self.cycle_momentum = cycle_momentum
        self.base_momentum = check_range("base_momentum", base_momentum, 0.0, 1.0, owner=o)
        self.max_momentum = check_range("max_momentum", max_momentum, 0.0, 1.0, owner=o)
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

    def momentum(self, step):
        step = _check_step(step, self.name)
        if not self.cycle_momentum:
            return None
        phase, pct = self._where(step)
        return self._anneal(phase[3], phase[4], pct)


class Cosine(Schedule):
    """Cosine decay from ``lr`` to ``min_lr`` over ``total_steps``, optional warm-up.

    With ``W = warmup_steps`` and ``T = total_steps``::

        1. t < W       :  lr * (t + 1)/(W + 1)                       linear warm-up
        2. W <= t < T  :  min_lr + (lr - min_lr)/2 * (1 + cos(pi * (t - W)/(T - W)))
        3. t >= T      :  min_lr                                 clamped (default)
           t >= T      :  formula 2 continued                    periodic=True

    The warm-up never uses lr 0 and reaches ``lr`` at ``t = W``, where the cosine starts.
    Past the end there are two conventions, both without warm-up equal (to rounding) to
    a library schedule:

    * **clamped** (``periodic=False``, the default): stays at ``min_lr``, as Keras
      ``CosineDecay(lr, T, alpha=min_lr/lr)`` and optax ``cosine_decay_schedule``;
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
    periodic : bool, default False
        Past ``total_steps``, continue the cosine (torch) instead of holding ``min_lr``
        (Keras, optax).

    Examples
    --------
    >>> s = Cosine(lr=1.0, total_steps=10, min_lr=0.1, warmup_steps=4)
    >>> [round(s.lr(t), 4) for t in (0, 3, 4, 7, 9, 10, 99)]
    [0.2, 0.8, 1.0, 0.55, 0.1603, 0.1, 0.1]
    >>> p = Cosine(lr=1.0, total_steps=10, periodic=True)
    >>> [round(p.lr(t), 4) for t in (5, 10, 15, 20, 30)]
    [0.5, 0.0, 0.5, 1.0, 0.0]
    """

    name = "cosine"
    _params = ("lr", "total_steps", "min_lr", "warmup_steps", "periodic")

    def __init__(self, lr, total_steps, min_lr=0, warmup_steps=0, periodic=False):
        o = self.name
        self.lr_ = check_range("lr", lr, 0.0, owner=o, lo_open=True)
        self.total_steps = check_int("total_steps", total_steps, 1, owner=o)
        self.min_lr = check_range("min_lr", min_lr, 0.0, self.lr_, owner=o)
        self.warmup_steps = check_int("warmup_steps", warmup_steps, 0, owner=o)
        if self.warmup_steps >= self.total_steps:
            raise ValueError(f"{o}: warmup_steps must be < total_steps, got "
                             f"{self.warmup_steps} >= {self.total_steps}")
        if not isinstance(periodic, bool):
            raise TypeError(f"{o}: periodic must be True or False, got {periodic!r}")
        self.periodic = periodic
        self._freeze()

    def params(self):
        """The parameters; ``periodic`` only when True (keeps reprs short)."""
        d = {"lr": self.lr_, "total_steps": self.total_steps, "min_lr": self.min_lr,
             "warmup_steps": self.warmup_steps}
        if self.periodic:
            d["periodic"] = True
        return d

    def key_steps(self, total):
        w = self.warmup_steps
        return [w - 1, w, self.total_steps - 1] if w else [self.total_steps - 1]

    def _lr(self, step):
        W, T = self.warmup_steps, self.total_steps
        if step < W:                                           # 1. warm-up
            return self.lr_ * (step + 1) / (W + 1)
        if step >= T and not self.periodic:                    # 3. past the end
            return self.min_lr
        pct = (step - W) / (T - W)                             # 2. cosine decay
        return self.min_lr + (self.lr_ - self.min_lr) / 2 * (1 + math.cos(math.pi * pct))


# ---- registry ------------------------------------------------------------------------
_REGISTRY = {cls.name: cls for cls in (Constant, Power, Exponential, Piecewise, Plateau,
                                        OneCycle, Cosine)}

# registry parameters that are not constructor-signature defaults
_REQUIRED_OVERRIDE = {("exponential", "steps")}


def names():
    """Registry names, simplest first."""
    return list(_REGISTRY)


def _lookup(name):
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown schedule {name!r}; valid: {', '.join(_REGISTRY)}") from None


def parameters(name) -> dict:
    """``{parameter: default}`` for a schedule; :data:`REQUIRED` marks required ones.

    >>> parameters("power")
    {'lr': <class 'inspect._empty'>, 'steps': <class 'inspect._empty'>, 'power': 1}
    """
    cls = _lookup(name)
    out = {}
    for p in inspect.signature(cls.__init__).parameters.values():
        if p.name == "self":
            continue
        required = p.default is p.empty or (name, p.name) in _REQUIRED_OVERRIDE
        out[p.name] = REQUIRED if required else p.default
    return out


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
