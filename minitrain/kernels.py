"""Numba kernels: one in-place update rule per function, over flat arrays.

Every kernel updates ``p`` (the flat parameters) and its state buffers in place from
``g`` (the flat gradient) and returns ``None``. The equations, symbols and defaults
live in the docstrings of the classes in :mod:`minitrain.optim`; each kernel is the
element-wise part of one of them.

Conventions (DESIGN §4):

- Arrays are 1-D, C-contiguous, all float32 or all float64. Arrays come first, then
  scalars, then boolean flags; an unused buffer is passed as an empty array.
- Scalars are in the array dtype: one compiled specialisation per dtype, whose entry
  point (see :func:`compiled`) converts the optimizer's Python floats on the way in. The
  step-dependent ones (bias corrections, step sizes) are computed by the optimizer in
  Python double precision, exactly as PyTorch computes them, and only then converted.
  The kernels contain no float literals, so float32 arithmetic stays float32 (a ``1.0``
  would promote it to float64).
- The two conventions of :mod:`minitrain.optim` (``"torch"`` and ``"keras"``) share
  each kernel: where they differ, the kernel takes both forms as arguments and the
  optimizer passes a neutral value (0 for an addend, 1 for a factor, which is exact)
  for the one its convention does not use, e.g. ``eps_in``/``eps_out`` for eps inside
  or outside a square root, ``lr_in``/``lr_out`` for the lr inside or outside a
  momentum buffer, ``weight_decay`` (L2) and ``decay_factor`` (decoupled). Torch
  results are bit-identical to kernels without these arguments; the loops keep no
  extra branches, so they still vectorize.
- ``@njit(cache=True, error_model="numpy")``: the numpy error model lets LLVM vectorize
  the loops. No fastmath: NaN and inf propagate so divergence stays visible.
- Each kernel has a ``*_parallel`` twin compiled from the same source with
  ``parallel=True``; ``prange`` then spreads the independent elements over threads, so
  both give bit-identical results. The optimizer picks the twin above
  :data:`PARALLEL_MIN_SIZE` elements.
"""
import types

import numpy as np
from numba import config, from_dtype, njit, prange

#: Arrays with at least this many elements use the ``*_parallel`` twins. Measured on a
#: 2-core machine with OpenMP threads that sleep when idle (OMP_WAIT_POLICY=PASSIVE, set
#: in minitrain/__init__.py): Adam at 2e5 took 99 us parallel vs 121-189 us serial, at
#: 5e4 68 us vs 26-46 us (waking the threads costs more than it saves below ~1e5).
PARALLEL_MIN_SIZE = 200_000

_JIT = dict(cache=True, error_model="numpy")


def _parallel_twin(kernel):
    """Compile ``kernel``'s Python source again with ``parallel=True``.

    The twin gets its own name so that Numba's on-disk cache keeps the two apart.
    """
    if config.DISABLE_JIT:                  # NUMBA_DISABLE_JIT=1: plain Python, for pdb
        return kernel
    f = kernel.py_func
    name = f.__name__ + "_parallel"
    twin = types.FunctionType(f.__code__, f.__globals__, name, f.__defaults__, f.__closure__)
    twin.__qualname__ = name
    twin.__doc__ = f"Parallel twin of :func:`{f.__name__}` (same source, prange over threads)."
    return njit(parallel=True, **_JIT)(twin)


@njit(**_JIT)
def sgd_update(p, g, buf, lr_in, lr_out, momentum, weight_decay, decay_factor, nesterov,
               first_step):
    """SGD, with momentum and Nesterov through flags. Equations: see `minitrain.optim.SGD`.

    The two conventions through arguments (no extra branches in the loop): the learning
    rate sits outside the buffer (torch: ``lr_in = 1``, ``lr_out = lr``) or inside it
    (keras: ``lr_in = lr``, ``lr_out = 1``); weight decay is L2 (``weight_decay``) or
    decoupled (``decay_factor = 1 - lr*wd``); the unused one is 0 or 1, which is exact.
    """
    for i in prange(p.shape[0]):
        p[i] *= decay_factor                           # decoupled: p <- p (1 - lr wd)
        d = g[i] + weight_decay * p[i]                 # L2; exact g when weight_decay = 0
        if momentum != 0:
            if first_step:
                buf[i] = d                             # torch: the buffer starts as g
            else:
                buf[i] = buf[i] * momentum + lr_in * d
            if nesterov:
                d = lr_in * d + momentum * buf[i]
            else:
                d = buf[i]
            p[i] -= lr_out * d
        else:
            p[i] -= lr_in * lr_out * d


