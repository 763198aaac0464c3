"""Speed tricks — skip on first read.

What the optimizer files need from Numba beyond ``@njit``:

- :class:`Kernel` pairs a kernel with its *parallel twin*, compiled from the same Python
  source with ``parallel=True`` (its ``prange`` then spreads the independent elements
  over threads, so both give bit-identical results); the optimizer picks the twin above
  :data:`PARALLEL_MIN_SIZE` elements.
- :meth:`Kernel.pointer` compiles it as a ``@cfunc`` for the compiled minibatch loop
  (which calls it through the pointer; see :mod:`minitrain._jit`).
- :meth:`Kernel.compiled` returns the entry point of the one specialisation for a dtype,
  skipping Numba's per-call type dispatch (about a third of a small step's time);
  Python floats passed as scalars are converted to the dtype on entry, exactly as
  ``dtype.type(x)`` would. The kernels contain no float literals, so float32 arithmetic
  stays float32.
- :func:`sum_of_squares`: a serial, ordered reduction (float64 accumulator) for the
  gradient norms of clipping, so results do not depend on the thread count;
  :func:`scale_where` and :func:`add_decay_where`: the masked weight decay in one pass.

Kernel conventions: arrays first, then scalars, then boolean flags; an unused buffer is
passed as an empty array; ``@njit(cache=True, error_model="numpy")`` (the numpy error
model lets LLVM vectorize the loops); no fastmath, so NaN and inf propagate.
"""
import numpy as np
from numba import config, from_dtype, njit, types
from numba.np.unsafe.ndarray import to_fixed_tuple

from minitrain._jit import specialise

#: Arrays with at least this many elements use the parallel twins. Measured on a
#: 2-core machine with OpenMP threads that sleep when idle (OMP_WAIT_POLICY=PASSIVE, set
#: in minitrain/__init__.py; spinning threads made training slower, see threads.py),
#: float32, us per step, serial / parallel:
#:
#:   N      sgd       adagrad   adam      nadam     lion
#:   2e5    26/83     72/122    108/144   139/168   58/110
#:   5e5    140/146   199/211   282/263   351/304   196/190
#:   1e6    289/251   420/316   583/419   756/510   413/313
#:   1e7    4297/2128 7530/3513 10609/5603 11579/6022 7573/3646
#:
#: Waking the sleeping threads costs ~70 us per call, so the twins pay from ~5e5 on.
PARALLEL_MIN_SIZE = 500_000


def uses_parallel(n):
    """True when ``n`` parameters are updated by the parallel twins."""
    return n >= PARALLEL_MIN_SIZE


#: every Kernel made, by the name of its serial function (tests check the signatures)
KERNELS = {}


def parallel_twin(kernel):
    """Compile ``kernel``'s Python source again with ``parallel=True``."""
    if config.DISABLE_JIT:                  # NUMBA_DISABLE_JIT=1: plain Python, for pdb
        return kernel
    f = kernel.py_func
    return specialise(f, f.__name__ + "_parallel",
                      dict(parallel=True, cache=True, error_model="numpy"))


class Kernel:
    """A kernel, its parallel twin, and how many array and flag arguments it takes."""

    def __init__(self, serial, arrays, flags=0):
        self.serial, self.parallel = serial, parallel_twin(serial)
        self.arrays, self.flags = arrays, flags
        code = getattr(serial, "py_func", serial).__code__
        self.scalars = code.co_argcount - arrays - flags
        assert arrays - 2 <= MAX_BUFFERS and flags <= MAX_FLAGS, serial
        self.__doc__ = serial.__doc__
        KERNELS[serial.__name__] = self

    def compiled(self, dtype, parallel=False):
        """The entry point of the specialisation for arrays of ``dtype``.

        Compiles it (or loads it from the cache) by a call on empty arrays with scalars
        of ``dtype``. The caller must pass 1-D C-contiguous arrays of ``dtype``
        (:meth:`minitrain.optim.Optimizer.step` checks them).
        """
        kernel = self.parallel if parallel else self.serial
        if config.DISABLE_JIT:
            return kernel
        dtype = np.dtype(dtype)
        empty = np.zeros(0, dtype)
        kernel(*[empty] * self.arrays, *[dtype.type(0)] * self.scalars, *[False] * self.flags)
        (sig,) = [s for s in kernel.signatures if s[0].dtype == from_dtype(dtype)]
        return kernel.overloads[sig].entry_point

    def pointer(self, dtype, parallel=False):
        """The kernel for arrays of ``dtype`` as a ``@cfunc`` (a function pointer) with
        the one signature every kernel shares there (:func:`call_kernel`), for the
        compiled minibatch loop (:mod:`minitrain._chunks`); cached like the kernel."""
        f = self.serial.py_func
        return specialise(call_kernel, f"{f.__name__}__{'parallel_' if parallel else ''}"
                          f"{np.dtype(dtype)}", dict(cache=True, error_model="numpy"),
                          signature=call_signature(dtype),
                          KERNEL=self.parallel if parallel else self.serial,
                          N_BUFFERS=self.arrays - 2, N_SCALARS=self.scalars, N_FLAGS=self.flags)

    def padded(self, buffers, flags, dtype):
        """A kernel's buffers and flags as :func:`call_kernel` takes them (padded)."""
        return ((*buffers, *[_EMPTY[np.dtype(dtype)]] * (MAX_BUFFERS - len(buffers))),
                (*flags, *[False] * (MAX_FLAGS - len(flags))))


#: at most this many state buffers and flags per kernel (the shared signature)
MAX_BUFFERS, MAX_FLAGS = 3, 2
_EMPTY = {np.dtype(t): np.zeros(0, t) for t in ("float32", "float64")}
KERNEL, N_BUFFERS, N_SCALARS, N_FLAGS = None, 0, 0, 0     # set per copy of call_kernel


def call_kernel(p, g, buffers, scalars, flags):
    """``KERNEL(p, g, *its buffers, *its scalars, *its flags)`` from the shared padded
    arguments: ``MAX_BUFFERS`` arrays, the scalars as an array, ``MAX_FLAGS`` flags."""
    KERNEL(p, g, *buffers[:N_BUFFERS], *to_fixed_tuple(scalars, N_SCALARS), *flags[:N_FLAGS])


def call_signature(dtype):
    """The Numba signature of :func:`call_kernel` for arrays of ``dtype``."""
    scalar = from_dtype(np.dtype(dtype))
    array = types.Array(scalar, 1, "C")
    return types.void(array, array, types.UniTuple(array, MAX_BUFFERS), array,
                      types.UniTuple(types.boolean, MAX_FLAGS))


@njit(cache=True, error_model="numpy")
def sum_of_squares(g, start, stop):
    """``sum(g[start:stop]**2)`` in float64, serially, in index order."""
    total = 0.0
    for i in range(start, stop):
        x = np.float64(g[i])
        total += x * x
    return total


@njit(cache=True, error_model="numpy")
def scale_where(p, keep, factor):
    """``p[i] *= factor`` where ``keep[i]`` (masked decoupled weight decay), one pass."""
    for i in range(p.shape[0]):
        if keep[i]:
            p[i] *= factor


@njit(cache=True, error_model="numpy")
def add_decay_where(out, g, p, keep, weight_decay):
    """``out = g + weight_decay * p`` where ``keep``, else ``g`` (masked L2), one pass;
    the same arithmetic as the kernels' ``g + weight_decay * p``."""
    for i in range(p.shape[0]):
        out[i] = g[i] + weight_decay * p[i] if keep[i] else g[i]
