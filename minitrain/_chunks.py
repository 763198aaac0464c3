"""The minibatch loop in compiled code -- skip on first read.

:meth:`minitrain.train.Trainer.epoch` runs the same steps as :meth:`Trainer.step
<minitrain.train.Trainer.step>` would, but a *chunk* of them per call into Numba:

1. **Plan** (Python, per step): the schedule sets ``lr`` (and momentum), and the
   optimizer works out its step exactly as in :meth:`Optimizer.step
   <minitrain.optim.Optimizer.step>`, handing back the kernel call instead of making it
   (:meth:`Optimizer.plan_step <minitrain.optim.Optimizer.plan_step>`). Each step's
   scalar arguments become one row of ``plan``, in the parameters' dtype (the rounding
   of the kernel's own entry point). Every formula stays where it is.
2. **Run** (compiled, :func:`train_chunk`): for each planned step, gather the minibatch,
   forward, loss, backward (the model's ``_loss_and_grad``) and the optimizer's kernel
   on that row. It stops at a non-finite loss, before that step's update.

Same arithmetic in the same order: the results are bit-identical to the Python loop
(``tests/test_chunks.py``).

The loop calls the step and the kernel through function pointers (``@cfunc`` copies,
:meth:`StepFunctions.pointer <minitrain.nn.StepFunctions.pointer>`,
:meth:`Kernel.pointer <minitrain.optim._compile.Kernel.pointer>`, which share one
signature): so it compiles once for all optimizers, stays cacheable, does not link and
re-optimise their code, and never runs a stale copy of a kernel edited later.
"""
from __future__ import annotations

import time
from operator import is_

import numpy as np
from numba import config, njit

from minitrain.nn import _NO_WEIGHTS, read_only


def train_chunk(step, update, params, grads, layout, X, csr, Y, sw, perm, bounds, full,
                last, buffers, plan, flags, losses):
    """Run ``plan.shape[0]`` steps; step ``k`` trains on ``perm[bounds[k]:bounds[k+1]]``.

    ``step`` is the model's ``_loss_and_grad`` and ``update`` the optimizer kernel, both
    as function pointers (``update`` in the shared form of
    :func:`minitrain.optim._compile.call_kernel`: buffers and flags padded, the scalars
    one row of ``plan``). ``full`` and ``last`` are the workspaces ``(Xb, Yb, w, work)``
    of a full minibatch and of a smaller last one. ``losses[k]`` receives step ``k``'s
    loss. Returns the number of steps done: ``plan.shape[0]``, or the index of the
    first step whose loss is not finite (its update is not applied).
    """
    for k in range(plan.shape[0]):
        idx = perm[bounds[k]:bounds[k + 1]]
        Xb, Yb, w, work = full if idx.shape[0] == full[1].shape[0] else last
        value = step(params, grads, layout, X, csr, Y, sw, idx, Xb, Yb, w, work)
        losses[k] = value
        if not np.isfinite(value):
            return k
        update(params, grads, buffers, plan[k], flags)
    return plan.shape[0]


chunk_loop = njit(cache=True, error_model="numpy")(train_chunk)


def step_signature(dtype):
    """The Numba signature of the step as ``train_chunk`` calls it (``step``), for
    arrays of ``dtype``; X, Y, sample weights and CSR arrays are read only (any input
    array converts to that)."""
    from numba import from_dtype, types

    def array(t, nd, readonly=False):
        return types.Array(t, nd, "C", readonly=readonly)
    f, i, i32 = from_dtype(np.dtype(dtype)), types.int64, types.int32
    v, m, X = array(f, 1), array(f, 2), array(f, 2, True)
    csr = types.Tuple((array(f, 1, True), array(i32, 1, True), array(i32, 1, True)))
    #                    params grads layout    X  csr Y  sw                 idx  Xb Yb w work
    return types.float64(v, v, array(i, 2), X, csr, X, array(f, 1, True), array(i, 1),
                         m, m, v, v)


