r"""Backprop in numbers: one forward and one backward pass of a tiny MLP, every number shown.

:func:`explain_backprop` builds a tiny network (default 2-3-2), rounds its inputs so a
student can redo the arithmetic by hand, and walks through the chain rule layer by
layer, printing every matrix::

    forward      Z_l = A_{l-1} W_l + b_l          A_0 = X
                 A_l = f(Z_l)                     hidden layers; the output is linear
    loss         delta_L = dloss/dZ_L             e.g. (softmax(Z_L) - onehot(y)) / n
    backward     dW_l    = A_{l-1}^T delta_l
                 db_l    = delta_l summed over the samples
                 dA_{l-1} = delta_l W_l^T
                 delta_{l-1} = dA_{l-1} * f'(Z_{l-1})   (elementwise)

The numbers are computed here in plain NumPy from the formulas of the two tables
below (the textbook form, one line per activation and loss), then checked twice:
against ``MLP.loss_and_grad`` -- the compiled backprop that trains networks -- and
against central finite differences of the loss for a few entries.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

from minitrain._validation import check_choice, check_int, check_range

__all__ = ["ACTIVATIONS", "LOSSES", "BackpropExplanation", "explain_backprop"]

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_erf = np.vectorize(math.erf, otypes=[float])


def _phi_cdf(z):
    return 0.5 * (1.0 + _erf(z / math.sqrt(2.0)))


class Activation(NamedTuple):
    """f and f' in NumPy, with the formulas printed (``{Z}``: the layer's Z, ``{A}``: A)."""

    f: Callable
    df: Callable
    formula: str
    derivative: str


#: The activations, each derivative next to its function (names as :class:`MLP`'s).
ACTIVATIONS = {
    "relu": Activation(lambda z: np.where(z < 0, 0.0, z),
                       lambda z: np.where(z > 0, 1.0, 0.0),
                       "max(0, {Z})", "1 where {Z} > 0, else 0"),
    "leaky_relu": Activation(lambda z: np.where(z < 0, 0.01 * z, z),
                             lambda z: np.where(z > 0, 1.0, 0.01),
                             "{Z} where {Z} > 0, else 0.01 {Z}", "1 where {Z} > 0, else 0.01"),
    "elu": Activation(lambda z: np.where(z < 0, np.expm1(np.minimum(z, 0)), z),
                      lambda z: np.where(z <= 0, np.exp(np.minimum(z, 0)), 1.0),
                      "{Z} where {Z} > 0, else exp({Z}) - 1", "1 where {Z} > 0, else exp({Z})"),
    "selu": Activation(lambda z: SELU_SCALE * np.where(z < 0, SELU_ALPHA
                                                       * np.expm1(np.minimum(z, 0)), z),
                       lambda z: np.where(z <= 0, SELU_SCALE * SELU_ALPHA
                                          * np.exp(np.minimum(z, 0)), SELU_SCALE),
                       "s {Z} where {Z} > 0, else s a (exp({Z}) - 1)",
                       "s where {Z} > 0, else s a exp({Z})"),
    "tanh": Activation(np.tanh, lambda z: 1.0 - np.tanh(z) ** 2,
                       "tanh({Z})", "1 - tanh({Z})^2 = 1 - {A}^2"),
    "sigmoid": Activation(lambda z: 1.0 / (1.0 + np.exp(-z)),
                          lambda z: np.exp(-z) / (1.0 + np.exp(-z)) ** 2,
                          "1 / (1 + exp(-{Z}))", "{A} (1 - {A})"),
    "gelu": Activation(lambda z: z * _phi_cdf(z),
                       lambda z: _phi_cdf(z) + z * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi),
                       "{Z} Phi({Z}), Phi the normal CDF", "Phi({Z}) + {Z} phi({Z})"),
    "identity": Activation(lambda z: z, lambda z: np.ones_like(z), "{Z}", "1"),
}


def _softmax(Z):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def _softmax_ce(Z, y):
    n, k = Z.shape
    P = _softmax(Z)
    loss = float(np.mean(-np.log(P[np.arange(n), y])))
    return loss, (P - np.eye(k)[y]) / n, P


def _binary_ce(Z, y):
    P = 1.0 / (1.0 + np.exp(-Z))
    loss = float(np.mean(np.maximum(Z, 0) - Z * y + np.log1p(np.exp(-np.abs(Z)))))
    return loss, (P - y) / Z.size, P


def _mse(Z, y):
    return float(np.mean((Z - y) ** 2)), 2 * (Z - y) / Z.size, None


class Loss(NamedTuple):
    """``compute(Z, y) -> (loss, delta, P or None)`` and the printed formulas."""

    compute: Callable
    output: str          # P's formula ("" when the loss has none)
    value: str
    delta: str


#: The losses (names as :class:`MLP`'s); ``{Z}`` is the output layer's Z.
LOSSES = {
    "softmax_crossentropy": Loss(_softmax_ce, "softmax({Z})",
                                 "mean over samples of -log P[i, y_i]",
                                 "(P - onehot(y)) / n"),
    "binary_crossentropy": Loss(_binary_ce, "sigmoid({Z}) = 1 / (1 + exp(-{Z}))",
                                "mean over all entries of -(y log P + (1 - y) log(1 - P))",
                                "(P - y) / (number of entries)"),
    "mse": Loss(_mse, "", "mean over all entries of ({Z} - y)^2",
                "2 ({Z} - y) / (number of entries)"),
}

#: Largest layer width and batch: every matrix row fits in 80 columns.
MAX_WIDTH, MAX_SAMPLES = 6, 8


@dataclass
class BackpropExplanation:
    """The result of :func:`explain_backprop`; ``str()`` is the text the command prints.

    Attributes
    ----------
    sizes : list of int
    activation, loss : str
    arrays : dict
        Every printed matrix by name, in order: ``X``, ``y``, ``W1``, ``b1``, ...,
        ``Z1``, ``A1``, ..., ``P``, ``delta2``, ``dW2``, ``db2``, ``dA1``, ``f'(Z1)``,
        ``delta1``, ``dW1``, ``db1``.
    loss_value : float
    grads : ndarray
        ``dW1, db1, dW2, ...`` flattened in the MLP's layout (comparable to
        ``model.grads``).
    model_loss, model_difference : float
        ``MLP.loss_and_grad``'s loss, and the largest ``|grads - model.grads|``.
    finite_differences : list of (entry, backprop, numeric)
    eps : float
    """

    sizes: list
    activation: str
    loss: str
    arrays: dict
    formulas: dict
    loss_value: float
    grads: np.ndarray
    model_loss: float
    model_difference: float
    finite_differences: list
    eps: float
    digits: int = 5

    def __str__(self):
        return self.text()

    @property
    def agrees(self):
        """True when the MLP's own gradients equal these to float64 rounding."""
        scale = max(1.0, float(np.abs(self.grads).max()))
        return self.model_difference <= 1e-12 * scale

    def text(self, digits=None):
        """The walk-through with ``digits`` significant digits per computed number."""
        digits = self.digits if digits is None else digits
        width = digits + 7                  # of the finite-difference table
        L = len(self.sizes) - 1
        n = self.arrays["X"].shape[0]
        out = []

        def num(x):
            return f"{float(x):.{digits}g}"

        widest = max(len(num(v)) for a in self.arrays.values() for v in np.ravel(a))

        def show(name):
            a = self.arrays[name]
            shape = f"{a.shape[0]} x {a.shape[1]}" if a.ndim == 2 else f"{a.shape[0]}"
            formula = self.formulas.get(name)
            out.append(f"  {name}" + (f" = {formula}" if formula else "") + f"  ({shape})")
            cells = [[num(v) for v in row] for row in np.atleast_2d(a)]
            w, indent = widest + 2, 4                     # one width for every matrix
            if indent + len(cells[0]) * w > 80:           # but at most 80 columns
                w, indent = max(len(c) for row in cells for c in row) + 1, 2
            out.extend(" " * indent + "".join(c.rjust(w) for c in row) for row in cells)

        act = self.activation
        arch = " -> ".join(map(str, self.sizes))
        out += [f"Backprop in numbers: MLP {arch}, {act}, {self.loss}, "
                f"{n} sample{'s' if n > 1 else ''}",
                "X is rounded to 1 decimal, the weights and biases to 2, so every step",
                "can be redone by hand; everything after them is computed in float64 and",
                f"shown with {digits} significant digits. Rows are samples; W_l has one row",
                "per input and one column per unit of layer l.", "", "Inputs"]
        for name in ["X", "y"] + [f"{p}{l}" for l in range(1, L + 1) for p in "Wb"]:
            show(name)
        out += ["", "Forward pass: Z_l = A_(l-1) W_l + b_l, A_l = f(Z_l), A_0 = X"]
        if act == "selu":
            out.append(f"(selu: s = {SELU_SCALE!r}, a = {SELU_ALPHA!r})")
        for l in range(1, L + 1):
            out.append(f"Layer {l} " + (f"(hidden, {act})" if l < L else "(output, linear)"))
            show(f"Z{l}")
            if l < L:
                show(f"A{l}")
        if "P" in self.arrays:
            show("P")
        out.append(f"  loss = {LOSSES[self.loss].value.format(Z=f'Z{L}')} = "
                   f"{num(self.loss_value)}")
        out += ["", "Backward pass: the chain rule, from the loss down to the first layer"]
        for l in range(L, 0, -1):
            out.append(f"Layer {l} " + (f"(hidden, {act})" if l < L else "(output, linear)"))
            if l < L:
                show(f"f'(Z{l})")
            for name in (f"delta{l}", f"dW{l}", f"db{l}") + ((f"dA{l - 1}",) if l > 1 else ()):
                show(name)
        out += ["", "Check 1: MLP.loss_and_grad, the compiled backprop that trains networks,",
                f"  gives loss {num(self.model_loss)} and "
                + ("the same" if self.agrees else "DIFFERENT")
                + f" dW, db (largest difference {self.model_difference:.1e}).",
                "Check 2: central finite differences, (loss(w + eps) - loss(w - eps)) / "
                "(2 eps),", f"  eps = {self.eps:g}, for the largest entry of each dW and db:",
                f"  {'entry':<10}{'backprop':>{width + 2}}{'finite diff':>{width + 2}}"
                f"{'difference':>12}"]
        for entry, analytic, numeric in self.finite_differences:
            out.append(f"  {entry:<10}{num(analytic):>{width + 2}}{num(numeric):>{width + 2}}"
                       f"{abs(analytic - numeric):>12.1e}")
        return "\n".join(out)


