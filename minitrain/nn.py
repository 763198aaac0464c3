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

    D_L     = dLoss/dZ_L                      the fused output delta, e.g. w (p - y)
    dW_l    = A_{l-1}^T D_l                   gradient of the weights
    db_l    = sum over the batch of D_l       gradient of the biases
    D_{l-1} = (D_l W_l^T) * f'(Z_{l-1})       delta handed to the layer below

The loss is a weighted mean over the batch, ``sum_i w_i loss_i`` with row weights
``w_i = 1/n`` (plain mean) or ``s_i / sum(s)`` for sample weights ``s`` (as
scikit-learn), so ``w`` multiplies each row of ``D_L``.

The whole step -- gather the minibatch, forward, loss, backward -- is one
Numba-compiled function, :func:`_loss_and_grad`, working in buffers that are
allocated once per batch size. NumPy's BLAS does the matrix products. A SciPy
sparse X (CSR) is never densified: the first layer multiplies its stored entries
(``Z_1 = X W_1`` and ``dW_1 = X^T D_1`` touch only the non-zeros).

Activations and losses are small scalar functions, each derivative next to its
forward, listed in the registries ``ACTIVATIONS`` and ``LOSSES``. The step functions
below read the activation (``F``, ``F_GRAD``) and the loss (``LOSS``) as module
globals; :func:`step_functions` compiles a copy of them for one activation and loss
(Numba freezes globals at compile time), so a run compiles only what it uses.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from minitrain._validation import check_choice, check_int

JIT = dict(cache=True, error_model="numpy")
# The scalar activations and the losses are inlined into their callers at Numba IR
# level: one compiled copy inside the step instead of a separate function each
# (measured -0.7 s cold start of `fit -d digits --epochs 1`, same bits).
INLINE = dict(JIT, inline="always")

# ---------------------------------------------------------------------------
# Activations: forward f(z) and derivative f'(z), side by side.
# ---------------------------------------------------------------------------
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
LEAKY_SLOPE = 0.01
INV_SQRT2 = 0.7071067811865476            # 1/sqrt(2)
INV_SQRT_2PI = 0.3989422804014327         # 1/sqrt(2*pi)


@njit(**INLINE)
def relu(z):
    return 0.0 if z < 0 else z            # written so that NaN passes through


@njit(**INLINE)
def relu_grad(z):
    return 1.0 if z > 0 else 0.0


@njit(**INLINE)
def leaky_relu(z):
    return LEAKY_SLOPE * z if z < 0 else z


@njit(**INLINE)
def leaky_relu_grad(z):
    return 1.0 if z > 0 else LEAKY_SLOPE


@njit(**INLINE)
def elu(z):                               # alpha = 1
    return math.expm1(z) if z < 0 else z


@njit(**INLINE)
def elu_grad(z):
    return math.exp(z) if z <= 0 else 1.0


@njit(**INLINE)
def selu(z):
    return SELU_SCALE * (SELU_ALPHA * math.expm1(z) if z < 0 else z)


@njit(**INLINE)
def selu_grad(z):
    return SELU_SCALE * SELU_ALPHA * math.exp(z) if z <= 0 else SELU_SCALE


@njit(**INLINE)
def tanh(z):
    return math.tanh(z)


@njit(**INLINE)
def tanh_grad(z):
    a = math.tanh(z)
    return 1.0 - a * a


@njit(**INLINE)
def sigmoid(z):
    # two branches keep exp() from overflowing for large |z|
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@njit(**INLINE)
def sigmoid_grad(z):
    a = sigmoid(z)
    return a * (1.0 - a)


@njit(**INLINE)
def gelu(z):                              # exact GELU: z * Phi(z)
    return 0.5 * z * (1.0 + math.erf(z * INV_SQRT2))


@njit(**INLINE)
def gelu_grad(z):                         # Phi(z) + z * phi(z)
    return 0.5 * (1.0 + math.erf(z * INV_SQRT2)) + z * math.exp(-0.5 * z * z) * INV_SQRT_2PI


@njit(**INLINE)
def identity(z):
    return z


@njit(**INLINE)
def identity_grad(z):
    return 1.0


