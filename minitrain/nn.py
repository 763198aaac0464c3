r"""A multilayer perceptron with hand-written backprop into one flat gradient array.

Read this file first. Everything a network learns lives in one flat array
``params``, laid out ``W1, b1, W2, b2, ...``; layer ``l`` reads its weight matrix
``W_l`` (shape ``(n_in, n_out)``, C order) and bias ``b_l`` as *views* into it.
``grads`` has the same layout, and every call of :meth:`MLP.loss_and_grad`
**overwrites** it (there is no ``zero_grad`` to forget).

Forward pass, for layers ``l = 1 .. L`` with ``A_0 = X``::

    Z_l = A_{l-1} W_l + b_l
    A_l = f(Z_l)            for hidden layers (f is the activation)
    A_L = Z_L               the output layer is linear: it holds logits or values

Backward pass (the chain rule, one line per step)::

    D_L     = dLoss/dZ_L                      the fused output delta, e.g. (p - y)/n
    dW_l    = A_{l-1}^T D_l                   gradient of the weights
    db_l    = sum over the batch of D_l       gradient of the biases
    D_{l-1} = (D_l W_l^T) * f'(Z_{l-1})       delta handed to the layer below

The whole step -- gather the minibatch, forward, loss, backward -- is one
Numba-compiled function, :func:`_loss_and_grad`, working in buffers that are
allocated once per batch size. NumPy's BLAS does the matrix products.

Activations and losses are small scalar functions, each derivative next to its
forward. Numba cannot cache a compiled function that takes other functions as
arguments, so the registries give every activation and loss an integer code and
one dispatch function per family routes the code to the right pair.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from minitrain._validation import check_choice, check_int

JIT = dict(cache=True, error_model="numpy")

# ---------------------------------------------------------------------------
# Activations: forward f(z) and derivative f'(z), side by side.
# ---------------------------------------------------------------------------
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
LEAKY_SLOPE = 0.01
INV_SQRT2 = 0.7071067811865476            # 1/sqrt(2)
INV_SQRT_2PI = 0.3989422804014327         # 1/sqrt(2*pi)


@njit(**JIT)
def relu(z):
    return 0.0 if z < 0 else z            # written so that NaN passes through


@njit(**JIT)
def relu_grad(z):
    return 1.0 if z > 0 else 0.0


@njit(**JIT)
def leaky_relu(z):
    return LEAKY_SLOPE * z if z < 0 else z


@njit(**JIT)
def leaky_relu_grad(z):
    return 1.0 if z > 0 else LEAKY_SLOPE


@njit(**JIT)
def elu(z):                               # alpha = 1
    return math.expm1(z) if z < 0 else z


@njit(**JIT)
def elu_grad(z):
    return math.exp(z) if z <= 0 else 1.0


@njit(**JIT)
def selu(z):
    return SELU_SCALE * (SELU_ALPHA * math.expm1(z) if z < 0 else z)


@njit(**JIT)
def selu_grad(z):
    return SELU_SCALE * SELU_ALPHA * math.exp(z) if z <= 0 else SELU_SCALE


@njit(**JIT)
def tanh(z):
    return math.tanh(z)


@njit(**JIT)
def tanh_grad(z):
    a = math.tanh(z)
    return 1.0 - a * a


@njit(**JIT)
def sigmoid(z):
    # two branches keep exp() from overflowing for large |z|
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@njit(**JIT)
def sigmoid_grad(z):
    a = sigmoid(z)
    return a * (1.0 - a)


@njit(**JIT)
def gelu(z):                              # exact GELU: z * Phi(z)
    return 0.5 * z * (1.0 + math.erf(z * INV_SQRT2))


@njit(**JIT)
def gelu_grad(z):                         # Phi(z) + z * phi(z)
    return 0.5 * (1.0 + math.erf(z * INV_SQRT2)) + z * math.exp(-0.5 * z * z) * INV_SQRT_2PI


@njit(**JIT)
def identity(z):
    return z


@njit(**JIT)
def identity_grad(z):
    return 1.0


@dataclass(frozen=True)
class Activation:
    """Registry entry: integer code for the compiled dispatch, default init, formula."""

    code: int
    init: str
    formula: str


ACTIVATIONS = {
    "relu": Activation(0, "he", "max(0, z)"),
    "leaky_relu": Activation(1, "he", "z if z > 0 else 0.01 z"),
    "elu": Activation(2, "he", "z if z > 0 else exp(z) - 1"),
    "selu": Activation(3, "lecun", "scale * (z if z > 0 else alpha (exp(z) - 1))"),
    "tanh": Activation(4, "glorot", "tanh(z)"),
    "sigmoid": Activation(5, "glorot", "1 / (1 + exp(-z))"),
    "gelu": Activation(6, "he", "z Phi(z), Phi the standard normal CDF (exact, erf)"),
    "identity": Activation(7, "glorot", "z"),
}


@njit(**JIT)
def _activate(code, z, a):
    """a = f(z) elementwise over flat arrays, for the activation with this registry code.

    The code is looked at once per layer, not per element, so every branch is a tight
    loop over one scalar function that LLVM vectorises (measured 3x faster than
    dispatching per element). Numba cannot cache functions that take other functions
    as arguments, hence one loop per activation.
    """
    if code == 0:
        for i in range(z.size):
            a[i] = relu(z[i])
    elif code == 1:
        for i in range(z.size):
            a[i] = leaky_relu(z[i])
    elif code == 2:
        for i in range(z.size):
            a[i] = elu(z[i])
    elif code == 3:
        for i in range(z.size):
            a[i] = selu(z[i])
    elif code == 4:
        for i in range(z.size):
            a[i] = tanh(z[i])
    elif code == 5:
        for i in range(z.size):
            a[i] = sigmoid(z[i])
    elif code == 6:
        for i in range(z.size):
            a[i] = gelu(z[i])
    else:
        for i in range(z.size):
            a[i] = identity(z[i])


@njit(**JIT)
def _activate_grad(code, z, d):
    """d *= f'(z) elementwise over flat arrays (see :func:`_activate`)."""
    if code == 0:
        for i in range(z.size):
            d[i] *= relu_grad(z[i])
    elif code == 1:
        for i in range(z.size):
            d[i] *= leaky_relu_grad(z[i])
    elif code == 2:
        for i in range(z.size):
            d[i] *= elu_grad(z[i])
    elif code == 3:
        for i in range(z.size):
            d[i] *= selu_grad(z[i])
    elif code == 4:
        for i in range(z.size):
            d[i] *= tanh_grad(z[i])
    elif code == 5:
        for i in range(z.size):
            d[i] *= sigmoid_grad(z[i])
    elif code == 6:
        for i in range(z.size):
            d[i] *= gelu_grad(z[i])
    else:
        for i in range(z.size):
            d[i] *= identity_grad(z[i])