def _blocks(sizes):
    """(W start, b start, b end) per layer in the fixed flat layout W1, b1, W2, b2, ..."""
    out, offset = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        out.append((offset, offset + n_in * n_out, offset + n_in * n_out + n_out))
        offset = out[-1][2]
    return out


def _bounded(name, value, lo, hi):
    """An int in [lo, hi], else the one-line error naming ``name``."""
    value = check_int(name, value, owner="explain_backprop")
    if not lo <= value <= hi:
        raise ValueError(f"explain_backprop: {name} must be in [{lo}, {hi}], got {value}")
    return value


def explain_backprop(sizes=(2, 3, 2), *, activation="tanh", loss="softmax_crossentropy",
                     samples=1, seed=0, digits=5, eps=1e-6):
    """One forward and backward pass of a tiny MLP, with the chain rule in numbers.

    Parameters
    ----------
    sizes : sequence of int, default=(2, 3, 2)
        Layer sizes ``[n_in, hidden..., n_out]``, each 1..6 (so every row fits in 80
        columns), at least two.
    activation : str, default="tanh"
        Hidden-layer activation, one of :data:`ACTIVATIONS` (the MLP's).
    loss : str, default="softmax_crossentropy"
        One of :data:`LOSSES`: softmax_crossentropy (n_out >= 2), binary_crossentropy
        (a 0/1 label per output unit) or mse.
    samples : int, default=1
        Batch size, 1..8.
    seed : int, default=0
        Draws the weights (the MLP's own initialisation), X and y.
    digits : int, default=5
        Significant digits of the computed numbers (3..6).
    eps : float, default=1e-6
        Step of the finite-difference check.

    Returns
    -------
    BackpropExplanation
        ``print(result)`` shows the walk-through.
    """
    from minitrain.nn import MLP

    owner = "explain_backprop"
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or len(sizes) < 2:
        raise ValueError(f"{owner}: sizes must list at least an input and an output size, "
                         f"got {sizes!r}")
    sizes = [_bounded("sizes entry", s, 1, MAX_WIDTH) for s in sizes]
    activation = check_choice("activation", activation, tuple(ACTIVATIONS), owner=owner)
    loss = check_choice("loss", loss, tuple(LOSSES), owner=owner)
    n = _bounded("samples", samples, 1, MAX_SAMPLES)
    seed = check_int("seed", seed, 0, owner=owner)
    digits = _bounded("digits", digits, 3, 6)
    eps = check_range("eps", eps, 0.0, 1e-2, owner=owner, lo_open=True)
    try:
        model = MLP(sizes, activation=activation, loss=loss, dtype="float64", seed=seed)
    except ValueError as e:
        raise ValueError(f"{owner}: {str(e).removeprefix('MLP: ')}") from None
    model.params[:] = np.round(model.params, 2) + 0.0        # + 0.0: no "-0" printed
    rng = np.random.default_rng([seed, 2024])
    X = rng.uniform(-1, 1, (n, sizes[0])).round(1) + 0.0
    X[X == 0] = 0.5                               # a zero input would hide its dW row
    k = sizes[-1]
    if loss == "mse":
        y = rng.uniform(-1, 1, (n, k)).round(1)
    elif loss == "binary_crossentropy":              # 0/1 per output (multilabel if k > 1)
        y = rng.integers(0, 2, (n, k)) if k > 1 else rng.integers(0, 2, n)
    else:
        y = rng.integers(0, k, n)
    blocks = _blocks(sizes)
    W = [model.params[w0:b0].reshape(sizes[l], sizes[l + 1]).copy()
         for l, (w0, b0, _) in enumerate(blocks)]
    b = [model.params[b0:end].copy() for _, b0, end in blocks]
    arrays, formulas, value = _walk(X, y, W, b, activation, loss)
    grads = np.concatenate([np.concatenate([arrays[f"dW{l}"].ravel(), arrays[f"db{l}"]])
                            for l in range(1, len(W) + 1)])
    model_loss, difference, checks = _check(model, X, y, grads, blocks, eps)
    return BackpropExplanation(sizes, activation, loss, arrays, formulas, value, grads,
                               model_loss, difference, checks, eps, digits)


