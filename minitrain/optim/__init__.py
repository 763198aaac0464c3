"""Optimizers: the registry (this file), a base class, one file per algorithm family.

Every optimizer follows PyTorch's ``torch.optim`` (single-tensor CPU path) exactly: the
same equations, the same order of operations, the same defaults; ``convention="keras"``
gives Keras 3's. The element-wise work is one call of a Numba kernel that sits at the
top of the optimizer's file, above its class (as in torch's ``adam.py``):

- ``__init__.py``: the registry: names, defaults, default lrs, options (no NumPy);
- ``_base.py``: :class:`Optimizer`: lr, step count, state, checks, state_dict, and what
  happens to the gradient before the update (maximize, clipping, weight-decay masks);
- ``sgd.py`` (plain, momentum, Nesterov), ``adagrad.py``, ``rmsprop.py``, ``adam.py``
  (Adam, AdamW), ``adamax.py``, ``nadam.py``, ``radam.py``, ``lion.py``;
- ``_compile.py``: speed tricks (parallel twins, dtype entry points): skip on first read.

>>> import numpy as np
>>> import minitrain as mt
>>> p = np.array([1.0, -2.0]); g = np.empty_like(p)
>>> opt = mt.optim.get("adam", lr=0.1)
>>> for step in range(200):
...     g[:] = 2 * p                      # gradient of |p|^2
...     opt.lr = 0.1 * 0.99 ** step       # settable at every step
...     opt.step(p, g)                    # in place; state allocated on the first call
>>> bool(np.abs(p).max() < 1e-2)
True

The registry below is the only list of optimizers, hyperparameters and defaults: the
classes, the command line (:func:`options`), the run builder (:func:`default_lr`,
:func:`momentum_attr`) and the lab read it. Importing this module and asking the
registry does not import NumPy or Numba (``minitrain --help`` stays fast); the classes
are imported when first used.

Two conventions
---------------
Every optimizer takes ``convention="torch"`` (PyTorch's equations and defaults) or
``convention="keras"`` (Keras 3's) where it has both (:func:`conventions`; RAdam has
only torch's, Lion only Keras's). What changes with ``"keras"``:

- ``weight_decay`` is decoupled on every optimizer: ``p <- p * (1 - lr*weight_decay)``
  with the current lr, before the update (PyTorch: L2 in the gradient);
- SGD and RMSprop momentum keep the lr inside the buffer (they agree with PyTorch's
  form while the lr is constant, and differ as soon as it changes);
- eps inside the square root (Adagrad, RMSprop), "epsilon hat" (Adam, AdamW), eps
  added to ``u`` (Adamax), Nadam's momentum schedule ``0.96**t``;
- defaults: eps 1e-7, lr 1e-3 (SGD 0.01), Adagrad's accumulator starts at 0.1,
  RMSprop's rho is 0.9, AdamW's weight_decay is 0.004;
- ``clipnorm`` clips each variable (each ``W_i``, ``b_i`` block) as Keras does.

>>> defaults("adam", convention="keras")["eps"]
1e-07
>>> parse_spec("adam@keras")
('adam', 'keras')

Schedules set momentum through ``Optimizer.set_momentum``, which writes the
hyperparameter named by :func:`momentum_attr`: ``"momentum"`` for SGD and RMSprop,
``"beta1"`` for the Adam family and Lion, ``None`` for Adagrad (where ``set_momentum``
raises ``TypeError``, as PyTorch's OneCycleLR refuses Adagrad).

Adding an optimizer: one file ``minitrain/optim/<name>.py`` (kernel and class) and one
entry in ``_REGISTRY`` below; then its goldens (scripts/goldens_optim.py or
scripts/goldens_keras.py) and tests.
"""
from __future__ import annotations

import inspect
import re
from importlib import import_module
from typing import NamedTuple

from minitrain._validation import check_choice

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "Adamax", "Nadam", "AdamW",
           "RAdam", "Lion", "CONVENTIONS", "names", "get", "defaults", "hyperparameters",
           "describe", "update_rule", "parse_spec", "default_lr", "momentum_attr",
           "conventions", "options"]

#: The update-rule conventions: PyTorch's (the default) and Keras 3's.
CONVENTIONS = ("torch", "keras")