@dataclass(frozen=True)
class Activation:
    """Registry entry: the scalar function, its derivative, default init, formula."""

    f: object
    grad: object
    init: str
    formula: str


ACTIVATIONS = {
    "relu": Activation(relu, relu_grad, "he", "max(0, z)"),
    "leaky_relu": Activation(leaky_relu, leaky_relu_grad, "he", "z if z > 0 else 0.01 z"),
    "elu": Activation(elu, elu_grad, "he", "z if z > 0 else exp(z) - 1"),
    "selu": Activation(selu, selu_grad, "lecun",
                       "scale * (z if z > 0 else alpha (exp(z) - 1))"),
    "tanh": Activation(tanh, tanh_grad, "glorot", "tanh(z)"),
    "sigmoid": Activation(sigmoid, sigmoid_grad, "glorot", "1 / (1 + exp(-z))"),
    "gelu": Activation(gelu, gelu_grad, "he",
                       "z Phi(z), Phi the standard normal CDF (exact, erf)"),
    "identity": Activation(identity, identity_grad, "glorot", "z"),
}

F, F_GRAD = relu, relu_grad        # the activation of a compiled copy (see step_functions)


def _activate(z, a):
    """a = F(z) elementwise over flat arrays (one tight loop LLVM vectorises)."""
    for i in range(z.size):
        a[i] = F(z[i])


def _activate_grad(z, d):
    """d *= F'(z) elementwise over flat arrays."""
    for i in range(z.size):
        d[i] *= F_GRAD(z[i])


# ---------------------------------------------------------------------------
# Losses: the weighted mean loss over the batch and the fused output delta
# D = dLoss/dZ_L. Each loss reads the logits Z (n, k), the targets Y (n, k_y) and
# the row weights w (n,), which sum to 1 (w_i = 1/n for a plain mean; scikit-learn's
# sample_weight s gives w_i = s_i / sum(s)), and writes D.
# ---------------------------------------------------------------------------
@njit(**INLINE)
def softmax_crossentropy(Z, Y, w, D):
    """loss = sum_i w_i [logsumexp(z_i) - z_i[y_i]];  D_i = w_i (softmax(z_i) - onehot(y_i))."""
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
        total += w[i] * (math.log(s) - (Z[i, label] - zmax))   # -log softmax[label]
        for j in range(k):
            D[i, j] = D[i, j] / s * w[i]                   # w_i softmax
        D[i, label] -= w[i]
    return total


@njit(**INLINE)
def binary_crossentropy(Z, Y, w, D):
    """One logit per label, k >= 1 labels (multilabel when k > 1), y in [0, 1].

    loss = sum_i w_i (1/k) sum_j [max(z,0) - z y + log(1 + exp(-|z|))]
    D_ij = w_i (sigmoid(z_ij) - y_ij) / k        (torch BCEWithLogitsLoss, mean over k)
    """
    n, k = Z.shape
    total = 0.0
    for i in range(n):
        row = 0.0
        for j in range(k):
            z = Z[i, j]
            y = Y[i, j]
            row += max(z, 0.0) - z * y + math.log1p(math.exp(-abs(z)))
            D[i, j] = (sigmoid(z) - y) * w[i] / k
        total += w[i] * row / k
    return total


@njit(**INLINE)
def mse(Z, Y, w, D):
    """loss = sum_i w_i (1/k) sum_j (z_ij - y_ij)^2;  D_ij = 2 w_i (z_ij - y_ij) / k."""
    n, k = Z.shape
    total = 0.0
    for i in range(n):
        row = 0.0
        for j in range(k):
            r = Z[i, j] - Y[i, j]
            row += r * r
            D[i, j] = 2.0 * r * w[i] / k
        total += w[i] * row / k
    return total


LOSSES = {"softmax_crossentropy": softmax_crossentropy,
          "binary_crossentropy": binary_crossentropy, "mse": mse}

LOSS = softmax_crossentropy        # the loss of a compiled copy (see step_functions)


def _weighted_loss(Z, Y, w, D):
    """LOSS(Z, Y, w, D): the weighted mean loss; writes D = dLoss/dZ."""
    return LOSS(Z, Y, w, D)


