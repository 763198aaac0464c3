"""``minitrain explain``: one optimizer's update rule, then a few real updates in numbers.

The example minimises ``f(p) = 0.5 * sum(a * p**2)`` over three parameters; every number
printed is what the real kernel left behind (``optimizer.step`` on a 3-element array).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from minitrain import optim
from minitrain._validation import check_int
from minitrain.lab.trajectories import _optimizer, entries

__all__ = ["Explanation", "explain"]


def _bias_terms(opt):
    """Scalars of this step that the update rule computes from t: (name, formula, value).

    Recomputed here from the equations of the docstring (the optimizer computes the same
    numbers in Python double precision before calling the kernel). The keras
    convention's scalars follow its "Update rule (keras)": Adam's step size
    ``lr * sqrt(bc2) / bc1`` (eps then added to the raw ``sqrt(v_hat)``) and Nadam's
    ``0.96**t`` schedule with ``mu_product`` in the dtype of the parameters. Looked up
    by the exact class, so a new subclass shows no scalars rather than wrong ones.
    """
    terms = {optim.Nadam: _nadam_terms, optim.Adam: _adam_terms, optim.AdamW: _adam_terms,
             optim.Adamax: _adamax_terms, getattr(optim, "RAdam", None): _radam_terms,
             }.get(type(opt))
    return terms(opt, opt.t, opt.lr, opt.convention == "keras") if terms else []


def _nadam_terms(opt, t, lr, keras):
    b1, psi = opt.beta1, opt.momentum_decay
    mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
    mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
    prod = opt.mu_product                       # state, after this step's update
    bc2 = 1 - opt.beta2 ** t
    if keras and psi == 1:
        rows = [("mu", "beta1 * (1 - 0.5 * 0.96**t)", mu),
                ("mu_next", "beta1 * (1 - 0.5 * 0.96**(t + 1))", mu_next)]
    else:
        rows = [("mu", "beta1 * (1 - 0.5 * 0.96**(t * momentum_decay))", mu),
                ("mu_next", "beta1 * (1 - 0.5 * 0.96**((t + 1) * momentum_decay))",
                 mu_next)]
    # explain steps float64 arrays: Keras keeps mu_product in the parameters' dtype
    kept = "float64" if keras else np.dtype(opt.mu_product_dtype).name
    return rows + [
        ("mu_product", f"mu_product * mu  (kept in {kept})", prod),
        ("bc2", "1 - beta2**t", bc2),
        ("sqrt(bc2)", "", bc2 ** 0.5),
        ("coef_g", "lr * (1 - mu) / (1 - mu_product)", lr * (1 - mu) / (1 - prod)),
        ("coef_m", "lr * mu_next / (1 - mu_product * mu_next)",
         lr * mu_next / (1 - prod * mu_next))]


def _adam_terms(opt, t, lr, keras):
    bc1, bc2 = 1 - opt.beta1 ** t, 1 - opt.beta2 ** t
    if keras:
        return [("bc1", "1 - beta1**t", bc1), ("bc2", "1 - beta2**t", bc2),
                ("sqrt(bc2)", "", bc2 ** 0.5),
                ("step_size", "lr * sqrt(bc2) / bc1", lr * bc2 ** 0.5 / bc1)]
    return [("bc1", "1 - beta1**t", bc1), ("bc2", "1 - beta2**t", bc2),
            ("lr / bc1", "", lr / bc1), ("sqrt(bc2)", "", bc2 ** 0.5)]


def _radam_terms(opt, t, lr, keras):
    bc1, bc2 = 1 - opt.beta1 ** t, 1 - opt.beta2 ** t
    rho_inf = 2 / (1 - opt.beta2) - 1
    rho_t = rho_inf - 2 * t * opt.beta2 ** t / bc2
    rows = [("bc1", "1 - beta1**t", bc1), ("bc2", "1 - beta2**t", bc2),
            ("rho_inf", "2 / (1 - beta2) - 1", rho_inf),
            ("rho_t", "rho_inf - 2 * t * beta2**t / bc2", rho_t)]
    if rho_t > 5:
        r = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        return rows + [("r", "sqrt((rho_t - 4) (rho_t - 2) rho_inf / ((rho_inf - 4) "
                             "(rho_inf - 2) rho_t))", r), ("sqrt(bc2)", "", bc2 ** 0.5)]
    return rows + [("lr / bc1", "rho_t <= 5: not rectified, step = (lr / bc1) * m", lr / bc1)]


def _adamax_terms(opt, t, lr, keras):
    bc1 = 1 - opt.beta1 ** t
    return [("bc1", "1 - beta1**t", bc1), ("lr / bc1", "", lr / bc1)]


def _decay_terms(opt, p_old, g):
    """Weight decay rows: the decayed gradient (coupled) or the decay factor (decoupled,
    which is every optimizer's under the keras convention)."""
    wd = getattr(opt, "weight_decay", 0.0)
    if wd == 0:
        return [], []
    if opt.convention == "keras" or getattr(opt, "decoupled_weight_decay", False):
        return [("1 - lr * weight_decay", "", 1 - opt.lr * wd)], []
    return [], [("g + wd*p", g + wd * p_old)]


@dataclass
class Explanation:
    """The result of :func:`explain`; ``str()`` is the text ``minitrain explain`` prints.

    Attributes
    ----------
    optimizer : Optimizer
        The optimizer after the last step.
    a, start : ndarray
        Curvatures and starting point of ``f(p) = 0.5 * sum(a * p**2)``.
    records : list of dict
        Per step: ``t``, ``lr``, ``p`` (before), ``g``, ``state`` (copies of the buffers
        after the step), ``scalars`` (name, formula, value), ``step`` (``p_new - p``),
        ``p_new``; every array is what the kernel left behind.
    """

    name: str
    optimizer: object
    a: np.ndarray
    start: np.ndarray
    records: list
    rule: str

    def __str__(self):
        return self.text()

    def text(self, digits=8):
        """The explanation with ``digits`` significant digits per number."""
        def num(x):
            return f"{float(x):.{digits}g}"

        def row(label, values):
            return f"  {label:<12}" + "".join(f"{num(v):>{digits + 9}}" for v in values)

        hp = ", ".join(f"{k}={v!r}" for k, v in self.optimizer.hyperparameters().items())
        keras = self.optimizer.convention == "keras"
        title = "Update rule (keras)" if keras else "Update rule"
        out = [f"{self.name}: {type(self.optimizer).__name__}({hp}"
               + (", convention='keras')" if keras else ")"), "",
               title, "-" * len(title), self.rule, "",
               "Worked example: f(p) = 0.5 * sum(a * p**2), so the gradient is g = a * p.",
               "Each step below shows p before the step, g, the state after the kernel ran,",
               "the scalars of this step, step = p_new - p, lr_eff = -step / g (the lr plain",
               "SGD would need for the same step) and p_new. All arrays are float64.", "",
               " " * 14 + "".join(f"{f'p[{i}]':>{digits + 9}}" for i in range(len(self.a))),
               row("a", self.a), row("p0", self.start)]
        for r in self.records:
            out += ["", f"step t={r['t']}   lr={num(r['lr'])}", row("p", r["p"]),
                    row("g", r["g"])]
            out += [row(label, v) for label, v in r["vectors"]]
            out += [row(k, v) for k, v in r["state"].items()]
            for name, formula, value in r["scalars"]:
                out.append(f"  {name} = {formula + ' = ' if formula else ''}{num(value)}")
            with np.errstate(divide="ignore", invalid="ignore"):
                lr_eff = np.where(r["g"] != 0, -r["step"] / r["g"], np.nan)
            out += [row("step", r["step"]), row("lr_eff", lr_eff), row("p_new", r["p_new"])]
        return "\n".join(out)


def explain(optimizer, *, steps=3, seed=0, convention=None, **hyperparameters):
    """Run ``steps`` real updates of ``optimizer`` on a 3-parameter quadratic and record them.

    The function is ``f(p) = 0.5 * sum(a * p**2)`` (gradient ``a * p``) with ``a`` and
    the start drawn from ``seed`` and rounded to one decimal, so the first step is easy
    to redo by hand.

    Parameters
    ----------
    optimizer : str
        Registry name (see ``minitrain optimizers``), optionally ``NAME@CONVENTION``.
    steps : int
        Number of updates shown (default 3).
    seed : int
        Chooses ``a`` (in [0.5, 3]) and the start (in [-2, 2]).
    convention : {"torch", "keras"}, optional
        Whose update rule: the text shows that convention's "Update rule" block and
        the scalars its equations use. Default: the optimizer's own (torch, except
        for Keras-only optimizers).
    **hyperparameters
        Passed to ``optim.get(optimizer, ...)``, e.g. ``lr=0.1, beta1=0.8``.

    Returns
    -------
    Explanation
        ``print(result)`` shows the update rule and the worked steps.
    """
    try:
        [(label, optimizer, convention)] = entries([optimizer], convention)
    except ValueError as e:
        raise ValueError(f"explain: {e}") from None
    steps = check_int("steps", steps, 1, owner="explain")
    seed = check_int("seed", seed, 0, owner="explain")
    opt = _optimizer(optimizer, hyperparameters, convention)
    own = optim.parse_spec(optimizer)[1]              # the optimizer's default convention
    label = optimizer if convention == own else f"{optimizer}@{convention}"
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 3.0, 3).round(1)
    p = rng.uniform(-2.0, 2.0, 3).round(1)
    p[p == 0] = 0.5                        # a zero coordinate would never move
    start = p.copy()
    g = np.empty_like(p)
    records = []
    for _ in range(steps):
        p_old = p.copy()
        g[:] = a * p
        opt.step(p, g)                     # the real kernel, in place
        scalars, vectors = _decay_terms(opt, p_old, g)
        records.append({"t": opt.t, "lr": opt.lr, "p": p_old, "g": g.copy(),
                        "vectors": vectors,
                        "state": {k: v.copy() for k, v in opt.state.items()},
                        "scalars": _bias_terms(opt) + scalars,
                        "step": p - p_old, "p_new": p.copy()})
    return Explanation(label, opt, a, start, records,
                       optim.update_rule(optimizer, convention=convention))
