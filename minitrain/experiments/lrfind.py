"""The learning-rate range test (Leslie Smith, 2015; popularised by fastai's lr_find).

Train for a few minibatches while the lr grows exponentially from ``start`` to
``end``; watch the loss::

    lr_i = start * (end / start) ** (i / (steps - 1))        i = 0 .. steps-1
    avg_i = beta * avg_{i-1} + (1 - beta) * loss_i           (avg_{-1} = 0)
    smoothed_i = avg_i / (1 - beta ** (i + 1))               bias-corrected EMA

The test stops early when ``smoothed_i > diverge * min(smoothed_0..i)`` or the
loss stops being finite. Two suggestions come out of the curve:

* **steepest**: the lr where the smoothed loss falls fastest, i.e. the minimum of
  d(smoothed)/d(log lr) (``np.gradient``), looked for between the 10th point and
  the lowest point of the curve;
* **min / 10**: the lr of the lowest smoothed loss, divided by 10 (the loss is
  already about to blow up there, so one order of magnitude back is safe).

The model's parameters and gradients and the optimizer's whole state (buffers, step
count, lr and other hyperparameters) are put back afterwards, bit for bit, so the
test can run just before (or in the middle of) training.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from minitrain._validation import check_int, check_range

__all__ = ["lr_find", "LRFindResult"]


@dataclass
class LRFindResult:
    """The curve of a range test and its two suggestions.

    Attributes
    ----------
    lrs, losses, smoothed : ndarray
        Per step: the lr used, the minibatch loss (before that step's update) and
        the bias-corrected moving average of the loss.
    steepest : float or None
        lr at the steepest descent of the smoothed loss.
    minimum : float or None
        lr at the lowest smoothed loss; ``min_div10 = minimum / 10``.
    stopped : str
        Why the test ended: "end" (all steps), "diverged" (smoothed loss above
        ``diverge`` times its best) or "nan" (a loss was not finite).
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    steepest: float | None
    minimum: float | None
    stopped: str
    settings: dict = field(default_factory=dict)

    @property
    def min_div10(self):
        return None if self.minimum is None else self.minimum / 10

    def __repr__(self):
        def g(v):
            return "None" if v is None else f"{v:.3g}"
        return (f"LRFindResult({len(self.lrs)} steps, stopped={self.stopped!r}, "
                f"steepest={g(self.steepest)}, min_div10={g(self.min_div10)})")

    def to_csv(self, path):
        """Columns: step, lr, loss, smoothed_loss (atomic write)."""
        from minitrain.files import write_csv
        write_csv(path, ["step", "lr", "loss", "smoothed_loss"],
                  ([i, *(repr(float(v)) for v in row)]
                   for i, row in enumerate(zip(self.lrs, self.losses, self.smoothed))))

    def plot(self, path, title=None):
        """Loss and smoothed loss against lr (log x), both suggestions marked.

        Returns False, drawing nothing, when matplotlib is not installed.
        """
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            return False
        fig, ax = plt.subplots(figsize=(6.5, 4))
        ax.plot(self.lrs, self.losses, color="0.75", lw=0.8, label="minibatch loss")
        ax.plot(self.lrs, self.smoothed, color="C0", lw=1.6, label="smoothed loss")
        marks = ((self.steepest, "C1", "steepest"), (self.min_div10, "C2", "min / 10"))
        for lr, color, label in marks:
            if lr is not None:
                ax.axvline(lr, color=color, ls="--", lw=1, label=f"{label}: {lr:.2g}")
        ax.set_xscale("log")
        finite = self.smoothed[np.isfinite(self.smoothed)]
        if finite.size:                   # the blow-up at the end hides the interesting part
            low = int(np.argmin(finite))
            lo, top = finite[low], finite[:low + 1].max()
            ax.set_ylim(lo - 0.1 * (top - lo) - 1e-12, top + 0.3 * (top - lo) + 1e-12)
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.set_title(title or "learning-rate range test", fontsize=9)
        ax.legend(fontsize=8)
        fig.tight_layout()
        from minitrain.files import save_figure
        save_figure(fig, path)
        plt.close(fig)
        return True


def lr_find(model, optimizer, train, *, start=1e-7, end=10.0, steps=100, batch_size=32,
            seed=0, beta=0.98, diverge=4.0):
    """Run the lr range test on ``model`` with ``optimizer``; restore both afterwards.

    Parameters
    ----------
    model : MLP
    optimizer : minitrain.optim.Optimizer
        Its lr is overridden during the test; everything is restored at the end.
    train : (X, y) pair or Dataset
        Minibatches are drawn as in :func:`minitrain.fit`: epoch ``e`` shuffles with
        ``np.random.default_rng([seed, e])``; the test goes on into further epochs
        when ``steps`` exceeds one epoch.
    start, end : float, default=1e-7, 10
        First and last lr (0 < start < end).
    steps : int, default=100
        Number of minibatches (at least 3).
    batch_size, seed : int
    beta : float, default=0.98
        Smoothing of the loss (exponential moving average, bias-corrected).
    diverge : float, default=4
        Stop when the smoothed loss exceeds ``diverge`` times its minimum so far.

    Returns
    -------
    LRFindResult
    """
    start = check_range("start", start, 0.0, owner="lr_find", lo_open=True)
    end = check_range("end", end, start, owner="lr_find", lo_open=True)
    steps = check_int("steps", steps, 3, owner="lr_find")
    batch_size = check_int("batch_size", batch_size, 1, owner="lr_find")
    seed = check_int("seed", seed, 0, owner="lr_find")
    beta = check_range("beta", beta, 0.0, 1.0, owner="lr_find", hi_open=True)
    diverge = check_range("diverge", diverge, 1.0, owner="lr_find", lo_open=True)
    X, y = (train.X, train.y) if hasattr(train, "X") else train
    X = model.check_X(X)
    Y = model.check_y(y, X.shape[0])

    saved = _save(model, optimizer)
    try:
        lrs, losses, smoothed, stopped = _run(model, optimizer, X, Y, start, end, steps,
                                              batch_size, seed, beta, diverge)
    finally:
        _restore(model, optimizer, saved)
    steepest, minimum = suggestions(lrs, smoothed)
    settings = dict(start=start, end=end, steps=steps, batch_size=batch_size, seed=seed,
                    beta=beta, diverge=diverge)
    return LRFindResult(lrs, losses, smoothed, steepest, minimum, stopped, settings)


def _run(model, optimizer, X, Y, start, end, steps, batch_size, seed, beta, diverge):
    n = X.shape[0]
    n_batches = -(-n // batch_size)
    lrs, losses, smoothed = [], [], []
    avg, best, stopped = 0.0, math.inf, "end"
    for i in range(steps):
        epoch, b = divmod(i, n_batches)
        if b == 0:
            perm = np.random.default_rng([seed, epoch]).permutation(n)
        lr = start * (end / start) ** (i / (steps - 1))
        optimizer.lr = lr
        loss = model._loss_and_grad(X, Y, perm[b * batch_size:(b + 1) * batch_size])
        if not math.isfinite(loss):
            stopped = "nan"
            break
        avg = beta * avg + (1 - beta) * loss
        smooth = avg / (1 - beta ** (i + 1))
        lrs.append(lr)
        losses.append(loss)
        smoothed.append(smooth)
        if smooth > diverge * best:
            stopped = "diverged"
            break
        best = min(best, smooth)
        optimizer.step(model.params, model.grads)
    return np.array(lrs), np.array(losses), np.array(smoothed), stopped


def suggestions(lrs, smoothed, skip=10):
    """(steepest, minimum): lr of the steepest descent and of the lowest smoothed loss.

    The first ``skip`` points (fastai's ``skip_start``) are left out of the steepest
    descent: the moving average has seen only a few minibatches there, and their
    noise would look like a slope.
    """
    lrs, smoothed = np.asarray(lrs, dtype=float), np.asarray(smoothed, dtype=float)
    if len(lrs) < 3:
        return None, None
    low = int(np.argmin(smoothed))
    slope = np.gradient(smoothed, np.log(lrs))
    first = min(skip, max(0, low - 2))
    end = low + 1 if low - first >= 2 else len(lrs)     # descent region: up to the minimum
    steepest = float(lrs[first + int(np.argmin(slope[first:end]))])
    return steepest, float(lrs[low])


def _save(model, optimizer):
    return {"params": model.params.copy(), "grads": model.grads.copy(),
            "optimizer": optimizer.state_dict()}


def _restore(model, optimizer, saved):
    model.params[:] = saved["params"]
    model.grads[:] = saved["grads"]
    optimizer.load_state_dict(saved["optimizer"])    # also an optimizer that never stepped
