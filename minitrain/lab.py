"""Optimizer lab: paths on 2-D test functions, and one update explained with numbers.

Two teaching tools built on the *real* optimizers: every point of a path and every
number of an explanation comes from ``optimizer.step(params, grads)``, the same Numba
kernel call that trains networks, here on a parameter array of 2 (paths) or 3 (explain)
float64 elements.

>>> import minitrain as mt
>>> result = mt.paths("bowl", ["sgd", "momentum"], steps=200, lr=0.02)
>>> result["sgd"].steps_to_min, result["momentum"].steps_to_min   # None: not reached
(None, 150)
>>> print(result)                # the table: steps to the minimum, final distance, value
... # doctest: +SKIP
>>> result.plot("paths.png")     # contours + paths, value against step  # doctest: +SKIP
>>> print(mt.explain("adam", lr=0.1))  # update rule, then 3 steps as numbers # doctest: +SKIP

The test functions
------------------
Each :class:`Function` holds its value ``f(x, y)`` with the analytic gradient written
right below it, its minima, a default start, a plotting window and default learning
rates per optimizer (chosen to show the textbook behaviour: momentum overshooting,
Nesterov braking earlier, AdaGrad stalling with a small lr). :func:`function` builds one
by name; :func:`names` lists them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from minitrain import optim
from minitrain._validation import check_choice, check_int, check_range

__all__ = ["Function", "Trajectory", "Paths", "Explanation", "function", "names",
           "paths", "trajectory", "explain", "entries", "DEFAULT_OPTIMIZERS"]

#: The optimizers ``minitrain paths`` compares when none are named.
DEFAULT_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")


# ---------------------------------------------------------------- test functions
@dataclass(frozen=True)
class Function:
    """A 2-D test function with its analytic gradient.

    Attributes
    ----------
    name, description : str
        Registry name and one line with the formula.
    value : callable
        ``value(x, y)``; works elementwise on arrays (for contour grids).
    grad : callable
        ``grad(x, y) -> (df/dx, df/dy)``.
    minima : tuple of (float, float)
        Every global minimum (and, for the saddle, both minima).
    f_min : float
        The value at the minima.
    start : (float, float)
        Default starting point.
    window : ((float, float), (float, float))
        Plotting window ``((x_lo, x_hi), (y_lo, y_hi))``.
    lr : dict
        Default learning rate per optimizer name (``"*"``: every other optimizer).
    steps : int
        Default number of steps (enough for the interesting part of the picture).
    """

    name: str
    description: str
    value: Callable
    grad: Callable
    minima: tuple
    f_min: float
    start: tuple
    window: tuple
    lr: dict = field(repr=False)
    steps: int = 200

    def default_lr(self, optimizer):
        """This function's default learning rate for registry name ``optimizer``."""
        return self.lr.get(optimizer, self.lr["*"])

    def distance(self, points):
        """Distance of each row of ``points`` (shape (n, 2)) to the nearest minimum."""
        points = np.atleast_2d(points)
        return np.min([np.hypot(points[:, 0] - mx, points[:, 1] - my)
                       for mx, my in self.minima], axis=0)


def _bowl(condition=10.0):
    c = check_range("condition", condition, 0.0, owner="bowl", lo_open=True)

    def value(x, y):
        return 0.5 * (x * x + c * y * y)

    def grad(x, y):
        return x, c * y

    # plain SGD is stable for lr < 2/condition; these lrs are well inside it
    small = min(0.02, 0.2 / c)
    return Function(
        "bowl", f"elongated quadratic bowl f = (x^2 + {c:g}*y^2)/2, condition number "
        f"{c:g}: curvature 1 along x, {c:g} along y", value, grad,
        minima=((0.0, 0.0),), f_min=0.0, start=(-4.0, 1.5), window=((-5, 5), (-2.5, 2.5)),
        lr={"sgd": small, "momentum": small, "nesterov": small, "adagrad": 0.1,
            "rmsprop": 0.05, "adam": 0.1, "adamax": 0.1, "nadam": 0.1, "adamw": 0.1,
            "*": small})