# ---------------------------------------------------------------------------
# The compiled step. `layout[l] = (W start, b start, n_in, n_out, units before l)`.
# The buffers of one batch size n live in one flat array `work` (one argument to
# pass, cheap to call); :func:`_views` names layer l's parts: Z_l, A_l, D_l.
# The input X is dense (rows gathered into Xb), or sparse CSR given as
# csr = (data, indices, indptr); the first layer then multiplies the stored
# entries only, and the dense X passed is a (0, n_in) placeholder.
# Layer 0 is named np.int64(0), not 0: a literal argument makes Numba compile a
# second copy of _weights and _views for the constant (measured -0.45 s cold start).
# ---------------------------------------------------------------------------
@njit(**JIT)
def _weights(params, layout, l):
    """Views W_l (n_in, n_out) and b_l into the flat array (params or grads)."""
    w0, b0, n_in, n_out = layout[l, 0], layout[l, 1], layout[l, 2], layout[l, 3]
    return params[w0: w0 + n_in * n_out].reshape((n_in, n_out)), params[b0: b0 + n_out]


@njit(**JIT)
def _views(work, layout, n, l):
    """Layer l's buffers Z_l, A_l, D_l, each (n, n_out of layer l), as views into `work`.

    `work` holds Z of every layer, then A of every layer, then D of every layer;
    ``layout[l, 4]`` counts the units of the layers before l (where l's columns start).
    """
    size = n * (layout[-1, 4] + layout[-1, 3])           # length of each of Z, A, D
    o, k, shape = n * layout[l, 4], n * layout[l, 3], (n, layout[l, 3])
    return (work[o: o + k].reshape(shape), work[size + o: size + o + k].reshape(shape),
            work[2 * size + o: 2 * size + o + k].reshape(shape))


@njit(**JIT)
def _first_layer(params, layout, X, csr, idx, Xb, Z0):
    """Z_1 = X[idx] W_1 (without the bias): dense rows gathered into Xb, or CSR rows."""
    W, _ = _weights(params, layout, np.int64(0))
    data, indices, indptr = csr
    if indptr.size == 0:
        for i in range(idx.shape[0]):                    # gather the minibatch rows
            r = idx[i]
            for j in range(X.shape[1]):                  # (element loop: no slice overhead)
                Xb[i, j] = X[r, j]
        np.dot(Xb, W, Z0)
        return
    Z0[:, :] = 0.0
    for i in range(idx.shape[0]):
        r = idx[i]
        for p in range(indptr[r], indptr[r + 1]):
            x = data[p]
            Wrow = W[indices[p]]
            for j in range(Z0.shape[1]):
                Z0[i, j] += x * Wrow[j]


@njit(**JIT)
def _first_layer_grad(grads, layout, csr, idx, Xb, D0):
    """dW_1 = X[idx]^T D_1: dense with BLAS, or one scatter per stored CSR entry."""
    dW, _ = _weights(grads, layout, np.int64(0))
    data, indices, indptr = csr
    if indptr.size == 0:
        np.dot(Xb.T, D0, dW)
        return
    dW[:, :] = 0.0
    for i in range(idx.shape[0]):
        r = idx[i]
        for p in range(indptr[r], indptr[r + 1]):
            x = data[p]
            dWrow = dW[indices[p]]
            for j in range(D0.shape[1]):
                dWrow[j] += x * D0[i, j]


def _forward(params, layout, work, n):
    """Forward pass from Z_1 = X W_1 (already in place). Returns the logits Z_L."""
    last = layout.shape[0] - 1
    A_prev = work[:0].reshape((0, 0))                    # set before use (l > 0)
    for l in range(last + 1):
        W, b = _weights(params, layout, l)
        Z_l, A_l, _ = _views(work, layout, n, l)
        if l > 0:
            np.dot(A_prev, W, Z_l)                       # Z_l = A_{l-1} W_l
        for i in range(n):
            for j in range(Z_l.shape[1]):
                Z_l[i, j] += b[j]                        #      + b_l
        if l < last:                                     # A_l = f(Z_l)
            _activate(Z_l.reshape(Z_l.size), A_l.reshape(Z_l.size))
        A_prev = A_l
    return Z_l