def _walk(X, y, W, b, activation, loss):
    """The forward and the backward pass in NumPy: ({name: array}, {name: formula}, loss)."""
    L = len(W)
    f = ACTIVATIONS[activation]
    arrays = {"X": X, "y": y if y.ndim == 2 else y[:, None]}
    formulas = {"y": {"mse": "targets", "softmax_crossentropy": "class labels"}.get(
        loss, "0/1 labels, one per output")}
    for l in range(1, L + 1):
        arrays[f"W{l}"], arrays[f"b{l}"] = W[l - 1], b[l - 1]

    # forward: Z_l = A_{l-1} W_l + b_l, A_l = f(Z_l) (the output layer is linear)
    A, Z = {0: X}, {}
    for l in range(1, L + 1):
        Z[l] = arrays[f"Z{l}"] = A[l - 1] @ W[l - 1] + b[l - 1]
        formulas[f"Z{l}"] = f"{'X' if l == 1 else f'A{l - 1}'} W{l} + b{l}"
        if l < L:
            A[l] = arrays[f"A{l}"] = f.f(Z[l])
            formulas[f"A{l}"] = f.formula.format(Z=f"Z{l}", A=f"A{l}")
    rule = LOSSES[loss]
    target = arrays["y"].astype(float) if loss == "binary_crossentropy" else y
    value, delta, P = rule.compute(Z[L], target)
    if P is not None:
        arrays["P"], formulas["P"] = P, rule.output.format(Z=f"Z{L}")

    # backward: delta_l, then dW_l, db_l and the delta handed down, dA_{l-1}
    for l in range(L, 0, -1):
        if l < L:
            arrays[f"f'(Z{l})"] = f.df(Z[l])
            formulas[f"f'(Z{l})"] = f.derivative.format(Z=f"Z{l}", A=f"A{l}")
            delta = arrays[f"dA{l}"] * arrays[f"f'(Z{l})"]
            formulas[f"delta{l}"] = f"dloss/dZ{l} = dA{l} * f'(Z{l})"
        else:
            formulas[f"delta{l}"] = f"dloss/dZ{l} = {rule.delta.format(Z=f'Z{l}')}"
        arrays[f"delta{l}"] = delta
        arrays[f"dW{l}"] = A[l - 1].T @ delta
        formulas[f"dW{l}"] = f"{'X' if l == 1 else f'A{l - 1}'}^T delta{l}"
        arrays[f"db{l}"] = delta.sum(axis=0)
        formulas[f"db{l}"] = f"delta{l} summed over samples"
        if l > 1:
            arrays[f"dA{l - 1}"] = delta @ W[l - 1].T
            formulas[f"dA{l - 1}"] = f"dloss/dA{l - 1} = delta{l} W{l}^T"
    return arrays, formulas, value


def _check(model, X, y, grads, blocks, eps):
    """Check 1: the MLP's compiled backprop; check 2: central differences of the loss at
    the largest-gradient entry of every W and b. Leaves ``model.params`` as it found it."""
    model_loss = float(model.loss_and_grad(X, y))
    difference = float(np.abs(grads - model.grads).max())
    p, checks = model.params, []
    for l, (w0, b0, end) in enumerate(blocks, start=1):
        n_out = end - b0
        for name, lo, hi in ((f"W{l}", w0, b0), (f"b{l}", b0, end)):
            i = lo + int(np.argmax(np.abs(grads[lo:hi])))
            keep = p[i]
            p[i] = keep + eps
            up = model.loss_and_grad(X, y)
            p[i] = keep - eps
            down = model.loss_and_grad(X, y)
            p[i] = keep
            where = (f"[{(i - lo) // n_out},{(i - lo) % n_out}]" if name[0] == "W"
                     else f"[{i - lo}]")
            checks.append((name + where, float(grads[i]), float((up - down) / (2 * eps))))
    return model_loss, difference, checks
