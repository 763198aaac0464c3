"""One shape for every library error message: parameter, constraint, value.

>>> check_range("beta1", 1.5, 0.0, 1.0, owner="Adam", hi_open=True)
Traceback (most recent call last):
...
ValueError: Adam: beta1 must be in [0.0, 1.0), got 1.5
"""
from __future__ import annotations

import math
import numbers


def _prefix(owner):
    return f"{owner}: " if owner else ""


def check_number(name, value, owner=None):
    """Return ``value`` as a float, or raise ``TypeError`` if it is not a real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{_prefix(owner)}{name} must be a number, got {value!r}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{_prefix(owner)}{name} must not be NaN, got {value!r}")
    return value


def check_range(name, value, lo=None, hi=None, *, owner=None, lo_open=False, hi_open=False):
    """Return ``value`` as a float if it lies in the interval, else raise ``ValueError``.

    The message names the parameter, the interval and the value, e.g.
    ``"Adam: beta1 must be in [0.0, 1.0), got 1.5"``.
    """
    value = check_number(name, value, owner)
    bad = (lo is not None and (value < lo or (lo_open and value == lo))) or (
        hi is not None and (value > hi or (hi_open and value == hi))
    )
    if bad:
        if hi is None:
            rule = f"> {lo}" if lo_open else f">= {lo}"
        elif lo is None:
            rule = f"< {hi}" if hi_open else f"<= {hi}"
        else:
            rule = f"in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
        raise ValueError(f"{_prefix(owner)}{name} must be {rule}, got {value!r}")
    return value


def check_int(name, value, lo=None, *, owner=None):
    """Return ``value`` as an int >= ``lo``; ``TypeError`` if not integral."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{_prefix(owner)}{name} must be an integer, got {value!r}")
    value = int(value)
    if lo is not None and value < lo:
        raise ValueError(f"{_prefix(owner)}{name} must be >= {lo}, got {value!r}")
    return value


def check_choice(name, value, choices, *, owner=None):
    """Return ``value`` if it is one of ``choices``; the error lists them."""
    if value not in choices:
        valid = ", ".join(map(str, choices))
        raise ValueError(f"{_prefix(owner)}{name} must be one of {valid}; got {value!r}")
    return value