def _loss_and_grad(params, grads, layout, X, csr, Y, sw, idx, Xb, Yb, w, work):
    """One training step's forward, loss and backward; returns the weighted mean loss.

    `sw` holds one weight per row of X (empty: every row weighs 1). Overwrites
    `grads`. Equations: see the module docstring.
    """
    n = idx.shape[0]
    for i in range(n):                                   # minibatch targets
        for j in range(Y.shape[1]):
            Yb[i, j] = Y[idx[i], j]
    if sw.size == 0:                                     # row weights, summing to 1
        w[:] = 1.0 / n
    else:
        total = 0.0
        for i in range(n):
            w[i] = sw[idx[i]]
            total += w[i]
        for i in range(n):
            w[i] /= total
    last = layout.shape[0] - 1
    _first_layer(params, layout, X, csr, idx, Xb, _views(work, layout, n, np.int64(0))[0])
    Z_L = _forward(params, layout, work, n)
    D_l = _views(work, layout, n, last)[2]
    value = _weighted_loss(Z_L, Yb, w, D_l)             # D_L = dLoss/dZ_L
    for l in range(last, -1, -1):
        dW, db = _weights(grads, layout, l)
        if l > 0:
            Z_prev, A_prev, D_prev = _views(work, layout, n, l - 1)
            np.dot(A_prev.T, D_l, dW)                    # dW_l = A_{l-1}^T D_l
        else:
            _first_layer_grad(grads, layout, csr, idx, Xb, D_l)
        db[:] = 0.0
        for i in range(n):
            for j in range(D_l.shape[1]):
                db[j] += D_l[i, j]                       # db_l = sum_i D_l
        if l > 0:
            W, _ = _weights(params, layout, l)
            np.dot(D_l, W.T, D_prev)                     # D_{l-1} = D_l W_l^T
            _activate_grad(Z_prev.reshape(Z_prev.size),        # * f'(Z_{l-1})
                           D_prev.reshape(D_prev.size))
            D_l = D_prev
    return value


def _predict_batch(params, layout, X, csr, idx, Xb, work):
    """Logits Z_L of the rows idx of X (forward only)."""
    n = idx.shape[0]
    _first_layer(params, layout, X, csr, idx, Xb, _views(work, layout, n, np.int64(0))[0])
    return _forward(params, layout, work, n)


# ---------------------------------------------------------------------------
# One compiled copy of the step functions per activation and loss
# ---------------------------------------------------------------------------
class StepFunctions:
    """The functions above compiled for one activation and one loss.

    Each is a copy of a template with the globals ``F``/``F_GRAD``/``LOSS`` (and the
    functions that use them) replaced, under a name of its own (``_forward__relu``,
    ``_loss_and_grad__relu__mse``, ...): made once per process, cached on disk by Numba.
    Attributes: ``loss_and_grad``, ``predict_batch``, ``weighted_loss``.
    """

    def __init__(self, activation, loss):
        f = ACTIVATIONS[activation]
        self.name = f"{activation}__{loss}"
        self.activate_grad = _copy(_activate_grad, f"_activate_grad__{activation}",
                                   F_GRAD=f.grad)
        self.forward = _copy(_forward, f"_forward__{activation}", _activate=_copy(
            _activate, f"_activate__{activation}", F=f.f))
        self.weighted_loss = _copy(_weighted_loss, f"_weighted_loss__{loss}", LOSS=LOSSES[loss])
        self.predict_batch = _copy(_predict_batch, f"_predict_batch__{activation}",
                                   _forward=self.forward)
        self.loss_and_grad = self._step()

    def _step(self, signature=None, suffix=""):
        return _copy(_loss_and_grad, f"_loss_and_grad__{self.name}{suffix}", signature,
                     _forward=self.forward, _activate_grad=self.activate_grad,
                     _weighted_loss=self.weighted_loss)

    def pointer(self, dtype):
        """``loss_and_grad`` for arrays of ``dtype`` as a ``@cfunc`` (a function pointer)
        for the compiled minibatch loop (:mod:`minitrain._chunks`); compiles it (or loads
        it from Numba's cache)."""
        from minitrain._chunks import step_signature
        return self._step(step_signature(dtype), f"__{np.dtype(dtype)}")

    def pointer_source(self, dtype):
        """The uncompiled :meth:`pointer` (to ask whether Numba has it cached)."""
        from minitrain._jit import source_copy
        return source_copy(_loss_and_grad, f"_loss_and_grad__{self.name}__{np.dtype(dtype)}")