# ---------------------------------------------------------------- the registry
class Entry(NamedTuple):
    """One registry entry: everything the library knows about an optimizer name."""

    cls: str                # "module:Class" under minitrain.optim, imported when used
    defaults: dict          # convention -> {hyperparameter: default}, signature order;
    #                         the first convention is the optimizer's default one
    default_lr: float       # the trainer's lr when the user gives none
    description: str        # one line
    momentum_attr: str | None   # what a momentum schedule sets
    presets: dict = {}      # constructor arguments this name fixes (momentum=0.9, ...)
    hidden: tuple = ()      # class arguments this name does not offer

    @property
    def conventions(self):
        return tuple(self.defaults)

    @property
    def hyperparameters(self):
        first = next(iter(self.defaults.values()))
        return tuple(n for n in first if n not in self.hidden)


#: Every optimizer takes these (applied to the gradient before the update).
COMMON = dict(maximize=False, clipnorm=None, clipvalue=None, global_clipnorm=None)


def _defaults(torch=None, keras=None):
    """{convention: defaults}: torch's table; Keras's as changes to it (or its own)."""
    out = {}
    if torch is not None:
        out["torch"] = {**torch, **COMMON}
    if keras is not None:
        out["keras"] = {**out.get("torch", {}), **keras, **COMMON}
    return out


_SGD = _defaults(dict(lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0),
                 dict(lr=1e-2))
_ADAM = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)
_KERAS_ADAM = dict(lr=1e-3, eps=1e-7)

_REGISTRY = {
    "sgd": Entry(
        "sgd:SGD", _SGD, 0.1, "plain stochastic gradient descent: p -= lr * g", "momentum",
        hidden=("momentum", "nesterov")),
    "momentum": Entry(
        "sgd:SGD", _SGD, 0.01, "SGD with (PyTorch-form) momentum 0.9", "momentum",
        presets={"momentum": 0.9}, hidden=("nesterov",)),
    "nesterov": Entry(
        "sgd:SGD", _SGD, 0.01, "SGD with Nesterov momentum 0.9", "momentum",
        presets={"momentum": 0.9, "nesterov": True}, hidden=("nesterov",)),
    "adagrad": Entry(
        "adagrad:Adagrad",
        _defaults(dict(lr=1e-2, eps=1e-10, initial_accumulator=0.0, weight_decay=0.0,
                       lr_decay=0.0),
                  dict(lr=1e-3, eps=1e-7, initial_accumulator=0.1)), 0.05,
        "AdaGrad: steps divided by the root of the summed squared gradients", None),
    "rmsprop": Entry(
        "rmsprop:RMSprop",
        _defaults(dict(lr=1e-2, rho=0.99, eps=1e-8, momentum=0.0, centered=False,
                       weight_decay=0.0),
                  dict(lr=1e-3, rho=0.9, eps=1e-7)), 1e-3,
        "RMSprop: steps divided by a running RMS of the gradients", "momentum"),
    "adam": Entry(
        "adam:Adam",
        _defaults(dict(_ADAM, amsgrad=False, decoupled_weight_decay=False),
                  dict(_KERAS_ADAM, decoupled_weight_decay=True)), 1e-3,
        "Adam: bias-corrected first and second moments (Kingma & Ba 2015)", "beta1"),
    "adamax": Entry(
        "adamax:Adamax", _defaults(dict(_ADAM, lr=2e-3), _KERAS_ADAM), 2e-3,
        "AdaMax: Adam with an infinity-norm second moment", "beta1"),
    "nadam": Entry(
        "nadam:Nadam",
        _defaults(dict(_ADAM, lr=2e-3, momentum_decay=4e-3, decoupled_weight_decay=False),
                  dict(_KERAS_ADAM, momentum_decay=1.0, decoupled_weight_decay=True)), 2e-3,
        "NAdam: Adam with Nesterov momentum and a momentum-decay schedule", "beta1"),
    "adamw": Entry(
        "adam:AdamW",
        _defaults(dict(_ADAM, weight_decay=1e-2, amsgrad=False),
                  dict(_KERAS_ADAM, weight_decay=4e-3)), 1e-3,
        "AdamW: Adam with decoupled weight decay 1e-2 (Loshchilov & Hutter)", "beta1"),
    "radam": Entry(
        "radam:RAdam", _defaults(dict(_ADAM, decoupled_weight_decay=False)), 1e-3,
        "RAdam: Adam with a rectified variance warm-up (Liu et al. 2020)", "beta1"),
    "lion": Entry(
        "lion:Lion", _defaults(keras=dict(lr=1e-3, beta1=0.9, beta2=0.99, weight_decay=0.0)),
        1e-4, "Lion: the sign of an interpolated momentum (Chen et al. 2023)", "beta1"),
}

