"""Hooks into both minibatch loops of the trainer, for tests that inject behaviour
(Ctrl-C, a bad minibatch) or watch the minibatches.

The trainer runs its minibatches either in compiled chunks (:class:`minitrain._chunks.Chunks`,
``Trainer.compiled_loop = True``, the default) or one :meth:`Trainer.step` at a time
(``compiled_loop = False``). The compiled chunks never call ``MLP._loss_and_grad``, so
hooks go around ``Chunks.run`` and ``Trainer.step`` instead.
"""
import pytest

from minitrain._chunks import Chunks
from minitrain.train import Trainer

#: parametrize over both loops: ``@pytest.mark.parametrize("compiled", LOOPS)``
LOOPS = [pytest.param(True, id="compiled"), pytest.param(False, id="python")]


def use_loop(monkeypatch, compiled, chunk=None):
    """Train on the compiled chunks (``compiled=True``) or the Python loop; ``chunk=k``
    makes every compiled chunk ``k`` steps long (shorter only at an epoch's end or
    where the optimizer's kernel arguments change)."""
    monkeypatch.setattr(Trainer, "compiled_loop", compiled)
    if chunk is not None:
        force_chunk(monkeypatch, chunk)


def force_chunk(monkeypatch, k):
    """Every compiled chunk ``k`` steps long instead of ~50 ms."""
    monkeypatch.setattr(Chunks, "MAX_STEPS", k)
    monkeypatch.setattr(Chunks, "SECONDS", 1e9)          # the size adapts up to MAX_STEPS
    init = Chunks.__init__

    def fixed(self, trainer):
        init(self, trainer)
        self.size = k

    monkeypatch.setattr(Chunks, "__init__", fixed)


def before_steps(monkeypatch, hook):
    """Call ``hook(trainer)`` before every Python step and every compiled chunk."""
    step, run = Trainer.step, Chunks.run

    def hooked_step(self, idx):
        hook(self)
        return step(self, idx)

    def hooked_run(self, perm):
        hook(self.trainer)
        return run(self, perm)

    monkeypatch.setattr(Trainer, "step", hooked_step)
    monkeypatch.setattr(Chunks, "run", hooked_run)


def watch_minibatches(monkeypatch, record):
    """Call ``record(trainer, idx)`` for every minibatch trained on, in order, on either
    loop (``idx``: its rows; a compiled chunk's rows are read from the permutation and
    batch range it was given, as its compiled loop reads them)."""
    step, run = Trainer.step, Chunks.run

    def watched_step(self, idx):
        lr = step(self, idx)
        record(self, idx)
        return lr

    def watched_run(self, perm):
        tr = self.trainer
        b0 = tr.state["batch"]
        try:
            return run(self, perm)
        finally:
            bs = tr.batch_size
            for b in range(b0, tr.state["batch"]):
                record(tr, perm[b * bs:(b + 1) * bs])

    monkeypatch.setattr(Trainer, "step", watched_step)
    monkeypatch.setattr(Chunks, "run", watched_run)


def poison(monkeypatch, epoch, rows):
    """Set training rows ``rows`` to inf while epoch ``epoch`` (0-based) runs the first
    time (before any rollback): the minibatches holding them get a NaN loss, on either
    loop (both read ``trainer.X``, which is poisoned in place and restored after)."""
    run_epoch = Trainer.epoch

    def poisoned(trainer):
        if trainer.state["epoch"] != epoch or trainer.state["rollbacks"]:
            return run_epoch(trainer)
        saved = trainer.X[rows].copy()
        trainer.X[rows] = float("inf")
        try:
            return run_epoch(trainer)
        finally:
            trainer.X[rows] = saved

    monkeypatch.setattr(Trainer, "epoch", poisoned)
