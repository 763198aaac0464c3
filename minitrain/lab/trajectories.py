"""Optimizer paths: several real optimizers racing on one 2-D test function.

Every point of a path comes from ``optimizer.step(params, grads)``, the same Numba
kernel call that trains networks, here on a parameter array of 2 float64 elements with
the function's analytic gradient. :func:`paths` runs several optimizers from one start
and returns :class:`Paths` (a table; ``plot``/``gif`` draw it, see ``plotting.py``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from minitrain import optim
from minitrain._validation import check_choice, check_int, check_range
from minitrain.lab.functions import Function, _build

__all__ = ["Trajectory", "Paths", "paths", "trajectory", "entries", "default_optimizers"]


def default_optimizers():
    """The optimizers :func:`paths` races when none are named.

    The registry's names in order of complexity (:func:`minitrain.optim.names`) from
    plain SGD up to and including Adam: the chapter's line-up (sgd, momentum, nesterov,
    adagrad, rmsprop, adam). Read from the registry, never a second list.
    """
    names = optim.names()
    return names[:names.index("adam") + 1]


def _optimizer(name, hyperparameters, convention=None):
    """The optimizer object; the one place that builds them."""
    return optim.get(name, convention=convention, **hyperparameters)


def entries(specs, convention=None):
    """``["adam", "adam@keras"]`` -> ``[(label, name, convention), ...]``.

    Each spec is ``NAME`` (then ``convention`` applies, or when it is None the
    optimizer's own default convention: torch for all but Keras-only optimizers) or
    ``NAME@CONVENTION`` (:func:`minitrain.optim.parse_spec`). The label is the plain
    name under that default and ``NAME@CONVENTION`` otherwise, so ``adam,adam@keras``
    gives the labels ``adam`` and ``adam@keras``. Raises ``ValueError`` for a bad spec.
    """
    if convention is not None:
        convention = check_choice("convention", convention, optim.CONVENTIONS)
    out = []
    for spec in specs:
        name, conv = optim.parse_spec(spec)
        default = convention or optim.parse_spec(name)[1]
        if "@" not in spec:
            conv = default
        out.append((name if conv == default else f"{name}@{conv}", name, conv))
    return out


def _by_label(table, label, name):
    """``table[label]``, else ``table[name]`` (a plain name covers both conventions)."""
    return table.get(label, table.get(name))


@dataclass
class Trajectory:
    """One optimizer's path.

    Attributes
    ----------
    optimizer : str
        Registry name.
    lr : float
        The learning rate (the schedule's peak/base lr when a schedule is used).
    points : ndarray, shape (n + 1, 2)
        ``points[k]`` are the parameters after ``k`` steps; ``points[0]`` is the start.
    values : ndarray, shape (n + 1,)
        ``f`` at each point.
    lrs : ndarray, shape (n,)
        The learning rate used by each step.
    steps_to_min : int or None
        Steps until the first point within ``tol`` of a minimum (None: never).
    diverged : bool
        True when the parameters became non-finite or left a 1e8 box (the path stops).
    convention : str
        ``"torch"`` or ``"keras"``: whose update rule was used.
    label : str
        The name in tables and legends: ``optimizer``, or e.g. ``"adam@keras"``.
    """

    optimizer: str
    lr: float
    points: np.ndarray
    values: np.ndarray
    lrs: np.ndarray
    steps_to_min: int | None
    diverged: bool
    distances: np.ndarray = field(repr=False)
    convention: str = "torch"
    label: str = ""

    def __post_init__(self):
        self.label = self.label or self.optimizer

    @property
    def final_distance(self):
        """Distance of the last point to the nearest minimum."""
        return float(self.distances[-1])

    @property
    def final_value(self):
        """``f`` at the last point."""
        return float(self.values[-1])


def trajectory(fn, optimizer, *, lr, steps, start=None, schedule=None, tol=1e-3,
               hyperparameters=None, convention=None, label=None):
    """Run ``optimizer`` for ``steps`` steps on test function ``fn`` from ``start``.

    Parameters
    ----------
    fn : Function or str
        The test function (a name builds it with its defaults).
    optimizer : str
        Registry name; the object is
        ``optim.get(optimizer, convention=convention, lr=lr, **hyperparameters)``.
    lr : float
        Learning rate (overridden step by step by ``schedule``).
    steps : int
        Number of updates.
    start : (float, float), optional
        Starting point; default ``fn.start``.
    schedule : Schedule, optional
        Sets ``opt.lr = schedule.lr(step)`` and, when it gives one, the momentum
        (``opt.set_momentum``), before every step, exactly as the trainer does. A
        schedule that cycles momentum needs an optimizer with one (``ValueError``).
    tol : float
        Distance to a minimum that counts as "reached".
    convention : {"torch", "keras"}, optional
        Whose update rule (see :data:`minitrain.optim.CONVENTIONS`); default: the
        optimizer's own.
    label : str, optional
        The trajectory's name in tables; default ``optimizer``.

    Returns
    -------
    Trajectory
    """
    fn = _build(fn, {}) if isinstance(fn, str) else fn
    steps = check_int("steps", steps, 1, owner="paths")
    opt = _optimizer(optimizer, {"lr": lr, **(hyperparameters or {})}, convention)
    p = np.array(fn.start if start is None else start, dtype=np.float64)
    if p.shape != (2,):
        raise ValueError(f"paths: start must be 2 numbers (x, y), got {start!r}")
    if schedule is not None and schedule.momentum(0) is not None \
            and getattr(opt, "momentum_attr", None) is None:
        raise ValueError(f"paths: the schedule cycles momentum, but optimizer {optimizer} "
                         "has no momentum")
    g = np.empty_like(p)
    points, lrs = [p.copy()], []
    diverged = False
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(steps):
            if schedule is not None:
                opt.lr = schedule.lr(step)
                m = schedule.momentum(step)
                if m is not None:
                    opt.set_momentum(m)
            lrs.append(opt.lr)
            g[0], g[1] = fn.grad(p[0], p[1])
            opt.step(p, g)                         # the real kernel, in place
            points.append(p.copy())
            if not (np.isfinite(p).all() and np.abs(p).max() < 1e8):
                diverged = True
                break
        points = np.array(points)
        values = fn.value(points[:, 0], points[:, 1])
    distances = fn.distance(points)
    hit = np.flatnonzero(distances <= tol)
    return Trajectory(optimizer, float(lr), points, values, np.array(lrs),
                      int(hit[0]) if hit.size else None, diverged, distances,
                      opt.convention, label or optimizer)


@dataclass
class Paths:
    """The result of :func:`paths`: the function, one :class:`Trajectory` per optimizer.

    ``str(result)`` is the table the command line prints; :meth:`plot` and :meth:`gif`
    draw the figure (matplotlib needed).
    """

    function: Function
    trajectories: list
    start: tuple
    steps: int
    tol: float
    schedule: str | None = None

    def __getitem__(self, label):
        for t in self.trajectories:
            if t.label == label:
                return t
        raise KeyError(label)

    def table(self):
        """The comparison table: optimizer, lr, steps to within tol, final distance, value."""
        fn = self.function
        minima = ", ".join(f"({x:.4g}, {y:.4g})" for x, y in fn.minima)
        head = [f"{fn.name}: {fn.description}",
                f"minima {minima}; start ({self.start[0]:g}, {self.start[1]:g}); "
                f"{self.steps} steps" + (f"; schedule {self.schedule}" if self.schedule else ""),
                ""]
        reach = f"steps to {self.tol:g}"
        rows = [("optimizer", "lr", reach, "final distance", "final value")]
        for t in self.trajectories:
            steps = ("diverged" if t.diverged else
                     "-" if t.steps_to_min is None else str(t.steps_to_min))
            rows.append((t.label, f"{t.lr:g}", steps, f"{t.final_distance:.3e}",
                         f"{t.final_value:.6g}"))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                           for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
        return "\n".join(head + lines)

    def __str__(self):
        return self.table()

    def plot(self, filename):
        """Contours with every path overlaid, and ``f - f_min`` against step (log scale).

        Needs matplotlib; see :mod:`minitrain.lab.plotting` for how every path is kept
        visible."""
        from minitrain.lab import plotting
        plotting.save_png(self, filename)

    def gif(self, filename, frames=30, fps=8, dpi=60):
        """An animation of the paths growing step by step (needs matplotlib and Pillow)."""
        from minitrain.lab import plotting
        plotting.save_gif(self, filename, frames=frames, fps=fps, dpi=dpi)

    def figure(self):
        """The matplotlib figure that :meth:`plot` saves (``display(fig)`` in a notebook)."""
        from minitrain.lab import plotting
        return plotting.figure(self)[0]


def paths(function="bowl", optimizers=None, *, steps=None, lr=None,
          start=None, condition=None, schedule=None, schedule_params=None,
          hyperparameters=None, tol=1e-3, plot=None, gif=None, convention=None):
    """Run several optimizers on a 2-D test function from the same start.

    Parameters
    ----------
    function : str or Function
        One of :func:`names`: bowl, rosenbrock, beale, himmelblau, saddle, rastrigin.
    optimizers : sequence of str, optional
        Optimizer registry names, each optionally with a convention: ``"momentum"``,
        ``"momentum@keras"`` (see :func:`entries`; the labels name the trajectories).
        Default: :func:`default_optimizers`.
    steps : int, optional
        Updates per optimizer; default: the function's (200; Rosenbrock 1000, Beale 500,
        Rastrigin 300).
    lr : float or dict, optional
        One learning rate for all, or ``{label or name: lr}`` (a plain name covers
        ``name@keras`` too, unless that label has its own); missing ones take the
        function's defaults (``function(name).lr``), tuned to show the textbook pictures.
    start : (float, float), optional
        Starting point; default: the function's.
    condition : float, optional
        Condition number of the bowl (default 10); other functions take none.
    schedule : str or callable, optional
        A schedule name, built per optimizer as a run builds it
        (:func:`minitrain.schedules.build`: ``lr``/``max_lr`` = that optimizer's lr,
        ``total_steps = steps``, plus ``schedule_params``) after the run builder's
        combination check (:func:`minitrain.experiments.runs.check_combination`: e.g.
        a schedule cycling momentum with adagrad gets the same error as ``fit``); or a
        callable ``lr -> Schedule``.
    schedule_params : dict, optional
        Further schedule parameters (library names).
    hyperparameters : dict, optional
        ``{label or name: {name: value}}``, e.g. ``{"momentum": {"momentum": 0.5}}``.
    tol : float
        Distance to a minimum that counts as reached (default 1e-3).
    plot, gif : str, optional
        Also save the figure (PNG) or an animation (GIF); matplotlib needed.
    convention : {"torch", "keras"}, optional
        The update rules of entries without ``@CONVENTION``; default: each optimizer's
        own (torch, except for Keras-only optimizers).

    Returns
    -------
    Paths
        ``print(result)`` shows the table; ``result["adam"]`` is a :class:`Trajectory`.
    """
    if isinstance(function, Function):
        if condition is not None:
            raise TypeError("paths: condition applies to a function name, not a Function")
        fn = function
    else:
        fn = _build(function, {} if condition is None else {"condition": condition})
    if optimizers is None:
        optimizers = default_optimizers()
    optimizers = [optimizers] if isinstance(optimizers, str) else list(optimizers)
    if not optimizers:
        raise ValueError("paths: optimizers must name at least one optimizer, got []")
    try:
        specs = entries(optimizers, convention)
    except ValueError as e:
        raise ValueError(f"paths: {e}") from None
    labels = [label for label, _, _ in specs]
    if len(set(labels)) < len(labels):
        raise ValueError(f"paths: optimizers must be distinct, got {labels}")
    lrs = _learning_rates(fn, specs, lr)
    steps = fn.steps if steps is None else check_int("steps", steps, 1, owner="paths")
    tol = check_range("tol", tol, 0.0, owner="paths", lo_open=True)
    hyperparameters = hyperparameters or {}
    known = set(labels) | {name for _, name, _ in specs}
    for key in hyperparameters:
        if key not in known:
            raise ValueError(f"paths: hyperparameters given for {key!r}, which is not "
                             f"among the optimizers {labels}")
    make_schedule = _schedule_factory(schedule, schedule_params, steps, specs, lrs,
                                      hyperparameters)
    start = tuple(float(v) for v in (fn.start if start is None else start))
    runs = [trajectory(fn, name, lr=lrs[label], steps=steps, start=start,
                       schedule=make_schedule(lrs[label]) if make_schedule else None,
                       tol=tol, hyperparameters=_by_label(hyperparameters, label, name),
                       convention=conv, label=label)
            for label, name, conv in specs]
    label = schedule if isinstance(schedule, str) else getattr(schedule, "label", None)
    result = Paths(fn, runs, start, steps, tol, label)
    if plot:
        result.plot(plot)
    if gif:
        result.gif(gif)
    return result


def _learning_rates(fn, specs, lr):
    """{label: lr} from one lr, or a dict keyed by labels or plain names."""
    labels = [label for label, _, _ in specs]
    if lr is None:
        lr = {}
    elif not isinstance(lr, dict):
        lr = {label: lr for label in labels}
    known = set(labels) | {name for _, name, _ in specs}
    for key, value in lr.items():
        if key not in known:
            raise ValueError(f"paths: lr given for {key!r}, which is not among the "
                             f"optimizers {labels}")
        check_range(f"lr[{key}]", value, 0.0, owner="paths", lo_open=True)
    out = {}
    for label, name, _ in specs:
        value = _by_label(lr, label, name)
        out[label] = float(fn.default_lr(name) if value is None else value)
    return out


def _schedule_factory(schedule, params, steps, specs, lrs, hyperparameters):
    """``lr -> Schedule`` (None: no schedule), after the run builder's combination check
    of every optimizer with this schedule: one rule, one message for every command."""
    if schedule is None:
        if params:
            raise ValueError("paths: schedule_params need a schedule")
        return None
    if callable(schedule):
        return schedule
    from minitrain import schedules
    from minitrain.experiments.runs import check_combination
    for label, name, conv in specs:
        hp = {"lr": lrs[label], **(_by_label(hyperparameters, label, name) or {})}
        check_combination(name, conv, hp, schedule, params)

    def make(lr):
        return schedules.build(schedule, params, lr=lr, total_steps=steps)

    return make