class Chunks:
    """Runs a :class:`~minitrain.train.Trainer`'s minibatches a chunk at a time.

    A chunk lasts about :attr:`SECONDS` (its length adapts to the measured step time),
    so Ctrl-C, the progress bar and the ``between_steps`` hooks are looked at that
    often. Use :meth:`for_trainer`, which returns None when the run needs the Python
    loop (``NUMBA_DISABLE_JIT``, or an optimizer step that needs the gradient's values).
    """

    SECONDS = 0.05
    MAX_STEPS = 4096

    def __init__(self, trainer):
        from minitrain import _warm
        self.trainer = trainer
        self.size = min(8, self.MAX_STEPS)          # steps in the next chunk
        self._arrays()
        self.helper = _warm.start(trainer)          # first run: compile on two cores
        self.step = trainer.model._fns.pointer(trainer.model.dtype)

    def _arrays(self):
        """The inputs as the compiled step takes them, and the workspaces."""
        trainer = self.trainer
        model, bs = trainer.model, trainer.batch_size
        self.X, self.csr = read_only(*model._split_input(trainer.X))
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
        saved = dict(opt.__dict__), dict(opt.state)
        kernel, buffers, flags, rows, lr, error = self._plan(saved, b0, first)
        n = len(rows)
        bounds = np.minimum(np.arange(b0, b0 + n + 1) * tr.batch_size, tr.n)
        buffers, flags = opt.kernel.padded(buffers, flags, model.dtype)
        started = time.perf_counter()
        done = chunk_loop(self.step, opt.kernel.pointer(model.dtype, kernel is opt.kernel.parallel),
                          model.params, model.grads, model.layout, self.X, self.csr, tr.Y,
                          _NO_WEIGHTS[model.dtype], perm, bounds, self.full, self.last,
                          buffers, np.array(rows, dtype=model.dtype).reshape(n, -1), flags,
                          self.losses)
        elapsed = time.perf_counter() - started
        sizes = np.diff(bounds)
        for k in range(done):                         # the trainer's counters, in order
            st["loss_sum"] += float(self.losses[k]) * int(sizes[k])
            st["loss_count"] += int(sizes[k])
        st["step"] += done
        st["batch"] = b0 + done
        if done < n:                  # a non-finite loss at step `done`: undo the plan after it
            self._replay(saved, first, done)
            tr.bar.steps_done += done             # (the steps that did run)
            lr = tr.scheduled_lr(st["step"])
            raise TrainingDiverged(st["epoch"] + 1, st["step"] + 1, float(self.losses[done]), lr)
        if error is not None:
            raise error
        self.size = int(min(self.MAX_STEPS, max(1, self.SECONDS * n / max(elapsed, 1e-7))))
        return lr

    def _plan(self, saved, b0, first):
        """Plan up to :attr:`size` steps from minibatch ``b0`` (step ``first``): the
        kernel, its buffers and flags, one row of scalars per step, the last step's lr,
        and the error that stopped the planning early (None)."""
        tr = self.trainer
        params, grads = tr.model.params, tr.model.grads
        plan_step, scheduled_lr = tr.optimizer.plan_step, tr.scheduled_lr
        rows, error = [], None
        try:
            lr = scheduled_lr(first)
            kernel, buffers, scalars, flags = plan_step(params, grads)
            rows.append(scalars)
            for _ in range(b0 + 1, min(tr.n_batches, b0 + self.size)):
                lr_b = scheduled_lr(first + len(rows))
                k, arrays, scalars, f = plan_step(params, grads)
                if k is not kernel or f != flags or not all(map(is_, arrays, buffers)):
                    self._replay(saved, first, len(rows))   # the kernel's arrays or flags
                    break                                   # change: end the chunk here
                rows.append(scalars)
                lr = lr_b
        except BaseException as e:    # e.g. a schedule that raises at step first + j:
            self._replay(saved, first, len(rows))    # run the j steps before it, as the
            if not rows:                             # Python loop does, then raise
                raise
            error, lr = e, tr.optimizer.lr
        return kernel, buffers, flags, rows, lr, error

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