#: hyperparameter -> (type, one-line help) for the command line (:func:`options`)
_HELP = {
    "momentum": (float, "momentum factor (SGD, RMSprop)"),
    "dampening": (float, "SGD: dampening of the momentum buffer (torch)"),
    "beta1": (float, "first-moment decay (Adam family, Lion)"),
    "beta2": (float, "second-moment decay (Adam family; Lion's momentum decay)"),
    "eps": (float, "added to the denominator for stability"),
    "rho": (float, "RMSprop: decay of the mean square (torch's alpha)"),
    "weight_decay": (float, "weight decay (L2 in torch's rule, decoupled in Keras's)"),
    "lr_decay": (float, "Adagrad: lr / (1 + (t-1)*lr_decay) (torch)"),
    "initial_accumulator": (float, "Adagrad: starting sum of squared gradients"),
    "amsgrad": (bool, "Adam/AdamW: use the running maximum of v"),
    "centered": (bool, "RMSprop: divide by the gradient's standard deviation"),
    "momentum_decay": (float, "Nadam's psi in 0.96**(t*psi)"),
    "decoupled_weight_decay": (bool, "decay the weights directly (AdamW form)"),
    "maximize": (bool, "ascend: negate the gradient (torch)"),
    "clipnorm": (float, "clip the gradient norm of each block W_i, b_i to this"),
    "clipvalue": (float, "clip each gradient entry to [-v, v]"),
    "global_clipnorm": (float, "clip the norm of the whole gradient to this"),
}


def _entry(name):
    return _REGISTRY[check_choice("optimizer", name, tuple(_REGISTRY))]


def _class(entry):
    module, _, cls = entry.cls.partition(":")
    return getattr(import_module(f"{__name__}.{module}"), cls)


_CLASS_NAMES = {e.cls.partition(":")[2]: e.cls for e in _REGISTRY.values()}


def __getattr__(attr):                      # the classes, imported on first use (PEP 562)
    if attr == "Optimizer":
        return import_module(f"{__name__}._base").Optimizer
    if attr in _CLASS_NAMES:
        module, _, cls = _CLASS_NAMES[attr].partition(":")
        return getattr(import_module(f"{__name__}.{module}"), cls)
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


def class_defaults(cls_name):
    """{convention: defaults} of class ``cls_name`` (read by the class, not presets)."""
    for entry in _REGISTRY.values():
        if entry.cls.partition(":")[2] == cls_name:
            return entry.defaults
    raise KeyError(cls_name)


def class_momentum_attr(cls_name):
    """What a momentum schedule sets on class ``cls_name``."""
    for entry in _REGISTRY.values():
        if entry.cls.partition(":")[2] == cls_name:
            return entry.momentum_attr
    raise KeyError(cls_name)


# ---------------------------------------------------------------- queries
def names():
    """Registry names, in order of complexity."""
    return tuple(_REGISTRY)


def hyperparameters(name):
    """Hyperparameter names that ``get(name, ...)`` accepts, as a tuple."""
    return _entry(name).hyperparameters


def conventions(name):
    """The conventions optimizer ``name`` has; the first is its default."""
    return _entry(name).conventions


def _convention(convention, name=None):
    if convention is None:
        return conventions(name)[0] if name is not None else "torch"
    convention = check_choice("convention", convention, CONVENTIONS)
    if name is not None and convention not in conventions(name):
        raise ValueError(f"optimizer {name} has no convention {convention!r}; it has "
                         f"{', '.join(conventions(name))}")
    return convention


def defaults(name, convention=None):
    """Hyperparameter -> default value for registry ``name`` (presets applied).

    The defaults of ``convention`` (``"torch"`` or ``"keras"``; None: the optimizer's
    own default convention, torch except for Lion).
    """
    e = _entry(name)
    table = e.defaults[_convention(convention, name)]
    return {n: e.presets.get(n, table[n]) for n in e.hyperparameters}