@njit(**_JIT)
def adagrad_update(p, g, s, lr, eps_in, eps_out, weight_decay, decay_factor):
    """AdaGrad. Equations: see `minitrain.optim.Adagrad`.

    eps inside the square root (keras: ``eps_in = eps``, ``eps_out = 0``) or outside it
    (torch: ``eps_in = 0``, ``eps_out = eps``); weight decay as in `sgd_update`.
    """
    for i in prange(p.shape[0]):
        p[i] *= decay_factor                           # decoupled: p <- p (1 - lr wd)
        d = g[i] + weight_decay * p[i]                 # L2; exact g when weight_decay = 0
        s[i] += d * d
        p[i] -= lr * d / (np.sqrt(s[i] + eps_in) + eps_out)


@njit(**_JIT)
def rmsprop_update(p, g, v, g_avg, buf, lr_in, lr_out, rho, one_minus_rho, eps_in, eps_out,
                   avg_keep, avg_sub, momentum, weight_decay, decay_factor, centered):
    """RMSprop, plain or centered, with optional momentum. Equations: see `minitrain.optim.RMSprop`.

    Conventions through arguments as in `sgd_update` (lr inside or outside the momentum
    buffer, decoupled or L2 weight decay) and `adagrad_update` (eps inside or outside
    the square root). The centered mean gradient is torch's lerp
    ``g_avg + (1-rho)*(g - g_avg)`` (``avg_keep = avg_sub = 1``) or Keras's
    ``rho*g_avg + (1-rho)*g`` (``avg_keep = rho``, ``avg_sub = 0``): the same value with
    Keras's rounding, which matters when ``v - g_avg**2`` cancels.
    """
    for i in prange(p.shape[0]):
        p[i] *= decay_factor                           # decoupled: p <- p (1 - lr wd)
        d = g[i] + weight_decay * p[i]                 # L2; exact g when weight_decay = 0
        v[i] = v[i] * rho + one_minus_rho * d * d
        if centered:
            g_avg[i] = g_avg[i] * avg_keep + one_minus_rho * (d - avg_sub * g_avg[i])
            denom = np.sqrt(v[i] + eps_in - g_avg[i] * g_avg[i]) + eps_out
        else:
            denom = np.sqrt(v[i] + eps_in) + eps_out
        if momentum > 0:
            buf[i] = buf[i] * momentum + lr_in * d / denom
            p[i] -= lr_out * buf[i]
        else:
            p[i] -= lr_in * lr_out * d / denom


@njit(**_JIT)
def adam_update(p, g, m, v, v_max, step_size, one_minus_beta1, beta2, one_minus_beta2,
                bias_correction2_sqrt, eps, weight_decay, decay_factor, amsgrad):
    """Adam, AMSGrad and AdamW. Equations: see `minitrain.optim.Adam`.

    Weight decay through arguments, not branches (more branches in this loop stopped
    LLVM from vectorizing it): L2 ``weight_decay`` is 0 for decoupled decay, and
    ``decay_factor`` (``1 - lr*wd``) is 1 without it. The keras convention ("epsilon
    hat") needs no flag: it passes ``step_size = lr*sqrt(bc2)/bc1`` and
    ``bias_correction2_sqrt = 1``.
    """
    for i in prange(p.shape[0]):
        p[i] *= decay_factor                           # decoupled: p <- p (1 - lr wd)
        d = g[i] + weight_decay * p[i]                 # coupled:   g <- g + wd p
        m[i] += one_minus_beta1 * (d - m[i])
        v[i] = v[i] * beta2 + one_minus_beta2 * d * d
        v_hat = v[i]
        if amsgrad:
            v_hat = v_max[i] if v_max[i] >= v_hat else v_hat   # max that propagates NaN
            v_max[i] = v_hat
        denom = np.sqrt(v_hat) / bias_correction2_sqrt + eps
        p[i] -= step_size * m[i] / denom


