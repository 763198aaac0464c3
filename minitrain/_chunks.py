"""The minibatch loop in compiled code -- skip on first read.

:meth:`minitrain.train.Trainer.epoch` runs the same steps as :meth:`Trainer.step
<minitrain.train.Trainer.step>` would, but a *chunk* of them per call into Numba:

1. **Plan** (Python, per step): the schedule sets ``lr`` (and momentum), and the
   optimizer works out its step exactly as in :meth:`Optimizer.step
   <minitrain.optim.Optimizer.step>` -- with a recorder in place of the kernel
   (:meth:`Optimizer.plan_step <minitrain.optim.Optimizer.plan_step>`). Each step's
   scalar arguments become one row of ``plan`` (in the parameters' dtype, the same
   rounding as the kernel's entry point). Every formula stays where it is.
2. **Run** (compiled, :func:`train_chunk`): for each planned step, gather the minibatch,
   forward, loss, backward (``nn._loss_and_grad``) and the optimizer's kernel on that
   row. It stops early at a non-finite loss, before that step's update.

Same arithmetic in the same order, so the results are bit-identical to the Python loop
(``tests/test_chunks.py`` checks every optimizer, schedule and resume).

Numba cannot cache a function that takes another compiled function as an argument, so
:func:`chunk_loop` compiles :func:`train_chunk`'s source once per optimizer kernel, under
its own name (``train_chunk__adam_update``), with that kernel as a global: each copy is
cached on disk like any other kernel, and a run compiles only its own.
"""
from __future__ import annotations

import time

import numpy as np
from numba import config
from numba.np.unsafe.ndarray import to_fixed_tuple

from minitrain.nn import _NO_WEIGHTS, _loss_and_grad
from minitrain.optim._compile import specialise

KERNEL = None          # the optimizer kernel, set per copy (see chunk_loop)
N_SCALARS = 0          # how many scalar arguments it takes, set per copy


def train_chunk(params, grads, layout, act, loss, X, csr, Y, sw, perm, bounds,
                full, last, buffers, plan, flags, losses):
    """Run ``plan.shape[0]`` steps; step ``k`` trains on ``perm[bounds[k]:bounds[k+1]]``.

    ``full`` and ``last`` are the workspaces ``(Xb, Yb, w, work)`` for a full minibatch
    and for a smaller last one. ``losses[k]`` receives step ``k``'s loss. Returns the
    number of steps done: ``plan.shape[0]``, or the index of the first step whose loss
    is not finite (its update is not applied).
    """
    for k in range(plan.shape[0]):
        idx = perm[bounds[k]:bounds[k + 1]]
        Xb, Yb, w, work = full if idx.shape[0] == full[1].shape[0] else last
        value = _loss_and_grad(params, grads, layout, act, loss, X, csr, Y, sw, idx,
                               Xb, Yb, w, work)
        losses[k] = value
        if not np.isfinite(value):
            return k
        KERNEL(params, grads, *buffers, *to_fixed_tuple(plan[k], N_SCALARS), *flags)
    return plan.shape[0]


_LOOPS = {}


def chunk_loop(kernel, n_scalars):
    """The compiled :func:`train_chunk` for the optimizer kernel ``kernel`` (a Numba
    dispatcher taking ``n_scalars`` scalars); None under ``NUMBA_DISABLE_JIT``."""
    if config.DISABLE_JIT:
        return None
    loop = _LOOPS.get(kernel)
    if loop is None:
        name = f"train_chunk__{kernel.py_func.__name__}"
        loop = _LOOPS[kernel] = specialise(train_chunk, name, njit_options=dict(
            cache=True, error_model="numpy"), KERNEL=kernel, N_SCALARS=n_scalars)
    return loop