def _rosenbrock():
    def value(x, y):
        return (1 - x) ** 2 + 100 * (y - x * x) ** 2

    def grad(x, y):
        return -2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)

    return Function(
        "rosenbrock", "Rosenbrock's banana valley f = (1-x)^2 + 100*(y-x^2)^2",
        value, grad, minima=((1.0, 1.0),), f_min=0.0, start=(-1.5, 2.0),
        window=((-2, 2), (-1, 3)),
        lr={"sgd": 1e-3, "momentum": 1e-3, "nesterov": 1e-3, "adagrad": 0.5,
            "rmsprop": 0.01, "adam": 0.1, "adamax": 0.5, "nadam": 0.03, "adamw": 0.1,
            "*": 1e-3}, steps=1000)


def _beale():
    def value(x, y):
        return ((1.5 - x + x * y) ** 2 + (2.25 - x + x * y * y) ** 2
                + (2.625 - x + x * y ** 3) ** 2)

    def grad(x, y):
        a, b, c = 1.5 - x + x * y, 2.25 - x + x * y * y, 2.625 - x + x * y ** 3
        return (2 * a * (y - 1) + 2 * b * (y * y - 1) + 2 * c * (y ** 3 - 1),
                2 * a * x + 4 * b * x * y + 6 * c * x * y * y)

    return Function(
        "beale", "Beale's function: flat plateaus and sharp ridges, minimum at (3, 0.5)",
        value, grad, minima=((3.0, 0.5),), f_min=0.0, start=(1.0, 1.5),
        window=((-4.5, 4.5), (-4.5, 4.5)),
        lr={"sgd": 1e-3, "momentum": 1e-3, "nesterov": 1e-3, "adagrad": 0.5,
            "rmsprop": 0.03, "adam": 0.1, "adamax": 0.5, "nadam": 0.1, "adamw": 0.1,
            "*": 1e-3}, steps=500)


# Himmelblau's three other minima, found by Newton's method (tests re-check |grad| = 0)
_HIMMELBLAU_MINIMA = ((3.0, 2.0), (-2.805118086952745, 3.131312518250573),
                      (-3.779310253377747, -3.283185991286170),
                      (3.584428340330492, -1.848126526964404))


def _himmelblau():
    def value(x, y):
        return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2

    def grad(x, y):
        a, b = x * x + y - 11, x + y * y - 7
        return 4 * a * x + 2 * b, 2 * a + 4 * b * y

    return Function(
        "himmelblau", "Himmelblau's function f = (x^2+y-11)^2 + (x+y^2-7)^2: four minima",
        value, grad, minima=_HIMMELBLAU_MINIMA, f_min=0.0, start=(0.0, 0.0),
        window=((-5, 5), (-5, 5)),
        lr={"sgd": 0.005, "momentum": 0.005, "nesterov": 0.005, "adagrad": 0.5,
            "rmsprop": 0.05, "adam": 0.1, "adamax": 0.1, "nadam": 0.1, "adamw": 0.1,
            "*": 0.005})


def _saddle():
    def value(x, y):
        return 0.5 * x * x + 0.25 * y ** 4 - 0.5 * y * y

    def grad(x, y):
        return x, y ** 3 - y

    return Function(
        "saddle", "a saddle at (0, 0) between two minima (0, +-1): "
        "f = x^2/2 + y^4/4 - y^2/2", value, grad, minima=((0.0, 1.0), (0.0, -1.0)),
        f_min=-0.25, start=(-2.0, 1e-3), window=((-2.5, 2.5), (-1.6, 1.6)),
        lr={"sgd": 0.05, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.1,
            "rmsprop": 0.01, "adam": 0.05, "adamax": 0.05, "nadam": 0.05, "adamw": 0.05,
            "*": 0.05})


def _rastrigin():
    two_pi = 2 * np.pi

    def value(x, y):
        return 20 + x * x - 10 * np.cos(two_pi * x) + y * y - 10 * np.cos(two_pi * y)

    def grad(x, y):
        return (2 * x + 10 * two_pi * np.sin(two_pi * x),
                2 * y + 10 * two_pi * np.sin(two_pi * y))

    return Function(
        "rastrigin", "Rastrigin's function f = 20 + sum(x^2 - 10*cos(2*pi*x)): a local "
        "minimum at every integer point", value, grad, minima=((0.0, 0.0),), f_min=0.0,
        start=(-2.2, 3.3), window=((-4.5, 4.5), (-4.5, 4.5)),
        lr={"sgd": 3e-3, "momentum": 3e-3, "nesterov": 3e-3, "adagrad": 1.0,
            "rmsprop": 0.1, "adam": 0.3, "adamax": 0.3, "nadam": 0.3, "adamw": 0.3,
            "*": 3e-3}, steps=300)