@njit(**_JIT)
def adamax_update(p, g, m, u, step_size, one_minus_beta1, beta2, eps_in, eps_out,
                  weight_decay, decay_factor):
    """AdaMax. Equations: see `minitrain.optim.Adamax`.

    eps inside the max (torch: ``eps_in = eps``, ``eps_out = 0``) or added to ``u`` in
    the denominator (keras: ``eps_in = 0``, ``eps_out = eps``); weight decay as in
    `sgd_update`.
    """
    for i in prange(p.shape[0]):
        p[i] *= decay_factor                           # decoupled: p <- p (1 - lr wd)
        d = g[i] + weight_decay * p[i]                 # L2; exact g when weight_decay = 0
        m[i] += one_minus_beta1 * (d - m[i])
        a = np.abs(d) + eps_in
        b = beta2 * u[i]
        u[i] = b if b >= a else a                      # max that propagates NaN
        p[i] -= step_size * m[i] / (u[i] + eps_out)


@njit(**_JIT)
def nadam_update(p, g, m, v, coef_g, coef_m, one_minus_beta1, beta2, one_minus_beta2,
                 bias_correction2, eps, weight_decay, decay_factor):
    """NAdam (coefficients from the mu schedule). Equations: see `minitrain.optim.Nadam`.

    Keras's Nadam is the same loop with other scalars (``momentum_decay = 1``).

    As in `adam_update`: ``weight_decay`` is 0 for decoupled decay, ``decay_factor`` 1
    without it.
    """
    for i in prange(p.shape[0]):
        p[i] *= decay_factor
        d = g[i] + weight_decay * p[i]
        m[i] += one_minus_beta1 * (d - m[i])
        v[i] = v[i] * beta2 + one_minus_beta2 * d * d
        denom = np.sqrt(v[i] / bias_correction2) + eps
        p[i] -= coef_g * d / denom
        p[i] -= coef_m * m[i] / denom


sgd_update_parallel = _parallel_twin(sgd_update)
adagrad_update_parallel = _parallel_twin(adagrad_update)
rmsprop_update_parallel = _parallel_twin(rmsprop_update)
adam_update_parallel = _parallel_twin(adam_update)
adamax_update_parallel = _parallel_twin(adamax_update)
nadam_update_parallel = _parallel_twin(nadam_update)

#: kernel name -> (number of leading array arguments, number of trailing flags)
_LAYOUT = {"sgd": (3, 2), "adagrad": (3, 0), "rmsprop": (5, 1), "adam": (5, 1),
           "adamax": (4, 0), "nadam": (4, 0)}


def compiled(name, dtype, parallel=False):
    """The compiled kernel ``name`` for arrays of ``dtype``, without Numba's call dispatch.

    Compiles (or loads from the cache) the one specialisation for ``dtype`` by a call on
    empty arrays with scalars of ``dtype``, and returns its entry point. Calling the entry
    point skips the per-call type dispatch (about a third of a small step's time); Python
    floats passed as scalars are converted to ``dtype`` on entry, exactly as
    ``dtype.type(x)`` would. The caller must pass 1-D C-contiguous arrays of ``dtype``
    (:meth:`minitrain.optim.Optimizer.step` checks them).
    """
    kernel = KERNELS[name][1 if parallel else 0]
    if config.DISABLE_JIT:
        return kernel
    dtype = np.dtype(dtype)
    n_arrays, n_flags = _LAYOUT[name]
    n_scalars = kernel.py_func.__code__.co_argcount - n_arrays - n_flags
    empty = np.zeros(0, dtype)
    kernel(*[empty] * n_arrays, *[dtype.type(0)] * n_scalars, *[False] * n_flags)
    (sig,) = [s for s in kernel.signatures if s[0].dtype == from_dtype(dtype)]
    return kernel.overloads[sig].entry_point


#: kernel name -> (serial, parallel)
KERNELS = {
    "sgd": (sgd_update, sgd_update_parallel),
    "adagrad": (adagrad_update, adagrad_update_parallel),
    "rmsprop": (rmsprop_update, rmsprop_update_parallel),
    "adam": (adam_update, adam_update_parallel),
    "adamax": (adamax_update, adamax_update_parallel),
    "nadam": (nadam_update, nadam_update_parallel),
}
