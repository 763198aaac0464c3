"""Old home of the optimizer kernels, kept so that ``import minitrain.kernels`` works.

Each kernel now sits at the top of its optimizer's file (``minitrain/optim/adam.py``
...); the parallel twins, the dtype entry points and :data:`PARALLEL_MIN_SIZE` live in
:mod:`minitrain.optim._compile` (set ``minitrain.optim._compile.PARALLEL_MIN_SIZE`` to
change the threshold).
"""
from minitrain.optim._compile import KERNELS, PARALLEL_MIN_SIZE, Kernel, parallel_twin

__all__ = ["KERNELS", "PARALLEL_MIN_SIZE", "Kernel", "parallel_twin"]
