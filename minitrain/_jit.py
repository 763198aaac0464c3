"""Compiling a function again with other globals -- skip on first read.

Numba freezes a function's globals when it compiles it, and it cannot cache a
function that takes another compiled function as an argument. :func:`specialise`
uses the first fact around the second: it compiles a function's source again, under a
new name, with some globals replaced -- ``_forward`` with one activation, the minibatch
loop with one optimizer kernel. Each copy has its own name, so Numba's on-disk cache
keeps copies apart, and a run compiles only the copies it uses.

The name must say everything the replaced globals change (the cache does not look at
them): never make two copies under one name with different globals.
"""
import types

from numba import cfunc, njit

#: the copies made so far, by name (one dispatcher per name and process)
COPIES = {}


def specialise(func, name, options, signature=None, **constants):
    """Compile ``func``'s Python source again as ``name``, with the module globals
    ``constants`` replaced; ``options`` are Numba's (``cache=True``, ...).

    Returns an ``@njit`` dispatcher, or with ``signature`` a ``@cfunc`` of that
    signature: a plain function pointer that a compiled caller can take as an argument
    (typed by its signature, so the caller stays cacheable) and call without linking
    the callee's code into its own. Under ``NUMBA_DISABLE_JIT=1`` the copy is a plain
    Python function.
    """
    copy = COPIES.get(name)
    if copy is None:
        source = source_copy(func, name, **constants)
        copy = COPIES[name] = (cfunc(signature, **options) if signature is not None
                               else njit(**options))(source)
    return copy


def source_copy(func, name, **constants):
    """The plain Python function :func:`specialise` compiles (nothing compiled): for
    :func:`minitrain.threads.kernels_cached`, which finds a copy's cache by its name."""
    f = getattr(func, "py_func", func)
    scope = dict(f.__globals__, **constants) if constants else f.__globals__
    source = types.FunctionType(f.__code__, scope, name, f.__defaults__, f.__closure__)
    source.__qualname__ = name
    source.__doc__ = f.__doc__
    return source
