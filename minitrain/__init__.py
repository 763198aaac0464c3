"""minitrain: a small, exact, fast CPU training framework.

A tiny MLP with hand-written backprop fills one flat gradient array, Numba kernels
update one flat parameter array in place, and schedule objects set the learning rate
(and momentum) for every step.

>>> import minitrain as mt                                      # doctest: +SKIP
>>> model = mt.MLP([4, 16, 3], activation="tanh", loss="softmax_crossentropy")
>>> opt = mt.optim.get("adam", lr=1e-2)
>>> loss = model.loss_and_grad(X, y); opt.step(model.params, model.grads)

Names are imported lazily (PEP 562) so that ``minitrain --help`` stays fast: NumPy
and Numba load only when a name that needs them is first used.
"""
import os
from importlib import import_module

# Numba's OpenMP threads (the parallel optimizer kernels) must sleep, not spin, between
# steps: spinning threads fight OpenBLAS's threads for the cores during the matrix
# products. Re-measured with the thread policy (minitrain.threads, issue 17), 2 threads,
# quiet 2-core machine, Adam, per step: 784-512-256-10 batch 32 1.05-1.07 ms PASSIVE vs
# 14.7-16.2 ms ACTIVE; batch 128 1.99-2.00 ms vs 13.5 ms. At one thread (the default for
# all but large steps) the OpenMP pool is not used, so PASSIVE costs nothing there.
# Set OMP_WAIT_POLICY yourself to override.
#: True when importing minitrain set OMP_WAIT_POLICY (benchmarks unset it for peers).
SET_OMP_WAIT_POLICY = "OMP_WAIT_POLICY" not in os.environ
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

# public name -> "module:attribute" (attribute None means the module itself)
_LAZY = {
    "MLP": "minitrain.nn:MLP",
    "gradcheck": "minitrain.lab.gradient_check:gradcheck",
    "optim": "minitrain.optim:",
    "schedules": "minitrain.schedules:",
    "kernels": "minitrain.kernels:",
    "lab": "minitrain.lab:",
    "train": "minitrain.train:",
    "runs": "minitrain.experiments.runs:",
    "data": "minitrain.data:",
    "fit": "minitrain.train:fit",
    "History": "minitrain.train:History",
    "EarlyStopping": "minitrain.train:EarlyStopping",
    "compare": "minitrain.experiments.compare:compare",
    "lr_find": "minitrain.experiments.lrfind:lr_find",
    "sweep": "minitrain.experiments.sweep:sweep",
    "paths": "minitrain.lab:paths",
    "explain": "minitrain.lab:explain",
    "explain_backprop": "minitrain.lab:explain_backprop",
    "MinitrainClassifier": "minitrain.estimators:MinitrainClassifier",
    "MinitrainRegressor": "minitrain.estimators:MinitrainRegressor",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    try:
        target = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'minitrain' has no attribute {name!r}") from None
    module_name, _, attr = target.partition(":")
    module = import_module(module_name)
    value = getattr(module, attr) if attr else module
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