def default_lr(name):
    """The learning rate the trainer uses for ``name`` when the user gives none."""
    return _entry(name).default_lr


def momentum_attr(name):
    """The hyperparameter a momentum schedule sets: "momentum", "beta1" or None."""
    return _entry(name).momentum_attr


def describe(name):
    """One line describing registry ``name``."""
    return f"{name}: {_entry(name).description}"


def options():
    """Hyperparameter -> {"type", "help", "optimizers"} for the command line, in order.

    ``type`` is ``float``, ``int`` or ``bool``; ``optimizers`` the registry names that
    take it. ``lr`` is not included (every optimizer has it). No NumPy is imported.
    """
    out = {}
    for name in _REGISTRY:
        for hp in hyperparameters(name):
            if hp != "lr":
                out.setdefault(hp, []).append(name)
    return {hp: {"type": _HELP[hp][0], "help": _HELP[hp][1], "optimizers": tuple(takers)}
            for hp, takers in out.items()}


def get(name, convention=None, **hp):
    """Build the optimizer registered as ``name`` with hyperparameters ``hp``.

    ``convention`` is ``"torch"`` (PyTorch's update rule and defaults) or ``"keras"``
    (Keras 3's); None is the optimizer's own (torch, Keras for Lion). Hyperparameters
    not given take that convention's defaults.

    Raises ``ValueError`` for an unknown name or a convention the optimizer does not
    have, and ``TypeError`` for a hyperparameter it does not take (the message lists
    the valid ones).
    """
    e = _entry(name)
    for key in hp:
        if key not in e.hyperparameters:
            raise TypeError(f"{name}: unknown hyperparameter {key!r}; valid ones are "
                            f"{', '.join(e.hyperparameters)}")
    convention = _convention(convention, name)
    presets = {k: v for k, v in e.presets.items() if k not in hp}
    return _class(e)(**presets, **hp, convention=convention)


def parse_spec(spec):
    """``"adam@keras"`` -> ``("adam", "keras")``; ``"adam"`` -> ``("adam", "torch")``.

    The syntax ``NAME[@CONVENTION]`` lets a command put the same optimizer under both
    conventions side by side (``--optimizers adam,adam@keras``). Without ``@`` the
    optimizer's own default convention. Raises ``ValueError`` naming the bad part.

    >>> parse_spec("nesterov@keras"), parse_spec(" sgd "), parse_spec("lion")
    (('nesterov', 'keras'), ('sgd', 'torch'), ('lion', 'keras'))
    """
    if not isinstance(spec, str):
        raise TypeError(f"optimizer spec must be a string like 'adam@keras', got {spec!r}")
    name, sep, convention = spec.strip().partition("@")
    if sep and not convention:
        raise ValueError(f"optimizer spec must be NAME or NAME@CONVENTION, got {spec!r}")
    name = check_choice("optimizer", name.strip(), tuple(_REGISTRY))
    return name, _convention(convention.strip() if sep else None, name)


def update_rule(name_or_class, convention=None):
    """Return the "Update rule" block of an optimizer's docstring, dedented (for explain).

    With ``convention="keras"`` the "Update rule (keras)" block; an optimizer with one
    convention (RAdam, Lion) has one block, "Update rule". None: the optimizer's default
    convention. Raises ``ValueError`` for a convention the optimizer does not have.
    """
    if isinstance(name_or_class, type):
        cls = name_or_class
    else:
        cls = _class(_entry(name_or_class))
    owner = cls.__name__
    if convention is None:
        convention = cls.conventions[0]
    convention = check_choice("convention", convention, CONVENTIONS, owner=owner)
    if convention not in cls.conventions:
        raise ValueError(f"{owner}: convention must be {' or '.join(map(repr, cls.conventions))}"
                         f" ({owner} has no {convention} form), got {convention!r}")
    doc = inspect.getdoc(cls)
    title = (r"Update rule \(keras\)" if convention == "keras" and len(cls.conventions) > 1
             else "Update rule")
    match = re.search(title + r"\n-+\n::\n\n(.*?)\n\n", doc, re.S)
    lines = match.group(1).splitlines()
    indent = min(len(s) - len(s.lstrip()) for s in lines if s.strip())
    return "\n".join(s[indent:] for s in lines)