class Chunks:
    """Runs a :class:`~minitrain.train.Trainer`'s minibatches a chunk at a time.

    A chunk lasts about :attr:`SECONDS` (its length adapts to the measured step time),
    so Ctrl-C, the progress bar and the thread check are looked at that often. Use
    :meth:`for_trainer`, which returns None when the run needs the Python loop
    (``NUMBA_DISABLE_JIT``, or an optimizer step that needs the gradient's values).
    """

    SECONDS = 0.05
    MAX_STEPS = 4096

    def __init__(self, trainer):
        self.trainer = trainer
        self.size = 8                  # steps in the next chunk
        model = trainer.model
        bs = trainer.batch_size
        X, self.csr = model._split_input(trainer.X)
        self.X = X
        sparse = bool(self.csr[2].size)
        def workspace(n):
            b = model._workspace(n, sparse)
            return b.Xb, b.Yb, b.w, b.work
        self.full = workspace(min(bs, trainer.n))
        rest = trainer.n % bs
        self.last = workspace(rest) if rest else self.full
        self.losses = np.empty(self.MAX_STEPS)

    @classmethod
    def for_trainer(cls, trainer):
        if config.DISABLE_JIT or not trainer.optimizer.plannable:
            return None
        return cls(trainer)

    def run(self, perm):
        """Train the next chunk of minibatches of the epoch shuffled by ``perm``.
        Returns the learning rate of its last step; raises TrainingDiverged."""
        from minitrain.train import TrainingDiverged
        tr = self.trainer
        st, opt, model = tr.state, tr.optimizer, tr.model
        b0, first = st["batch"], st["step"]
        b1 = min(tr.n_batches, b0 + self.size)
        saved = dict(opt.__dict__), dict(opt.state)
        kernel, buffers, flags, rows, lrs = None, None, None, [], []
        for b in range(b0, b1):
            lr = tr.scheduled_lr(first + len(rows))
            call = opt.plan_step(model.params, model.grads)
            if kernel is None:
                kernel, buffers, flags = call[0], call[1], call[3]
            elif (call[0] is not kernel or call[3] != flags or len(call[1]) != len(buffers)
                  or any(a is not b_ for a, b_ in zip(call[1], buffers))):
                b1 = b                # the kernel's arrays or flags change: end the chunk
                self._replay(saved, first, len(rows))
                break
            rows.append(call[2])
            lrs.append(lr)
        n = len(rows)
        plan = np.array(rows, dtype=model.dtype).reshape(n, -1)
        bounds = np.minimum(np.arange(b0, b1 + 1) * tr.batch_size, tr.n)
        loop = chunk_loop(kernel, plan.shape[1])
        started = time.perf_counter()
        done = loop(model.params, model.grads, model.layout, model._act_code,
                    model._loss_code, self.X, self.csr, tr.Y, _NO_WEIGHTS[model.dtype], perm,
                    bounds, self.full, self.last, buffers, plan, flags, self.losses)
        elapsed = time.perf_counter() - started
        sizes = np.diff(bounds)
        for k in range(done):
            st["loss_sum"] += float(self.losses[k]) * int(sizes[k])
            st["loss_count"] += int(sizes[k])
        st["step"] += done
        st["batch"] = b0 + done
        if done < n:                  # a non-finite loss at step `done`: undo the plan after it
            self._replay(saved, first, done)
            lr = tr.scheduled_lr(st["step"])
            raise TrainingDiverged(st["epoch"] + 1, st["step"] + 1, float(self.losses[done]), lr)
        per_step = elapsed / max(n, 1)
        self.size = int(min(self.MAX_STEPS, max(1, self.SECONDS / max(per_step, 1e-7))))
        return lrs[-1]

    def _replay(self, saved, first, steps):
        """Put the optimizer back where the chunk started (step ``first``) and plan
        ``steps`` steps again: every plan is a pure function of that state and the step
        number, so this leaves it as if exactly those steps had been planned."""
        tr = self.trainer
        opt = tr.optimizer
        arrays = opt.state
        opt.__dict__.clear()
        opt.__dict__.update(saved[0])
        opt.state = dict(saved[1])
        for k in range(steps):
            tr.scheduled_lr(first + k)
            opt.plan_step(tr.model.params, tr.model.grads)
        for name, a in arrays.items():     # buffers made in this chunk: keep the ones
            if name in opt.state:          # the kernel has used (same shape, same zeros)
                opt.state[name] = a