_FUNCTIONS = {"bowl": _bowl, "rosenbrock": _rosenbrock, "beale": _beale,
              "himmelblau": _himmelblau, "saddle": _saddle, "rastrigin": _rastrigin}


def names():
    """Registry names of the test functions."""
    return tuple(_FUNCTIONS)


def function(name, **params):
    """Build the test function ``name``; only ``bowl`` takes a parameter (``condition``).

    Raises ``ValueError`` for an unknown name and ``TypeError`` for a parameter the
    function does not take.
    """
    return _build(name, params)


def _build(name, params):
    make = _FUNCTIONS[check_choice("function", name, names())]
    try:
        return make(**params)
    except TypeError:
        bad = ", ".join(sorted(params))
        raise TypeError(f"{name}: takes no parameter {bad}"
                        + ("" if name != "bowl" else "; it takes condition")) from None


# ---------------------------------------------------------------- paths
def _optimizer(name, hyperparameters, convention="torch"):
    """The optimizer object; the one place that builds them."""
    return optim.get(name, convention=convention, **hyperparameters)


def entries(specs, convention="torch"):
    """``["adam", "adam@keras"]`` -> ``[(label, name, convention), ...]``.

    Each spec is ``NAME`` (then ``convention`` applies) or ``NAME@CONVENTION``
    (:func:`minitrain.optim.parse_spec`). The label is the plain name under the default
    ``convention`` and ``NAME@CONVENTION`` otherwise, so ``adam,adam@keras`` gives the
    labels ``adam`` and ``adam@keras``. Raises ``ValueError`` for a bad spec.
    """
    convention = check_choice("convention", convention, optim.CONVENTIONS)
    out = []
    for spec in specs:
        name, conv = optim.parse_spec(spec)
        if "@" not in spec:
            conv = convention
        out.append((name if conv == convention else f"{name}@{conv}", name, conv))
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
        ``"torch"`` or ``"keras"``: whose update rule.
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
               hyperparameters=None, convention="torch", label=None):
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
        Sets ``opt.lr = schedule.lr(step)`` and, when it gives one, the momentum, before
        every step, as the trainer does. Adagrad has no momentum: it is left alone there.
    tol : float
        Distance to a minimum that counts as "reached".
    convention : {"torch", "keras"}
        Whose update rule (see :data:`minitrain.optim.CONVENTIONS`).
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
    g = np.empty_like(p)
    points, lrs = [p.copy()], []
    diverged = False
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(steps):
            if schedule is not None:
                opt.lr = schedule.lr(step)
                m = schedule.momentum(step)
                if m is not None and opt.momentum_attr is not None:
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
                      convention, label or optimizer)


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
        """Contours with every path overlaid, and ``f - f_min`` against step (log scale)."""
        fig = self._figure()[0]
        _save(fig, filename)

    def gif(self, filename, frames=30, fps=8, dpi=60):
        """An animation of the paths growing step by step (matplotlib's PillowWriter)."""
        import matplotlib.pyplot as plt
        from matplotlib.animation import FuncAnimation, PillowWriter
        fig, lines, marks = self._figure(animated=True)
        n = max(len(t.points) for t in self.trajectories)
        ks = np.unique(np.linspace(1, n, min(frames, n)).round().astype(int))

        def draw(k):
            for t, line, mark in zip(self.trajectories, lines, marks):
                line.set_data(t.points[:k, 0], t.points[:k, 1])
                mark.set_data(np.arange(min(k, len(t.values))),
                              self._gap(t.values[:k]))
            return [*lines, *marks]

        animation = FuncAnimation(fig, draw, frames=ks, blit=False)
        try:
            animation.save(filename, writer=PillowWriter(fps=fps), dpi=dpi)
        finally:
            plt.close(fig)

    def _gap(self, values):
        return np.maximum(values - self.function.f_min, 1e-16)

    def _figure(self, animated=False):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fn = self.function
        (x0, x1), (y0, y1) = fn.window
        xs = np.linspace(x0, x1, 300)
        ys = np.linspace(y0, y1, 300)
        X, Y = np.meshgrid(xs, ys)
        gap = fn.value(X, Y) - fn.f_min
        fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(12, 5),
                                          gridspec_kw={"width_ratios": [1.25, 1]})
        low = max(np.percentile(gap, 0.5), 1e-3)
        levels = np.geomspace(low, gap.max(), 25) if gap.max() > low else 25
        ax.contour(X, Y, gap + 0.0, levels=levels, cmap="Greys", linewidths=0.6)
        ax.plot(*self.start, "ko", ms=7, label="start")
        mx, my = zip(*fn.minima)
        ax.plot(mx, my, "r*", ms=14, zorder=5,
                label="minimum" if len(fn.minima) == 1 else "minima")
        lines, marks = [], []
        for i, t in enumerate(self.trajectories):
            label = f"{t.label} (lr={t.lr:g})"
            pts = t.points[:1] if animated else t.points
            (line,) = ax.plot(pts[:, 0], pts[:, 1], "-", color=f"C{i}", lw=1.4,
                              marker=".", ms=3, label=label)
            vals = t.values[:1] if animated else t.values
            (mark,) = ax_loss.plot(np.arange(len(vals)), self._gap(vals), color=f"C{i}",
                                   label=label)
            lines.append(line)
            marks.append(mark)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_title(f"{fn.name}: {self.steps} steps"
                     + (f", schedule {self.schedule}" if self.schedule else ""))
        ax.legend(handles=ax.lines[:2], fontsize=8, loc="upper left")
        ax_loss.set_yscale("log")
        ax_loss.set_xlim(0, self.steps)
        if animated:
            top = max(self._gap(t.values).max() for t in self.trajectories)
            bottom = min(self._gap(t.values).min() for t in self.trajectories)
            ax_loss.set_ylim(bottom / 2, top * 2)
        ax_loss.set_xlabel("step")
        ax_loss.set_ylabel("f(p) - f_min")
        ax_loss.set_title("value above the minimum (log scale)")
        ax_loss.grid(alpha=0.3)
        fig.legend(handles=lines, loc="lower center", ncol=min(len(lines), 5), fontsize=9,
                   frameon=False)
        fig.tight_layout(rect=(0, 0.04 * (1 + (len(lines) - 1) // 5), 1, 1))
        return fig, lines, marks


def _save(fig, filename):
    import matplotlib.pyplot as plt
    try:
        fig.savefig(filename, dpi=100)
    finally:
        plt.close(fig)


def paths(function="bowl", optimizers=DEFAULT_OPTIMIZERS, *, steps=None, lr=None,
          start=None, condition=None, schedule=None, schedule_params=None,
          hyperparameters=None, tol=1e-3, plot=None, gif=None, convention="torch"):
    """Run several optimizers on a 2-D test function from the same start.

    Parameters
    ----------
    function : str or Function
        One of :func:`names`: bowl, rosenbrock, beale, himmelblau, saddle, rastrigin.
    optimizers : sequence of str
        Optimizer registry names, each optionally with a convention: ``"momentum"``,
        ``"momentum@keras"`` (see :func:`entries`; the labels name the trajectories).
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
        A schedule name, built per optimizer with ``lr`` (or ``max_lr``) = that
        optimizer's lr, ``total_steps = steps`` and ``schedule_params``; or a callable
        ``lr -> Schedule``.
    schedule_params : dict, optional
        Further schedule parameters (library names).
    hyperparameters : dict, optional
        ``{label or name: {name: value}}``, e.g. ``{"momentum": {"momentum": 0.5}}``.
    tol : float
        Distance to a minimum that counts as reached (default 1e-3).
    plot, gif : str, optional
        Also save the figure (PNG) or an animation (GIF); matplotlib needed.
    convention : {"torch", "keras"}, default="torch"
        The update rules of entries without ``@CONVENTION``.

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
    make_schedule = _schedule_factory(schedule, schedule_params, steps)
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


def _schedule_factory(schedule, params, steps):
    """``lr -> Schedule`` for a schedule name (None: no schedule)."""
    if schedule is None:
        if params:
            raise ValueError("paths: schedule_params need a schedule")
        return None
    if callable(schedule):
        return schedule
    from minitrain import schedules
    accepted = schedules.parameters(schedule)
    params = dict(params or {})

    def make(lr):
        kw = dict(params)
        key = "max_lr" if "max_lr" in accepted else "lr"
        if key in accepted:
            kw.setdefault(key, lr)
        if "total_steps" in accepted:
            kw.setdefault("total_steps", steps)
        return schedules.get(schedule, **kw)

    make(1.0)                                     # validate once, before any run
    return make


# ---------------------------------------------------------------- explain
def _bias_terms(opt):
    """Scalars of this step that the update rule computes from t: (name, formula, value).

    Recomputed here from the equations of the docstring (the optimizer computes the same
    numbers in Python double precision before calling the kernel). The keras
    convention's scalars follow its "Update rule (keras)": Adam's step size
    ``lr * sqrt(bc2) / bc1`` (eps then added to the raw ``sqrt(v_hat)``) and Nadam's
    ``0.96**t`` schedule with ``mu_product`` in the dtype of the parameters.
    """
    t, lr = opt.t, opt.lr
    keras = opt.convention == "keras"
    if isinstance(opt, optim.Nadam):
        b1, psi = opt.beta1, opt.momentum_decay
        mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        prod = opt.mu_product                       # state, after this step's update
        bc2 = 1 - opt.beta2 ** t
        if keras and psi == 1:
            rows = [("mu", "beta1 * (1 - 0.5 * 0.96**t)", mu),
                    ("mu_next", "beta1 * (1 - 0.5 * 0.96**(t + 1))", mu_next)]
        else:
            rows = [("mu", "beta1 * (1 - 0.5 * 0.96**(t * momentum_decay))", mu),
                    ("mu_next", "beta1 * (1 - 0.5 * 0.96**((t + 1) * momentum_decay))",
                     mu_next)]
        kept = opt._dtype.name if keras else np.dtype(opt.mu_product_dtype).name
        return rows + [
                ("mu_product", f"mu_product * mu  (kept in {kept})", prod),
                ("bc2", "1 - beta2**t", bc2),
                ("sqrt(bc2)", "", bc2 ** 0.5),
                ("coef_g", "lr * (1 - mu) / (1 - mu_product)", lr * (1 - mu) / (1 - prod)),
                ("coef_m", "lr * mu_next / (1 - mu_product * mu_next)",
                 lr * mu_next / (1 - prod * mu_next))]
    if isinstance(opt, optim.Adam):
        bc1, bc2 = 1 - opt.beta1 ** t, 1 - opt.beta2 ** t
        if keras:
            return [("bc1", "1 - beta1**t", bc1), ("bc2", "1 - beta2**t", bc2),
                    ("sqrt(bc2)", "", bc2 ** 0.5),
                    ("step_size", "lr * sqrt(bc2) / bc1", lr * bc2 ** 0.5 / bc1)]
        return [("bc1", "1 - beta1**t", bc1), ("bc2", "1 - beta2**t", bc2),
                ("lr / bc1", "", lr / bc1), ("sqrt(bc2)", "", bc2 ** 0.5)]
    if isinstance(opt, optim.Adamax):
        bc1 = 1 - opt.beta1 ** t
        return [("bc1", "1 - beta1**t", bc1), ("lr / bc1", "", lr / bc1)]
    return []


def _decay_terms(opt, p_old, g):
    """Weight decay rows: the decayed gradient (coupled) or the decay factor (decoupled,
    which is every optimizer's under the keras convention)."""
    wd = getattr(opt, "weight_decay", 0.0)
    if wd == 0:
        return [], []
    if opt.convention == "keras" or getattr(opt, "decoupled_weight_decay", False):
        return [("1 - lr * weight_decay", "", 1 - opt.lr * wd)], []
    return [], [("g + wd*p", g + wd * p_old)]


@dataclass
class Explanation:
    """The result of :func:`explain`; ``str()`` is the text ``minitrain explain`` prints.

    Attributes
    ----------
    optimizer : Optimizer
        The optimizer after the last step.
    a, start : ndarray
        Curvatures and starting point of ``f(p) = 0.5 * sum(a * p**2)``.
    records : list of dict
        Per step: ``t``, ``lr``, ``p`` (before), ``g``, ``state`` (copies of the buffers
        after the step), ``scalars`` (name, formula, value), ``step`` (``p_new - p``),
        ``p_new``; every array is what the kernel left behind.
    """

    name: str
    optimizer: object
    a: np.ndarray
    start: np.ndarray
    records: list
    rule: str

    def __str__(self):
        return self.text()

    def text(self, digits=8):
        """The explanation with ``digits`` significant digits per number."""
        def num(x):
            return f"{float(x):.{digits}g}"

        def row(label, values):
            return f"  {label:<12}" + "".join(f"{num(v):>{digits + 9}}" for v in values)

        hp = ", ".join(f"{k}={v!r}" for k, v in self.optimizer.hyperparameters().items())
        keras = self.optimizer.convention == "keras"
        title = "Update rule (keras)" if keras else "Update rule"
        out = [f"{self.name}: {type(self.optimizer).__name__}({hp}"
               + (", convention='keras')" if keras else ")"), "",
               title, "-" * len(title), self.rule, "",
               "Worked example: f(p) = 0.5 * sum(a * p**2), so the gradient is g = a * p.",
               "Each step below shows p before the step, g, the state after the kernel ran,",
               "the scalars of this step, step = p_new - p, lr_eff = -step / g (the lr plain",
               "SGD would need for the same step) and p_new. All arrays are float64.", "",
               " " * 14 + "".join(f"{f'p[{i}]':>{digits + 9}}" for i in range(len(self.a))),
               row("a", self.a), row("p0", self.start)]
        for r in self.records:
            out += ["", f"step t={r['t']}   lr={num(r['lr'])}", row("p", r["p"]),
                    row("g", r["g"])]
            out += [row(label, v) for label, v in r["vectors"]]
            out += [row(k, v) for k, v in r["state"].items()]
            for name, formula, value in r["scalars"]:
                out.append(f"  {name} = {formula + ' = ' if formula else ''}{num(value)}")
            with np.errstate(divide="ignore", invalid="ignore"):
                lr_eff = np.where(r["g"] != 0, -r["step"] / r["g"], np.nan)
            out += [row("step", r["step"]), row("lr_eff", lr_eff), row("p_new", r["p_new"])]
        return "\n".join(out)


def explain(optimizer, *, steps=3, seed=0, convention="torch", **hyperparameters):
    """Run ``steps`` real updates of ``optimizer`` on a 3-parameter quadratic and record them.

    The function is ``f(p) = 0.5 * sum(a * p**2)`` (gradient ``a * p``) with ``a`` and
    the start drawn from ``seed`` and rounded to one decimal, so the first step is easy
    to redo by hand.

    Parameters
    ----------
    optimizer : str
        Registry name (see ``minitrain optimizers``), optionally ``NAME@CONVENTION``.
    steps : int
        Number of updates shown (default 3).
    seed : int
        Chooses ``a`` (in [0.5, 3]) and the start (in [-2, 2]).
    convention : {"torch", "keras"}, default="torch"
        Whose update rule: the text shows that convention's "Update rule" block and
        the scalars its equations use.
    **hyperparameters
        Passed to ``optim.get(optimizer, ...)``, e.g. ``lr=0.1, beta1=0.8``.

    Returns
    -------
    Explanation
        ``print(result)`` shows the update rule and the worked steps.
    """
    try:
        [(label, optimizer, convention)] = entries([optimizer], convention)
    except ValueError as e:
        raise ValueError(f"explain: {e}") from None
    steps = check_int("steps", steps, 1, owner="explain")
    seed = check_int("seed", seed, 0, owner="explain")
    opt = _optimizer(optimizer, hyperparameters, convention)
    label = optimizer if convention == "torch" else f"{optimizer}@{convention}"
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 3.0, 3).round(1)
    p = rng.uniform(-2.0, 2.0, 3).round(1)
    p[p == 0] = 0.5                        # a zero coordinate would never move
    start = p.copy()
    g = np.empty_like(p)
    records = []
    for _ in range(steps):
        p_old = p.copy()
        g[:] = a * p
        opt.step(p, g)                     # the real kernel, in place
        scalars, vectors = _decay_terms(opt, p_old, g)
        records.append({"t": opt.t, "lr": opt.lr, "p": p_old, "g": g.copy(),
                        "vectors": vectors,
                        "state": {k: v.copy() for k, v in opt.state.items()},
                        "scalars": _bias_terms(opt) + scalars,
                        "step": p - p_old, "p_new": p.copy()})
    return Explanation(label, opt, a, start, records,
                       optim.update_rule(optimizer, convention=convention))
