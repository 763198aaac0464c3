"""Gradient check: backprop against central finite differences, in float64.

For every parameter ``theta_i`` the numerical derivative is::

    (L(theta + eps e_i) - L(theta - eps e_i)) / (2 eps)

computed on a float64 copy of the model whatever the model's own dtype. The error
reported for each layer's ``W`` and ``b`` is the largest absolute difference
between the two gradients divided by the largest gradient magnitude in that block
(a relative error that is not fooled by individual gradients near zero).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GradcheckRow", "gradcheck", "format_table"]


@dataclass
class GradcheckRow:
    """One block of parameters: layer number (from 1), "W" or "b", sizes and error."""

    layer: int
    block: str
    size: int
    max_abs_grad: float
    max_abs_diff: float
    rel_error: float


def gradcheck(model, X, y, eps=1e-6):
    """Compare ``model``'s backprop gradient with central differences.

    Parameters
    ----------
    model : MLP
        Checked at its current parameters; the model itself is not modified.
    X, y : array-like
        A (small) batch; every parameter costs two forward passes.
    eps : float, default=1e-6
        Finite-difference step.

    Returns
    -------
    list of GradcheckRow
        One row per layer and block (W, then b), in the flat layout order. The
        overall error is ``max(row.rel_error for row in rows)``.
    """
    if not eps > 0:
        raise ValueError(f"gradcheck: eps must be > 0, got {eps!r}")
    from minitrain.nn import MLP
    ref = MLP(**{**model.config(), "dtype": "float64"})     # the same network, in float64
    ref.params[:] = model.params
    ref.loss_and_grad(X, y)
    analytic = ref.grads.copy()
    numeric = np.empty_like(analytic)
    theta = ref.params
    for i in range(theta.size):
        keep = theta[i]
        theta[i] = keep + eps
        up = ref.loss_value(X, y)
        theta[i] = keep - eps
        down = ref.loss_value(X, y)
        theta[i] = keep
        numeric[i] = (up - down) / (2 * eps)
    rows = []
    for number, (lo_w, lo_b, hi) in enumerate(_blocks(model.config()["layer_sizes"]),
                                              start=1):
        for block, lo, hi in (("W", lo_w, lo_b), ("b", lo_b, hi)):
            a, n = analytic[lo:hi], numeric[lo:hi]
            scale = max(np.abs(a).max(), np.abs(n).max())
            diff = float(np.abs(a - n).max())
            rows.append(GradcheckRow(number, block, hi - lo, float(scale), diff,
                                     diff / scale if scale > 0 else diff))
    return rows


def _blocks(sizes):
    """(W start, b start, b end) per layer in the fixed flat layout W1, b1, W2, b2, ..."""
    out, offset = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        out.append((offset, offset + n_in * n_out, offset + n_in * n_out + n_out))
        offset = out[-1][2]
    return out


def format_table(rows, tol):
    """The rows as an aligned text table with a pass/fail mark against ``tol``."""
    lines = [f"{'layer':>5}  {'block':<5} {'size':>6}  {'max |grad|':>11}  "
             f"{'max |diff|':>11}  {'rel error':>10}  ok"]
    for r in rows:
        mark = "yes" if r.rel_error <= tol else "NO"
        lines.append(f"{r.layer:>5}  {r.block:<5} {r.size:>6}  {r.max_abs_grad:>11.3e}  "
                     f"{r.max_abs_diff:>11.3e}  {r.rel_error:>10.2e}  {mark}")
    return "\n".join(lines)
