"""The teaching lab: optimizers on 2-D functions, updates and backprop in numbers.

Every number comes from the real code that trains networks: the paths and the
explained updates call ``optimizer.step(params, grads)`` (the Numba kernels) on a
2- or 3-element array; the backprop walk-through checks its numbers against
``MLP.loss_and_grad``.

>>> import minitrain as mt
>>> result = mt.paths("bowl", ["sgd", "momentum"], steps=200, lr=0.02)
>>> result["sgd"].steps_to_min, result["momentum"].steps_to_min   # None: not reached
(None, 150)
>>> print(result)                # the table: steps to the minimum, final distance, value
... # doctest: +SKIP
>>> result.plot("paths.png")     # contours + paths, value against step  # doctest: +SKIP
>>> print(mt.explain("adam", lr=0.1))  # update rule, then 3 steps as numbers # doctest: +SKIP
>>> print(mt.explain_backprop([2, 3, 2]))   # one forward and backward pass # doctest: +SKIP

Read in this order (each file in one sitting):

============================  =====================================================
``functions.py``              the 2-D test functions, gradients next to values
``trajectories.py``           :func:`paths`: optimizers racing on one function
``plotting.py``               the pictures (every path visible)
``explanation.py``            :func:`explain`: one optimizer's update in numbers
``backprop.py``               :func:`explain_backprop`: the chain rule in numbers
``gradient_check.py``         :func:`gradcheck`: backprop against finite differences
============================  =====================================================
"""
from minitrain.lab.functions import Function, function, names
from minitrain.lab.trajectories import (Paths, Trajectory, default_optimizers, entries,
                                        paths, trajectory)
from minitrain.lab.explanation import Explanation, explain
from minitrain.lab.backprop import BackpropExplanation, explain_backprop
from minitrain.lab.gradient_check import GradcheckRow, format_table, gradcheck

#: The optimizers ``paths`` races when none are named, read from the registry
#: (:func:`default_optimizers`); kept under its old name.
DEFAULT_OPTIMIZERS = default_optimizers()

__all__ = ["Function", "function", "names", "Paths", "Trajectory", "default_optimizers",
           "entries", "paths", "trajectory", "Explanation", "explain",
           "BackpropExplanation", "explain_backprop", "GradcheckRow", "format_table",
           "gradcheck", "DEFAULT_OPTIMIZERS"]