def _copy(func, name, signature=None, **constants):
    from minitrain._jit import specialise
    return specialise(func, name, JIT, signature, **constants)


def step_functions(activation, loss):
    """The :class:`StepFunctions` of ``activation`` and ``loss`` (registry names)."""
    fns = _STEP_FUNCTIONS.get((activation, loss))
    if fns is None:
        fns = _STEP_FUNCTIONS[(activation, loss)] = StepFunctions(activation, loss)
    return fns


_STEP_FUNCTIONS = {}


# ---------------------------------------------------------------------------
# Initialisation
# ---------------------------------------------------------------------------
def _init_bias(rng, n_in, n_out, scheme):
    """U(+-1/sqrt(n_in)) as torch nn.Linear ("uniform"), or zeros ("zeros")."""
    if scheme == "zeros":
        return np.zeros(n_out)
    bound = 1.0 / math.sqrt(n_in)
    return rng.uniform(-bound, bound, size=n_out)


def _init_weights(rng, n_in, n_out, scheme):
    """He: N(0, 2/n_in); LeCun: N(0, 1/n_in); Glorot: U(+-sqrt(6/(n_in+n_out)))."""
    if scheme == "he":
        return rng.normal(0.0, math.sqrt(2.0 / n_in), size=(n_in, n_out))
    if scheme == "lecun":
        return rng.normal(0.0, math.sqrt(1.0 / n_in), size=(n_in, n_out))
    limit = math.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, size=(n_in, n_out))


INITS = ("he", "glorot", "lecun")
BIAS_INITS = ("uniform", "zeros")
CLASSIFICATION_LOSSES = ("softmax_crossentropy", "binary_crossentropy")


