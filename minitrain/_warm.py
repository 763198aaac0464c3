"""The first run compiles on two cores -- skip on first read.

With Numba's cache empty (the first run after installing or upgrading), compiling the
model's step takes about 3 s of one core. :func:`start` then launches a second Python
process that compiles, into the same on-disk cache and at the same time, what the run
needs besides (:func:`compile_for`): parts of the step the main process reaches last, the
optimizer kernel, the minibatch loop and the forward pass used for evaluation. The main
process finds them in the cache when it gets there, and compiles them itself when the
helper has not finished (nothing depends on the helper; it only saves time).

Only on the first run (the step not cached), and only with two or more cores.
"""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys


def start(trainer):
    """Start the helper for ``trainer``'s run when the step is not cached yet; returns
    the process (or None)."""
    from minitrain import threads
    from minitrain.optim._compile import uses_parallel
    model, opt = trainer.model, trainer.optimizer
    if (os.cpu_count() or 1) < 2 or threads.kernels_cached(
            model._fns.pointer_source(model.dtype)):
        return None
    spec = {"layers": len(model.layer_sizes), "outputs": min(model.layer_sizes[-1], 2),
            "activation": model.activation,
            "loss": model.loss, "dtype": str(model.dtype), "sparse": _sparse(trainer),
            "optimizer": [type(opt).__module__, type(opt).__name__],
            "convention": opt.convention,
            "hyperparameters": opt.hyperparameters(),
            "parallel": uses_parallel(model.n_params)}
    try:
        return subprocess.Popen([sys.executable, "-m", "minitrain._warm", json.dumps(spec)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    except OSError:
        return None


def _sparse(trainer):
    from minitrain.nn import _is_sparse
    return bool(_is_sparse(trainer.X))


def compile_for(spec):
    """Compile (into Numba's cache) what a run described by ``spec`` needs besides the
    step's first parts, with the argument types the run will use."""
    import numpy as np
    import scipy.sparse
    from numba import from_dtype, types

    from minitrain import nn
    from minitrain._chunks import Chunks, chunk_loop, step_signature
    from minitrain.train import Trainer

    dtype = np.dtype(spec["dtype"])
    f = from_dtype(dtype)
    m, v = types.Array(f, 2, "C"), types.Array(f, 1, "C")
    ro = [types.Array(t, 1, "C", readonly=True) for t in (f, types.int32, types.int32)]
    fns = nn.step_functions(spec["activation"], spec["loss"])
    # the step's last parts (the main process compiles it from the first layer on)
    fns.activate_grad.compile((v, v))
    fns.weighted_loss.compile((m, m, v, m))
    nn._first_layer_grad.compile((v, types.Array(types.int64, 2, "C"), types.Tuple(ro),
                                  types.Array(types.int64, 1, "C"), m, m))
    # a tiny model and optimizer of the run's kinds: the same argument types
    out = spec["outputs"]
    model = nn.MLP([3] * (spec["layers"] - 1) + [out], activation=spec["activation"],
                   loss=spec["loss"], dtype=dtype)
    X = np.zeros((4, 3), dtype)
    if spec["sparse"]:
        X = scipy.sparse.csr_matrix(X)
    y = np.zeros(4) if out == 1 or spec["loss"] == "softmax_crossentropy" else np.zeros((4, out))
    module, name = spec["optimizer"]
    opt = getattr(importlib.import_module(module), name)(convention=spec["convention"],
                                                         **spec["hyperparameters"])
    kernel = opt.kernel.pointer(dtype, spec["parallel"])          # the optimizer kernel
    chunks = Chunks.__new__(Chunks)                                 # (no step compiled)
    chunks.trainer = Trainer(model, opt, (X, y), epochs=1, batch_size=3, progress=False)
    chunks._arrays()
    _, buffers, scalars, flags = opt.plan_step(model.params, model.grads)
    buffers, flags = opt.kernel.padded(buffers, flags, dtype)
    plan = np.zeros((0, len(scalars)), dtype)
    step_type = types.FunctionType(step_signature(dtype))
    args = (model.params, model.grads, model.layout, chunks.X, chunks.csr,
            chunks.trainer.Y, nn._NO_WEIGHTS[dtype], np.arange(4), np.zeros(2, np.int64),
            chunks.full, chunks.last, buffers, plan, flags, np.zeros(1))
    from numba import typeof
    chunk_loop.compile((step_type, typeof(kernel), *map(typeof, args)))
    model._forward(model.check_X(X))                                # evaluation


if __name__ == "__main__":
    compile_for(json.loads(sys.argv[1]))