# ---------------------------------------------------------------------------
# Losses: the mean loss over the batch and the fused output delta dLoss/dZ_L.
# Each loss reads the logits Z (n, k), the targets Y (n, k_y) and writes D.
# ---------------------------------------------------------------------------
@njit(**JIT)
def softmax_crossentropy(Z, Y, D):
    """loss = mean_i [logsumexp(z_i) - z_i[y_i]];  D = (softmax(z) - onehot(y)) / n."""
    n, k = Z.shape
    total = 0.0
    for i in range(n):
        zmax = Z[i, 0]
        for j in range(1, k):
            zmax = max(zmax, Z[i, j])
        s = 0.0
        for j in range(k):
            D[i, j] = math.exp(Z[i, j] - zmax)              # exp(z - max), kept in D
            s += D[i, j]
        label = int(Y[i, 0])
        total += math.log(s) - (Z[i, label] - zmax)        # -log softmax[label]
        for j in range(k):
            D[i, j] = D[i, j] / (s * n)                    # softmax / n
        D[i, label] -= 1.0 / n
    return total / n


@njit(**JIT)
def binary_crossentropy(Z, Y, D):
    """loss = mean_i [max(z,0) - z y + log(1 + exp(-|z|))];  D = (sigmoid(z) - y) / n."""
    n = Z.shape[0]
    total = 0.0
    for i in range(n):
        z = Z[i, 0]
        y = Y[i, 0]
        total += max(z, 0.0) - z * y + math.log1p(math.exp(-abs(z)))
        D[i, 0] = (sigmoid(z) - y) / n
    return total / n


@njit(**JIT)
def mse(Z, Y, D):
    """loss = mean over all n*k elements of (z - y)^2;  D = 2 (z - y) / (n k)."""
    n, k = Z.shape
    total = 0.0
    for i in range(n):
        for j in range(k):
            r = Z[i, j] - Y[i, j]
            total += r * r
            D[i, j] = 2.0 * r / (n * k)
    return total / (n * k)


LOSSES = {"softmax_crossentropy": 0, "binary_crossentropy": 1, "mse": 2}


