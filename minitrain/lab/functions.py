"""The 2-D test functions of the optimizer lab, each with its analytic gradient.

Each :class:`Function` holds its value ``f(x, y)`` with the analytic gradient written
right below it, its minima, a default start, a plotting window and default learning
rates per optimizer (chosen to show the textbook behaviour: momentum overshooting,
Nesterov braking earlier, AdaGrad stalling with a small lr). :func:`function` builds one
by name; :func:`names` lists them (the registry ``_FUNCTIONS`` is the only list).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from minitrain._validation import check_choice, check_range

__all__ = ["Function", "function", "names"]


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