@dataclass
class _Buffers:
    """Scratch arrays of one batch size; `work` holds Z, A, D (see _layer_views)."""

    Xb: np.ndarray
    Yb: np.ndarray
    w: np.ndarray
    work: np.ndarray


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
        selu).
    bias_init : {"uniform", "zeros"}, default="uniform"
        ``uniform``: U(-1/sqrt(n_in), 1/sqrt(n_in)) as torch ``nn.Linear`` (drawn
        after all the weights, so the weights of a seed do not depend on it).
        Random bias starts spread the relu kinks over the input space: with zero
        biases every first-layer kink passes through the origin, and small nets
        on 2-D data (spirals) stall near chance.

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
                 dtype="float32", seed=0, init=None, bias_init="uniform"):
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
        self.bias_init = check_choice("bias_init", bias_init, BIAS_INITS, owner="MLP")
        n_out = self.layer_sizes[-1]
        if loss == "softmax_crossentropy" and n_out < 2:
            raise ValueError(f"MLP: softmax_crossentropy needs >= 2 output units, got {n_out}")

        # offsets table: layout[l] = (W start, b start, n_in, n_out, units before l)
        rows, offset = [], 0
        for n_in, n_o in zip(self.layer_sizes[:-1], self.layer_sizes[1:]):
            rows.append((offset, offset + n_in * n_o, n_in, n_o))
            offset += n_in * n_o + n_o
        self.layout = np.array([r + (sum(self.layer_sizes[1:l + 1]),)
                                for l, r in enumerate(rows)], dtype=np.int64)
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
        for layer in self.layers:
            layer.b[...] = _init_bias(rng, *layer.W.shape, self.bias_init)
        # fixed names: bool mask over the flat params (True at biases), and one
        # (start, stop) block per variable in the order W1, b1, W2, b2, ...
        self.bias_mask = np.zeros(offset, dtype=bool)
        self.param_blocks = []
        for w0, b0, n_in, n_o in rows:
            self.bias_mask[b0:b0 + n_o] = True
            self.param_blocks += [(w0, b0), (b0, b0 + n_o)]
        self.bias_mask.flags.writeable = False
        self._fns = step_functions(self.activation, self.loss)
        self._work = {}                   # (batch size, sparse) -> buffers, allocated once

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
                "init": self.init, "bias_init": self.bias_init}

    # -- buffers ----------------------------------------------------------------
    def _workspace(self, n, sparse=False):
        """Buffers for batch size n: Xb (dense input rows), Yb, w, and Z, A, D of all layers."""
        work = self._work.get((n, sparse))
        if work is None:
            if len(self._work) >= 4:      # full batches, last partial batch, eval...
                self._work.pop(next(iter(self._work)))
            new = lambda *shape: np.zeros(shape, dtype=self.dtype)   # noqa: E731
            work = self._work[(n, sparse)] = _Buffers(
                Xb=new(0 if sparse else n, self.layer_sizes[0]),
                Yb=new(n, self._target_width()), w=new(n),
                work=new(3 * n * sum(self.layer_sizes[1:])))
        return work

    def _target_width(self):
        return 1 if self.loss == "softmax_crossentropy" else self.layer_sizes[-1]

    # -- input checks (once per call of the public methods) ---------------------
    def check_X(self, X, name="X"):
        """Return X as a C-contiguous 2-D array (or CSR matrix) of the model dtype.

        SciPy sparse input (CSR, CSC, ...) becomes CSR, never a dense array.
        """
        if _is_sparse(X):
            return self._check_sparse_X(X, name)
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

    def _check_sparse_X(self, X, name):
        import scipy.sparse as sp
        X = sp.csr_matrix(X) if X.format != "csr" else X
        if X.shape[1] != self.layer_sizes[0]:
            raise ValueError(f"MLP: {name} must have {self.layer_sizes[0]} features "
                             f"(columns), got {X.shape[1]}")
        if X.shape[0] == 0:
            raise ValueError(f"MLP: {name} must hold at least one sample, got 0 rows")
        if X.dtype != self.dtype:
            X = X.astype(self.dtype)
        if X.indices.dtype != np.int32 or X.indptr.dtype != np.int32:   # the kernels' type
            X = sp.csr_matrix((X.data, X.indices.astype(np.int32), X.indptr.astype(np.int32)),
                              shape=X.shape)
        if not np.isfinite(X.data).all():
            raise ValueError(f"MLP: {name} must be finite, got NaN or inf")
        return X

    def check_sample_weight(self, sample_weight, n):
        """Return sample weights as a (n,) array of the model dtype (empty for None)."""
        if sample_weight is None:
            return np.zeros(0, dtype=self.dtype)
        sw = np.asarray(sample_weight, dtype=np.float64)
        if sw.shape != (n,):
            raise ValueError(f"MLP: sample_weight must have shape ({n},), got {sw.shape}")
        if not np.isfinite(sw).all() or (sw < 0).any() or sw.sum() <= 0:
            raise ValueError("MLP: sample_weight must be finite, >= 0 and not all 0")
        return np.ascontiguousarray(sw, dtype=self.dtype)

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
        if self.loss == "binary_crossentropy" and k > 1:
            if y.shape != (n, k):
                raise ValueError(f"MLP: y must have shape ({n}, {k}) for binary_crossentropy "
                                 f"with {k} outputs (an indicator matrix), got {y.shape}")
            if not np.issubdtype(y.dtype, np.number) or not np.all((y >= 0) & (y <= 1)):
                raise ValueError("MLP: y must be in [0, 1] for binary_crossentropy")
            return np.ascontiguousarray(y, dtype=self.dtype)
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
    def loss_and_grad(self, X, y, sample_weight=None):
        """Mean loss over the batch; overwrites ``self.grads`` with its gradient.

        With ``sample_weight`` s the mean is weighted: sum_i s_i loss_i / sum_i s_i
        (as scikit-learn). X may be a SciPy sparse matrix.
        """
        X = self.check_X(X)
        Y = self.check_y(y, X.shape[0])
        sw = self.check_sample_weight(sample_weight, X.shape[0])
        return self._loss_and_grad(X, Y, np.arange(X.shape[0]), sw)

    def _loss_and_grad(self, X, Y, idx, sample_weight=None):
        """Unchecked fast path for the trainer: X, Y (and weights) already checked, rows idx."""
        sw = _NO_WEIGHTS[self.dtype] if sample_weight is None else sample_weight
        X, csr = self._split_input(X)
        b = self._workspace(idx.shape[0], sparse=bool(csr[2].size))
        return self._fns.loss_and_grad(self.params, self.grads, self.layout, X, csr, Y, sw,
                                       idx, b.Xb, b.Yb, b.w, b.work)

    def _split_input(self, X):
        """(dense X or placeholder, (data, indices, indptr) or empty arrays) for the kernel."""
        if _is_sparse(X):
            return _placeholder(self.dtype, X.shape[1]), (X.data, X.indices, X.indptr)
        return X, _NO_CSR[self.dtype]

    def forward(self, X, batch_size=4096):
        """Outputs of the last (linear) layer: logits or regression values, (n, n_out)."""
        X = self.check_X(X)
        return self._forward(X, batch_size)

    def _forward(self, X, batch_size=4096):
        out = np.empty((X.shape[0], self.layer_sizes[-1]), dtype=self.dtype)
        Xd, csr = read_only(*self._split_input(X))      # (the step's types: one compile)
        for s in range(0, X.shape[0], batch_size):
            idx = np.arange(s, min(s + batch_size, X.shape[0]))
            b = self._workspace(idx.shape[0], sparse=bool(csr[2].size))
            out[s:s + idx.shape[0]] = self._fns.predict_batch(
                self.params, self.layout, Xd, csr, idx, b.Xb, b.work)
        return out

    def loss_value(self, X, y, sample_weight=None):
        """Mean loss without touching ``grads`` (for validation sets)."""
        X = self.check_X(X)
        Y = self.check_y(y, X.shape[0])
        sw = self.check_sample_weight(sample_weight, X.shape[0])
        return self._loss_value(X, Y, sample_weight=sw if sw.size else None)

    def _loss_value(self, X, Y, batch_size=4096, sample_weight=None):
        Z = self._forward(X, batch_size)
        return self._mean_loss(Z, Y, sample_weight)

    def _mean_loss(self, Z, Y, sample_weight=None):
        """The loss of logits Z against targets Y: a plain or sample-weighted mean."""
        if sample_weight is None:
            w = np.full(Z.shape[0], 1.0 / Z.shape[0], dtype=self.dtype)
        else:
            w = (sample_weight / sample_weight.sum(dtype=np.float64)).astype(self.dtype)
        return self._fns.weighted_loss(Z, Y, w, np.empty_like(Z))

    def predict_proba(self, X):
        """Class probabilities, shape (n, n_classes), for the classification losses.

        binary_crossentropy with k > 1 outputs (multilabel): one sigmoid per label,
        shape (n, k).
        """
        if not self.is_classifier:
            raise ValueError(f"MLP: predict_proba needs a classification loss, got {self.loss}")
        Z = self.forward(X)
        if self.loss == "binary_crossentropy" and Z.shape[1] > 1:
            return 1.0 / (1.0 + np.exp(-Z.astype(np.float64)))
        return probabilities(Z)

    def predict(self, X):
        """Class labels 0..k-1 (indicator rows when multilabel); values for mse."""
        Z = self.forward(X)
        if self.loss == "softmax_crossentropy":
            return Z.argmax(axis=1)
        if self.loss == "binary_crossentropy":
            return (Z > 0).astype(np.int64) if Z.shape[1] > 1 else (Z[:, 0] > 0).astype(np.int64)
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


def _is_sparse(X):
    return hasattr(X, "tocsr") and hasattr(X, "nnz")


def read_only(X, csr):
    """Read-only views of the inputs X and csr (what the compiled step is typed for)."""
    views = []
    for a in (X, *csr):
        v = a.view()
        v.flags.writeable = False
        views.append(v)
    return views[0], tuple(views[1:])


def _placeholder(dtype, n_in):
    return np.zeros((0, n_in), dtype=dtype)


_NO_WEIGHTS = {np.dtype(t): np.zeros(0, dtype=t) for t in ("float32", "float64")}
_NO_CSR = {np.dtype(t): (np.zeros(0, dtype=t), np.zeros(0, dtype=np.int32),
                         np.zeros(0, dtype=np.int32)) for t in ("float32", "float64")}