@njit(**JIT)
def _loss(code, Z, Y, D):
    if code == 0:
        return softmax_crossentropy(Z, Y, D)
    if code == 1:
        return binary_crossentropy(Z, Y, D)
    return mse(Z, Y, D)


# ---------------------------------------------------------------------------
# The compiled step. `layout[l] = (W start, b start, n_in, n_out)` in `params`.
# `work` holds, for batch size n: Xb (n, n_0), Yb (n, k_y), then Z, A and D,
# each (n, n_1 + ... + n_L), layer after layer.
# ---------------------------------------------------------------------------
@njit(**JIT)
def _gather(X, Y, idx, work):
    """Copy the minibatch rows idx of X and Y into the front of the workspace."""
    n, d, ky = idx.shape[0], X.shape[1], Y.shape[1]
    Xb = work[: n * d].reshape((n, d))
    Yb = work[n * d: n * (d + ky)].reshape((n, ky))
    for i in range(n):
        Xb[i, :] = X[idx[i], :]
        Yb[i, :] = Y[idx[i], :]
    return Xb, Yb


@njit(**JIT)
def _forward(params, layout, act, Xb, work, start):
    """Forward pass into the Z and A buffers of `work` (from offset `start`).

    Returns the logits Z_L as a view.
    """
    n = Xb.shape[0]
    hidden = 0
    for l in range(layout.shape[0]):
        hidden += layout[l, 3]
    size = n * hidden                     # length of each of the Z, A, D regions
    A_prev = Xb
    o = start
    Z_l = Xb
    last = layout.shape[0] - 1
    for l in range(layout.shape[0]):
        w0, b0, n_in, n_out = layout[l, 0], layout[l, 1], layout[l, 2], layout[l, 3]
        W = params[w0: w0 + n_in * n_out].reshape((n_in, n_out))
        b = params[b0: b0 + n_out]
        Z_l = work[o: o + n * n_out].reshape((n, n_out))
        A_l = work[size + o: size + o + n * n_out].reshape((n, n_out))
        np.dot(A_prev, W, Z_l)                           # Z_l = A_{l-1} W_l
        for i in range(n):
            for j in range(n_out):
                Z_l[i, j] += b[j]                        #      + b_l
        if l < last:                                     # A_l = f(Z_l)
            _activate(act, work[o: o + n * n_out], work[size + o: size + o + n * n_out])
        A_prev = A_l
        o += n * n_out
    return Z_l


@njit(**JIT)
def _loss_and_grad(params, grads, layout, act, loss, X, Y, idx, work):
    """One training step's forward, loss and backward; returns the mean loss.

    Overwrites `grads`. Equations: see the module docstring.
    """
    n, d, ky = idx.shape[0], X.shape[1], Y.shape[1]
    Xb, Yb = _gather(X, Y, idx, work)
    start = n * (d + ky)
    Z_L = _forward(params, layout, act, Xb, work, start)
    hidden = 0
    for l in range(layout.shape[0]):
        hidden += layout[l, 3]
    size = n * hidden
    last = layout.shape[0] - 1
    o = start + size - n * layout[last, 3]              # offset of layer L in Z
    D_l = work[2 * size + o: 2 * size + o + n * layout[last, 3]].reshape(
        (n, layout[last, 3]))
    value = _loss(loss, Z_L, Yb, D_l)                   # D_L = dLoss/dZ_L
    for l in range(last, -1, -1):
        w0, b0, n_in, n_out = layout[l, 0], layout[l, 1], layout[l, 2], layout[l, 3]
        if l > 0:
            A_prev = work[size + o - n * n_in: size + o].reshape((n, n_in))
        else:
            A_prev = Xb
        dW = grads[w0: w0 + n_in * n_out].reshape((n_in, n_out))
        db = grads[b0: b0 + n_out]
        np.dot(A_prev.T, D_l, dW)                        # dW_l = A_{l-1}^T D_l
        db[:] = 0.0
        for i in range(n):
            for j in range(n_out):
                db[j] += D_l[i, j]                       # db_l = sum_i D_l
        if l > 0:
            W = params[w0: w0 + n_in * n_out].reshape((n_in, n_out))
            o -= n * n_in
            D_prev = work[2 * size + o: 2 * size + o + n * n_in].reshape((n, n_in))
            np.dot(D_l, W.T, D_prev)                     # D_{l-1} = D_l W_l^T
            _activate_grad(act, work[o: o + n * n_in],   #           * f'(Z_{l-1})
                           work[2 * size + o: 2 * size + o + n * n_in])
            D_l = D_prev
    return value


# ---------------------------------------------------------------------------
# Initialisation
# ---------------------------------------------------------------------------
def _init_weights(rng, n_in, n_out, scheme):
    """He: N(0, 2/n_in); LeCun: N(0, 1/n_in); Glorot: U(+-sqrt(6/(n_in+n_out)))."""
    if scheme == "he":
        return rng.normal(0.0, math.sqrt(2.0 / n_in), size=(n_in, n_out))
    if scheme == "lecun":
        return rng.normal(0.0, math.sqrt(1.0 / n_in), size=(n_in, n_out))
    limit = math.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, size=(n_in, n_out))


INITS = ("he", "glorot", "lecun")
CLASSIFICATION_LOSSES = ("softmax_crossentropy", "binary_crossentropy")


@dataclass
class Layer:
    """Views of one layer's weights, biases and their gradients into the flat arrays."""

    W: np.ndarray
    b: np.ndarray
    dW: np.ndarray
    db: np.ndarray


class MLP:
    """A fully connected network with one flat parameter and one flat gradient array.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[n_in, hidden..., n_out]``. At least two entries, each >= 1.
    activation : str, default="relu"
        Hidden-layer activation: relu, leaky_relu (slope 0.01), elu (alpha 1), selu,
        tanh, sigmoid, gelu (exact, erf) or identity. The output layer is linear.
    loss : str, default="softmax_crossentropy"
        ``softmax_crossentropy`` (integer labels 0..k-1, mean over the batch, as
        torch ``CrossEntropyLoss``), ``binary_crossentropy`` (one output unit
        holding a logit, labels 0/1, as torch ``BCEWithLogitsLoss``) or ``mse``
        (mean over all elements, as torch ``MSELoss``).
    dtype : {"float32", "float64"}, default="float32"
    seed : int, default=0
        Seed of ``np.random.default_rng`` for the initial weights.
    init : {"he", "glorot", "lecun"} or None
        Weight initialisation; by default chosen by the activation (He for the
        relu family and gelu, Glorot for tanh/sigmoid/identity, LeCun normal for
        selu). Biases start at zero.

    Attributes
    ----------
    params, grads : ndarray, 1-D
        Flat arrays in the fixed layout ``W1, b1, W2, b2, ...``.
    layers : list of Layer
        Per-layer views ``W`` (n_in, n_out), ``b``, ``dW``, ``db`` into them.
    bias_mask : ndarray of bool, 1-D (read-only)
        True at the biases of ``params`` (e.g. to exclude them from weight decay).
    param_blocks : list of (start, stop)
        One slice of ``params`` per variable, in the order ``W1, b1, W2, b2, ...``
        (e.g. for Keras's per-variable ``clipnorm``).

    Examples
    --------
    >>> model = MLP([4, 8, 3], activation="tanh", dtype="float64")
    >>> model
    MLP(4 -> 8 -> 3, tanh, softmax_crossentropy, float64)
    >>> model.params.shape, np.shares_memory(model.params, model.layers[0].W)
    ((67,), True)
    """

    def __init__(self, layer_sizes, activation="relu", loss="softmax_crossentropy",
                 dtype="float32", seed=0, init=None):
        sizes = list(layer_sizes) if not isinstance(layer_sizes, (str, bytes)) else None
        if not sizes or len(sizes) < 2:
            raise ValueError(
                f"MLP: layer_sizes must list at least an input and an output size, "
                f"got {layer_sizes!r}")
        self.layer_sizes = [check_int("layer_sizes entry", s, 1, owner="MLP") for s in sizes]
        self.activation = check_choice("activation", activation, tuple(ACTIVATIONS), owner="MLP")
        self.loss = check_choice("loss", loss, tuple(LOSSES), owner="MLP")
        self.dtype = np.dtype(check_choice("dtype", str(np.dtype(dtype)) if _is_dtype(dtype)
                                           else dtype, ("float32", "float64"), owner="MLP"))
        self.seed = check_int("seed", seed, 0, owner="MLP")
        self.init = check_choice("init", init or ACTIVATIONS[activation].init, INITS, owner="MLP")
        n_out = self.layer_sizes[-1]
        if loss == "binary_crossentropy" and n_out != 1:
            raise ValueError(f"MLP: binary_crossentropy needs 1 output unit, got {n_out}")
        if loss == "softmax_crossentropy" and n_out < 2:
            raise ValueError(f"MLP: softmax_crossentropy needs >= 2 output units, got {n_out}")

        # offsets table: layout[l] = (W start, b start, n_in, n_out)
        rows, offset = [], 0
        for n_in, n_o in zip(self.layer_sizes[:-1], self.layer_sizes[1:]):
            rows.append((offset, offset + n_in * n_o, n_in, n_o))
            offset += n_in * n_o + n_o
        self.layout = np.array(rows, dtype=np.int64)
        self.params = np.zeros(offset, dtype=self.dtype)
        self.grads = np.zeros(offset, dtype=self.dtype)
        self.layers = [
            Layer(W=self.params[w0:b0].reshape(n_in, n_o), b=self.params[b0:b0 + n_o],
                  dW=self.grads[w0:b0].reshape(n_in, n_o), db=self.grads[b0:b0 + n_o])
            for w0, b0, n_in, n_o in rows
        ]
        rng = np.random.default_rng(self.seed)
        for layer in self.layers:
            layer.W[...] = _init_weights(rng, *layer.W.shape, self.init)
        # fixed names: bool mask over the flat params (True at biases), and one
        # (start, stop) block per variable in the order W1, b1, W2, b2, ...
        self.bias_mask = np.zeros(offset, dtype=bool)
        self.param_blocks = []
        for w0, b0, n_in, n_o in rows:
            self.bias_mask[b0:b0 + n_o] = True
            self.param_blocks += [(w0, b0), (b0, b0 + n_o)]
        self.bias_mask.flags.writeable = False
        self._act_code = ACTIVATIONS[self.activation].code
        self._loss_code = LOSSES[self.loss]
        self._work = {}                   # batch size -> workspace, allocated once

    # -- introspection ----------------------------------------------------------
    def __repr__(self):
        arch = " -> ".join(map(str, self.layer_sizes))
        return f"MLP({arch}, {self.activation}, {self.loss}, {self.dtype})"

    @property
    def n_params(self):
        return self.params.size

    @property
    def is_classifier(self):
        return self.loss in CLASSIFICATION_LOSSES

    @property
    def n_classes(self):
        """Number of classes (2 for binary_crossentropy), None for regression."""
        if self.loss == "binary_crossentropy":
            return 2
        return self.layer_sizes[-1] if self.loss == "softmax_crossentropy" else None

    def config(self):
        """The constructor arguments as a JSON-able dict (used by checkpoints)."""
        return {"layer_sizes": self.layer_sizes, "activation": self.activation,
                "loss": self.loss, "dtype": str(self.dtype), "seed": self.seed,
                "init": self.init}

    # -- buffers ----------------------------------------------------------------
    def _workspace(self, n):
        """Flat scratch space for batch size n: Xb, Yb, then Z, A, D of every layer."""
        work = self._work.get(n)
        if work is None:
            if len(self._work) >= 4:      # full batches, last partial batch, eval...
                self._work.pop(next(iter(self._work)))
            hidden = sum(self.layer_sizes[1:])
            size = n * (self.layer_sizes[0] + self._target_width() + 3 * hidden)
            work = self._work[n] = np.zeros(size, dtype=self.dtype)
        return work

    def _target_width(self):
        return self.layer_sizes[-1] if self.loss == "mse" else 1

    # -- input checks (once per call of the public methods) ---------------------
    def check_X(self, X, name="X"):
        """Return X as a C-contiguous 2-D array of the model dtype, or raise ValueError."""
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"MLP: {name} must be 2-D (samples, features), got shape {X.shape}")
        if X.shape[1] != self.layer_sizes[0]:
            raise ValueError(f"MLP: {name} must have {self.layer_sizes[0]} features "
                             f"(columns), got {X.shape[1]}")
        if X.shape[0] == 0:
            raise ValueError(f"MLP: {name} must hold at least one sample, got 0 rows")
        if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
            raise ValueError(f"MLP: {name} must be real numbers, got dtype {X.dtype}")
        X = np.ascontiguousarray(X, dtype=self.dtype)
        if not np.isfinite(X).all():
            raise ValueError(f"MLP: {name} must be finite, got NaN or inf")
        return X

    def check_y(self, y, n):
        """Return targets as a C-contiguous (n, k_y) array of the model dtype."""
        y = np.asarray(y)
        k = self.layer_sizes[-1]
        if self.loss == "mse":
            if y.ndim == 1 and k == 1:
                y = y[:, None]
            if y.shape != (n, k):
                raise ValueError(f"MLP: y must have shape ({n}, {k}) for mse"
                                 + (f" or ({n},)" if k == 1 else "") + f", got {y.shape}")
            if not np.issubdtype(y.dtype, np.number):
                raise ValueError(f"MLP: y must be numbers for mse, got dtype {y.dtype}")
            y = np.ascontiguousarray(y, dtype=self.dtype)
            if not np.isfinite(y).all():
                raise ValueError("MLP: y must be finite, got NaN or inf")
            return y
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.shape != (n,):
            raise ValueError(f"MLP: y must have shape ({n},) for {self.loss}, got {y.shape}")
        if not np.issubdtype(y.dtype, np.number) or np.issubdtype(y.dtype, np.complexfloating):
            raise ValueError(f"MLP: y must hold integer class labels, got dtype {y.dtype}")
        if self.loss == "softmax_crossentropy":
            if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
                raise ValueError("MLP: y must hold integer class labels for "
                                 "softmax_crossentropy, got non-integer values")
            if y.min() < 0 or y.max() >= k:
                raise ValueError(f"MLP: y labels must be in [0, {k - 1}], "
                                 f"got values from {y.min():g} to {y.max():g}")
        elif not np.all((y >= 0) & (y <= 1)):
            raise ValueError("MLP: y must be in [0, 1] for binary_crossentropy, "
                             f"got values from {np.nanmin(y):g} to {np.nanmax(y):g}")
        return np.ascontiguousarray(y[:, None], dtype=self.dtype)

    # -- the public computations ------------------------------------------------
    def loss_and_grad(self, X, y):
        """Mean loss over the batch; overwrites ``self.grads`` with its gradient."""
        X = self.check_X(X)
        Y = self.check_y(y, X.shape[0])
        return self._loss_and_grad(X, Y, np.arange(X.shape[0]))

    def _loss_and_grad(self, X, Y, idx):
        """Unchecked fast path for the trainer: X, Y already checked, rows idx."""
        return _loss_and_grad(self.params, self.grads, self.layout, self._act_code,
                              self._loss_code, X, Y, idx, self._workspace(idx.shape[0]))

    def forward(self, X, batch_size=4096):
        """Outputs of the last (linear) layer: logits or regression values, (n, n_out)."""
        X = self.check_X(X)
        return self._forward(X, batch_size)

    def _forward(self, X, batch_size=4096):
        out = np.empty((X.shape[0], self.layer_sizes[-1]), dtype=self.dtype)
        for s in range(0, X.shape[0], batch_size):
            Xb = X[s:s + batch_size]
            n = Xb.shape[0]
            work = self._workspace(n)
            start = n * (self.layer_sizes[0] + self._target_width())
            out[s:s + n] = _forward(self.params, self.layout, self._act_code, Xb, work, start)
        return out

    def loss_value(self, X, y):
        """Mean loss without touching ``grads`` (for validation sets)."""
        X = self.check_X(X)
        Y = self.check_y(y, X.shape[0])
        return self._loss_value(X, Y)

    def _loss_value(self, X, Y, batch_size=4096):
        total = 0.0
        Z = self._forward(X, batch_size)
        D = np.empty_like(Z)
        for s in range(0, X.shape[0], batch_size):
            Zb = Z[s:s + batch_size]
            total += _loss(self._loss_code, Zb, Y[s:s + batch_size], D[s:s + batch_size]) \
                * Zb.shape[0]
        return total / X.shape[0]

    def predict_proba(self, X):
        """Class probabilities, shape (n, n_classes), for the classification losses."""
        if not self.is_classifier:
            raise ValueError(f"MLP: predict_proba needs a classification loss, got {self.loss}")
        return probabilities(self.forward(X))

    def predict(self, X):
        """Class labels 0..k-1 for classification; values for mse ((n,) if one output)."""
        Z = self.forward(X)
        if self.loss == "softmax_crossentropy":
            return Z.argmax(axis=1)
        if self.loss == "binary_crossentropy":
            return (Z[:, 0] > 0).astype(np.int64)
        return Z[:, 0] if Z.shape[1] == 1 else Z


def probabilities(Z):
    """Class probabilities (float64) from logits: sigmoid of one column, else softmax."""
    Z = np.asarray(Z, dtype=np.float64)
    if Z.shape[1] == 1:
        p = 1.0 / (1.0 + np.exp(-Z[:, 0]))
        return np.column_stack([1.0 - p, p])
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def _is_dtype(dtype):
    try:
        np.dtype(dtype)
        return True
    except TypeError:
        return False
