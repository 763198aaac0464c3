"""Optimizers: an ``Optimizer`` base, one small class per algorithm, and a registry.

Every class follows PyTorch's ``torch.optim`` (single-tensor CPU path) exactly: the same
equations, the same order of operations, the same defaults. The element-wise work is
one call of a Numba kernel from :mod:`minitrain.kernels`; the class computes the scalar
coefficients (bias corrections, step sizes) in Python double precision, as PyTorch does,
and casts them to the array dtype.

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

Classes are ordered by complexity: SGD (plain, momentum, Nesterov), Adagrad, RMSprop,
Adam (with AMSGrad and decoupled decay), Adamax, Nadam, AdamW. The registry names are
:func:`names`; :func:`get`, :func:`defaults`, :func:`hyperparameters` and
:func:`describe` serve the command line.

Two conventions
---------------
Every optimizer takes ``convention="torch"`` (the default: PyTorch's equations and
defaults) or ``convention="keras"`` (Keras 3's). Where they differ, each class docstring
has an "Update rule (keras)" block and lists the Keras defaults in its Notes; the
hyperparameters whose default depends on the convention have ``None`` in the signature
(see :func:`defaults`). The same kernel runs both (:mod:`minitrain.kernels`). What
changes with ``"keras"``:

- ``weight_decay`` is decoupled on every optimizer: ``p <- p * (1 - lr*weight_decay)``
  with the current lr, before the update (PyTorch: L2 in the gradient);
- SGD and RMSprop momentum keep the lr inside the buffer (they agree with PyTorch's
  form while the lr is constant, and differ as soon as it changes);
- eps inside the square root (Adagrad, RMSprop), "epsilon hat" (Adam, AdamW), eps
  added to ``u`` (Adamax), Nadam's momentum schedule ``0.96**t``;
- defaults: eps 1e-7, lr 1e-3 (SGD 0.01), Adagrad's accumulator starts at 0.1,
  RMSprop's rho is 0.9, AdamW's weight_decay is 0.004.

>>> opt = mt.optim.get("adam", convention="keras")
>>> opt.eps, opt.convention
(1e-07, 'keras')
>>> parse_spec("adam@keras")
('adam', 'keras')

Schedules set momentum through :meth:`Optimizer.set_momentum`, which writes the
hyperparameter named by the class attribute ``momentum_attr``: ``"momentum"`` for SGD
and RMSprop, ``"beta1"`` for the Adam family, ``None`` for Adagrad (where
``set_momentum`` raises ``TypeError``, as PyTorch's OneCycleLR refuses Adagrad).
"""
from __future__ import annotations

import inspect
import re
from typing import NamedTuple

import numpy as np

from minitrain import kernels
from minitrain._validation import check_choice, check_range

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "Adamax", "Nadam", "AdamW",
           "CONVENTIONS", "names", "get", "defaults", "hyperparameters", "describe",
           "update_rule", "parse_spec"]

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

#: The update-rule conventions: PyTorch's (the default) and Keras 3's.
CONVENTIONS = ("torch", "keras")


# ---------------------------------------------------------------- hyperparameters
def _unit(name, value, owner):
    return check_range(name, value, 0.0, 1.0, owner=owner, hi_open=True)


def _nonneg(name, value, owner):
    return check_range(name, value, 0.0, owner=owner)


def _positive(name, value, owner):
    return check_range(name, value, 0.0, owner=owner, lo_open=True)


def _flag(name, value, owner):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be True or False, got {value!r}")
    return bool(value)


def _decoupled_flag(opt, value):
    """``decoupled_weight_decay``: the convention's default for None; Keras refuses False."""
    owner = type(opt).__name__
    if value is None:
        return opt.convention_defaults[opt.convention]["decoupled_weight_decay"]
    value = _flag("decoupled_weight_decay", value, owner)
    if opt.convention == "keras" and not value:
        raise ValueError(f"{owner}: decoupled_weight_decay must be True with "
                         f"convention='keras' (Keras always decouples), got False")
    return value


class _Hyper:
    """A validated hyperparameter attribute: assigning it (also later) runs the check.

    Assigning ``None`` assigns the default of the optimizer's convention (its class
    table ``convention_defaults``); for a hyperparameter without one the check rejects
    None.
    """

    def __init__(self, check):
        self.check = check

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, objtype=None):
        return self if obj is None else obj.__dict__[self.name]

    def __set__(self, obj, value):
        if value is None:
            value = obj.convention_defaults[obj.convention].get(self.name)
        obj.__dict__[self.name] = self.check(self.name, value, type(obj).__name__)


class _Flag(_Hyper):
    """A boolean hyperparameter; changing it re-checks the buffers on the next step."""

    def __init__(self):
        super().__init__(_flag)

    def __set__(self, obj, value):
        super().__set__(obj, value)
        obj.__dict__["_params"] = None


# ---------------------------------------------------------------- base class
class Optimizer:
    """Base class: learning rate, step count, state buffers, array checks, state_dict.

    Subclasses define ``__init__`` with their hyperparameters as keyword arguments
    (the names are read from that signature; ``convention`` is not a hyperparameter),
    ``_buffers()`` (the state buffers the next step needs) and ``_update(p, g, kernel)``
    (one kernel call), and list in ``convention_defaults`` the defaults of the
    hyperparameters that are ``None`` in the signature.

    Attributes
    ----------
    convention : {"torch", "keras"}
        Whose update rule and defaults this optimizer follows (fixed at construction).
    lr : float
        Learning rate, settable before every step (validated: ``lr >= 0``).
    t : int
        Number of steps taken (PyTorch's ``state["step"]``); the first step has ``t = 1``.
    state : dict of str to ndarray
        State buffers by the names of the update rule (``m``, ``v``, ...), allocated on
        the first :meth:`step`, shaped like the parameters.
    momentum_attr : str or None
        Name of the hyperparameter that :meth:`set_momentum` writes.
    hyperparameter_names : tuple of str
        Constructor arguments, in signature order.
    """

    momentum_attr = None
    hyperparameter_names: tuple = ()
    #: convention -> defaults of the hyperparameters that are None in the signature
    convention_defaults = {"torch": {}, "keras": {}}
    _kernel = ""              # key into kernels.KERNELS
    _state_names = ()         # every buffer this class may hold
    _scalar_state = ()        # extra scalar state saved by state_dict (Nadam: mu_product)

    lr = _Hyper(_nonneg)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        params = inspect.signature(cls.__init__).parameters.values()
        cls.hyperparameter_names = tuple(
            p.name for p in params
            if p.name not in ("self", "convention") and p.kind != p.VAR_KEYWORD)

    def __init__(self, unknown, convention="torch"):
        if unknown:
            bad = next(iter(unknown))
            valid = ", ".join(self.hyperparameter_names)
            raise TypeError(f"{type(self).__name__}: unknown hyperparameter {bad!r}; "
                            f"valid ones are {valid}")
        self.convention = check_choice("convention", convention, CONVENTIONS,
                                       owner=type(self).__name__)
        self.t = 0
        self.state = {}
        self._shape = None
        self._dtype = None
        self._params = self._grads = None     # the arrays of the last checked call

    # -- public API ------------------------------------------------------------
    def hyperparameters(self):
        """Return the hyperparameters as a dict, in signature order."""
        return {name: getattr(self, name) for name in self.hyperparameter_names}

    def set_momentum(self, value):
        """Set the momentum-like hyperparameter named by ``momentum_attr`` (for schedules).

        ``momentum`` on SGD and RMSprop, ``beta1`` on Adam, Adamax, Nadam and AdamW. The
        value is validated like the constructor argument. Raises ``TypeError`` on
        optimizers without one (Adagrad).
        """
        if self.momentum_attr is None:
            raise TypeError(f"{type(self).__name__} has no momentum hyperparameter to set; "
                            "use a schedule without momentum cycling")
        setattr(self, self.momentum_attr, value)

    def step(self, params, grads):
        """Update ``params`` in place from ``grads``; allocate the state on the first call.

        Both arrays must be 1-D, C-contiguous, of the same length and the same dtype
        (float32 or float64). A later call must use the shape and dtype of the first.
        """
        if params is not self._params or grads is not self._grads or (
                params.shape != self._shape or grads.shape != self._shape):
            self._check_arrays(params, grads)                 # full checks on new arrays
            for name in self._buffers():
                if name not in self.state:
                    self.state[name] = self._new_buffer(name)
            self._params, self._grads = params, grads
        self.t += 1
        self._update(params, grads, self._kernel_fn)

    def state_dict(self):
        """Return convention, hyperparameters, ``t``, scalar state and buffer *copies*."""
        d = {"optimizer": type(self).__name__, "convention": self.convention, "t": self.t,
             "hyperparameters": self.hyperparameters(),
             "shape": self._shape, "dtype": None if self._dtype is None else self._dtype.name,
             "state": {k: v.copy() for k, v in self.state.items()}}
        for name in self._scalar_state:
            d[name] = getattr(self, name)
        return d

    def load_state_dict(self, state_dict):
        """Restore a :meth:`state_dict` (hyperparameters, step count and buffer copies).

        Raises ``ValueError`` naming what differs: another optimizer class or
        convention, an unknown or missing buffer, or a buffer whose shape or dtype
        disagrees. A state without ``"convention"`` (saved before conventions existed)
        is a torch state.
        """
        owner = type(self).__name__
        d = state_dict
        if d.get("optimizer") != owner:
            raise ValueError(f"{owner}.load_state_dict: state is for {d.get('optimizer')!r}")
        convention = d.get("convention", "torch")
        if convention != self.convention:
            raise ValueError(f"{owner}.load_state_dict: state is for convention "
                             f"{convention!r}, this optimizer uses {self.convention!r}")
        shape = None if d["shape"] is None else tuple(d["shape"])
        dtype = None if d["dtype"] is None else np.dtype(d["dtype"])
        if dtype is not None and dtype not in _DTYPES:
            raise ValueError(f"{owner}.load_state_dict: unsupported dtype {dtype}")
        if (self._shape is not None and shape is not None
                and (shape, dtype) != (self._shape, self._dtype)):
            raise ValueError(f"{owner}.load_state_dict: state is for shape {shape} {dtype}, "
                             f"this optimizer has {self._shape} {self._dtype}")
        for name in d["hyperparameters"]:
            if name not in self.hyperparameter_names:
                raise ValueError(f"{owner}.load_state_dict: unknown hyperparameter {name!r}")
        fresh = type(self)(**d["hyperparameters"], convention=convention)   # validates
        hp = {k: v for k, v in vars(fresh).items() if k not in vars(Optimizer(None))}
        hp.pop("_params", None)
        buffers = {}
        for name, value in d["state"].items():
            value = np.asarray(value)
            if name not in self._state_names:
                raise ValueError(f"{owner}.load_state_dict: unknown state buffer {name!r}")
            if value.shape != shape or value.dtype != dtype:
                raise ValueError(f"{owner}.load_state_dict: state buffer {name!r} has "
                                 f"shape {value.shape} {value.dtype}, expected {shape} {dtype}")
            buffers[name] = np.array(value, order="C")          # a copy
        t = int(d["t"])
        if t > 0 and shape is not None:
            missing = [n for n in fresh._buffers() if n not in buffers]
            if missing:
                raise ValueError(f"{owner}.load_state_dict: missing state buffer {missing[0]!r}")
        vars(self).update(hp)
        for name in self._scalar_state:
            setattr(self, name, float(d[name]))
        self.t, self.state = t, buffers
        self._params = self._grads = None
        if shape is not None:
            self._adopt(shape, dtype)
        else:                         # a state saved before the first step: start afresh
            self._shape = self._dtype = None

    def __repr__(self):
        hp = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        keras = ", convention='keras'" if self.convention == "keras" else ""
        return f"{type(self).__name__}({hp}{keras}, t={self.t})"

    # -- internals -------------------------------------------------------------
    def _buffers(self):
        """Names of the buffers the next step needs (allocated when missing)."""
        return self._state_names

    def _new_buffer(self, name):
        return np.zeros(self._shape, self._dtype)

    def _weight_decay_args(self):
        """(L2 weight_decay, decay_factor) for the kernel: decoupled (``1 - lr*wd``) in
        the keras convention or with ``decoupled_weight_decay``, else L2."""
        wd = self.weight_decay
        if self.convention == "keras" or getattr(self, "decoupled_weight_decay", False):
            return 0.0, 1 - self.lr * wd
        return wd, 1.0

    def _adopt(self, shape, dtype):
        """Fix shape and dtype; choose the serial or parallel kernel by size."""
        self._shape, self._dtype, self._cast = shape, dtype, dtype.type
        self._parallel = shape[0] >= kernels.PARALLEL_MIN_SIZE
        # the compiled kernel for this dtype; it converts Python-float scalars to dtype
        self._kernel_fn = kernels.compiled(self._kernel, dtype, self._parallel)
        self._empty = np.zeros(0, dtype)      # stands in for buffers a flag switches off

    def _check_arrays(self, params, grads):
        owner = f"{type(self).__name__}.step"
        for label, a in (("params", params), ("grads", grads)):
            if not isinstance(a, np.ndarray):
                raise TypeError(f"{owner}: {label} must be a NumPy array, got {type(a).__name__}")
            if a.dtype not in _DTYPES:
                raise TypeError(f"{owner}: {label} must be float32 or float64, got {a.dtype}")
            if a.ndim != 1:
                raise ValueError(f"{owner}: {label} must be 1-D (flat), got shape {a.shape}")
            if not a.flags.c_contiguous:
                raise ValueError(f"{owner}: {label} must be C-contiguous; "
                                 "use np.ascontiguousarray")
        if not params.flags.writeable:
            raise ValueError(f"{owner}: params must be writeable")
        if params.dtype != grads.dtype:
            raise TypeError(f"{owner}: params and grads dtypes differ "
                            f"({params.dtype} vs {grads.dtype})")
        if params.shape != grads.shape:
            raise ValueError(f"{owner}: params and grads shapes differ "
                             f"({params.shape} vs {grads.shape})")
        if self._shape is None:
            self._adopt(params.shape, params.dtype)
        elif params.dtype != self._dtype:
            raise TypeError(f"{owner}: arrays are {params.dtype} but the optimizer state is "
                            f"{self._dtype} (from the first step)")
        elif params.shape != self._shape:
            raise ValueError(f"{owner}: arrays have shape {params.shape} but the optimizer "
                             f"state has shape {self._shape} (from the first step)")

    def _update(self, p, g, kernel):
        raise NotImplementedError


# ---------------------------------------------------------------- SGD
class SGD(Optimizer):
    r"""Stochastic gradient descent, with optional momentum and Nesterov momentum.

    Update rule
    -----------
    ::

        g   <- g + weight_decay * p                  (if weight_decay != 0)
        buf <- g                                     (first step with momentum)
        buf <- momentum * buf + g                    (later steps)
        d   <- g + momentum * buf                    (nesterov=True)
        d   <- buf                                   (momentum, no Nesterov)
        d   <- g                                     (momentum = 0)
        p   <- p - lr * d

    ``p`` are the parameters, ``g`` the gradient, ``buf`` the momentum buffer
    (``state["buf"]``, created on the first step with ``momentum != 0``).

    Update rule (keras)
    -------------------
    ::

        p   <- p * (1 - lr * weight_decay)           (decoupled, current lr)
        buf <- momentum * buf + lr * g               (buf starts at 0)
        d   <- lr * g + momentum * buf               (nesterov=True)
        d   <- buf                                   (momentum, no Nesterov)
        d   <- lr * g                                (momentum = 0)
        p   <- p - d

    ``buf`` is Keras's momentum variable with the sign flipped (Keras stores
    ``v = momentum*v - lr*g`` and adds it); the rounding is the same.

    Parameters
    ----------
    lr : float, default=1e-3 (torch) or 0.01 (keras)
        Learning rate, ``>= 0``. The convention's default.
    momentum : float, default=0.0
        Momentum factor ``mu`` in ``[0, 1)``. Registry presets: 0.9 for ``"momentum"``
        and ``"nesterov"``.
    nesterov : bool, default=False
        Nesterov momentum; requires ``momentum > 0``.
    weight_decay : float, default=0.0
        Coupled L2 penalty ``wd >= 0`` added to the gradient (torch), or decoupled decay
        ``p *= 1 - lr*wd`` (keras).
    convention : {"torch", "keras"}, default="torch"
        Whose update rule and defaults to follow.

    Attributes
    ----------
    state : dict
        ``buf``: the momentum buffer. ``t``: steps taken.

    Notes
    -----
    PyTorch keeps the learning rate outside the velocity (``buf = mu*buf + g;
    p -= lr*buf``). Keras, scikit-learn and the textbook (Sutskever et al.) put it inside
    (``v = mu*v - lr*g; p += v``; Nesterov ``p += mu*v - lr*g``). The two agree while the
    learning rate is constant and differ as soon as a schedule changes it: PyTorch
    rescales the whole accumulated buffer by the new lr. The first buffer is ``g`` itself,
    not ``(1 - dampening) g``; minitrain has no dampening. Keras's ``weight_decay`` is
    decoupled (``p -= lr*wd*p``); PyTorch's is L2 in the gradient. Without momentum the
    two weight decays give the same step, so plain SGD is the same algorithm in both.

    ``convention="keras"`` follows Keras 3's ``keras.optimizers.SGD``: the "Update rule
    (keras)" above, default lr 0.01 (momentum 0, nesterov False as in PyTorch).

    References
    ----------
    .. [1] Sutskever, Martens, Dahl, Hinton, "On the importance of initialization and
       momentum in deep learning", ICML 2013.
    .. [2] Nesterov, "A method for solving the convex programming problem with
       convergence rate O(1/k^2)", 1983.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([1.0, -2.0]); opt = SGD(lr=0.1, momentum=0.9, nesterov=True)
    >>> for _ in range(100):
    ...     opt.step(p, 2 * p)
    >>> bool(np.abs(p).max() < 1e-3)
    True
    """

    momentum_attr = "momentum"
    _kernel = "sgd"
    _state_names = ("buf",)

    convention_defaults = {"torch": dict(lr=1e-3), "keras": dict(lr=1e-2)}

    def __init__(self, lr=None, *, momentum=0.0, nesterov=False, weight_decay=0.0,
                 convention="torch", **unknown):
        super().__init__(unknown, convention)
        self.lr = lr
        self.nesterov = nesterov
        self.momentum = momentum
        self.weight_decay = _nonneg("weight_decay", weight_decay, "SGD")

    @property
    def momentum(self):
        return self._momentum

    @momentum.setter
    def momentum(self, value):
        value = _unit("momentum", value, "SGD")
        if self.nesterov and value <= 0:
            raise ValueError(f"SGD: nesterov=True requires momentum > 0, got {value!r}")
        self._momentum = value

    weight_decay = _Hyper(_nonneg)
    nesterov = _Flag()

    def _buffers(self):
        return ()                                   # buf: created by the first momentum step

    def _update(self, p, g, kernel):
        start = "buf" not in self.state and self._cast(self.momentum) != 0
        if start:                  # torch: the buffer starts as g; keras: at 0
            self.state["buf"] = self._new_buffer("buf")
        keras = self.convention == "keras"
        lr_in, lr_out = (self.lr, 1.0) if keras else (1.0, self.lr)
        kernel(p, g, self.state.get("buf", self._empty), lr_in, lr_out, self.momentum,
               *self._weight_decay_args(), self.nesterov, start and not keras)


# ---------------------------------------------------------------- Adagrad
class Adagrad(Optimizer):
    r"""AdaGrad: per-parameter steps scaled by the root of the summed squared gradients.

    Update rule
    -----------
    ::

        g <- g + weight_decay * p                    (if weight_decay != 0)
        s <- s + g * g
        p <- p - lr * g / (sqrt(s) + eps)

    ``s`` is the accumulator (``state["s"]``), starting at ``initial_accumulator``.

    Update rule (keras)
    -------------------
    ::

        p <- p * (1 - lr * weight_decay)             (decoupled, current lr)
        s <- s + g * g
        p <- p - lr * g / sqrt(s + eps)

    Parameters
    ----------
    lr : float, default=1e-2 (torch) or 1e-3 (keras)
        Learning rate, ``>= 0``.
    eps : float, default=1e-10 (torch) or 1e-7 (keras)
        Added to ``sqrt(s)``, outside the square root (torch), or to ``s`` inside it
        (keras); ``> 0``.
    initial_accumulator : float, default=0.0 (torch) or 0.1 (keras)
        Initial value of ``s`` (``initial_accumulator_value``), ``>= 0``.
    weight_decay : float, default=0.0
        Coupled L2 penalty added to the gradient (torch), or decoupled decay (keras).
    convention : {"torch", "keras"}, default="torch"
        Whose update rule and defaults to follow.

    Notes
    -----
    PyTorch puts ``eps`` outside the square root and starts the accumulator at 0 (then
    the first step of every coordinate with ``g != 0`` is ``lr * sign(g)`` up to eps).
    Keras and optax use ``g / sqrt(s + eps)`` with ``eps = 1e-7`` and start at 0.1, which
    gives much smaller first steps. PyTorch's ``lr_decay`` is not offered (use a schedule).

    ``convention="keras"`` follows ``keras.optimizers.Adagrad``: eps inside the square
    root, defaults lr 1e-3, eps 1e-7, initial_accumulator 0.1, decoupled weight decay.

    References
    ----------
    .. [1] Duchi, Hazan, Singer, "Adaptive subgradient methods for online learning and
       stochastic optimization", JMLR 12, 2011.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([1.0, -2.0]); opt = Adagrad(lr=0.5)
    >>> for _ in range(200):
    ...     opt.step(p, 2 * p)
    >>> bool(np.abs(p).max() < 1e-3)
    True
    """

    _kernel = "adagrad"
    _state_names = ("s",)

    convention_defaults = {"torch": dict(lr=1e-2, eps=1e-10, initial_accumulator=0.0),
                           "keras": dict(lr=1e-3, eps=1e-7, initial_accumulator=0.1)}

    def __init__(self, lr=None, *, eps=None, initial_accumulator=None, weight_decay=0.0,
                 convention="torch", **unknown):
        super().__init__(unknown, convention)
        self.lr = lr
        self.eps = eps
        self.initial_accumulator = initial_accumulator
        self.weight_decay = weight_decay

    eps = _Hyper(_positive)
    initial_accumulator = _Hyper(_nonneg)
    weight_decay = _Hyper(_nonneg)

    def _new_buffer(self, name):
        return np.full(self._shape, self.initial_accumulator, self._dtype)

    def _update(self, p, g, kernel):
        eps_in, eps_out = (self.eps, 0.0) if self.convention == "keras" else (0.0, self.eps)
        kernel(p, g, self.state["s"], self.lr, eps_in, eps_out, *self._weight_decay_args())


# ---------------------------------------------------------------- RMSprop
class RMSprop(Optimizer):
    r"""RMSprop: steps scaled by a running root mean square of the gradients.

    Update rule
    -----------
    ::

        g     <- g + weight_decay * p                (if weight_decay != 0)
        v     <- rho * v + (1 - rho) * g * g
        g_avg <- g_avg + (1 - rho) * (g - g_avg)     (centered=True)
        denom <- sqrt(v - g_avg * g_avg) + eps       (centered=True)
        denom <- sqrt(v) + eps                       (centered=False)
        buf   <- momentum * buf + g / denom          (momentum > 0)
        p     <- p - lr * buf                        (momentum > 0)
        p     <- p - lr * g / denom                  (momentum = 0)

    ``v`` is the mean square (``state["v"]``, torch's ``square_avg``), ``g_avg`` the
    mean gradient (centered only), ``buf`` the momentum buffer; all start at zero.

    Update rule (keras)
    -------------------
    ::

        p     <- p * (1 - lr * weight_decay)         (decoupled, current lr)
        v     <- rho * v + (1 - rho) * g * g
        g_avg <- rho * g_avg + (1 - rho) * g         (centered=True)
        denom <- sqrt(v + eps - g_avg * g_avg)       (centered=True)
        denom <- sqrt(v + eps)                       (centered=False)
        buf   <- momentum * buf + lr * g / denom     (momentum > 0)
        p     <- p - buf                             (momentum > 0)
        p     <- p - lr * g / denom                  (momentum = 0)

    Parameters
    ----------
    lr : float, default=1e-2 (torch) or 1e-3 (keras)
        Learning rate, ``>= 0``.
    rho : float, default=0.99 (torch) or 0.9 (keras)
        Decay of the mean square, in ``[0, 1)``; PyTorch's ``alpha``.
    eps : float, default=1e-8 (torch) or 1e-7 (keras)
        Added outside the square root (torch) or inside it (keras); ``> 0``.
    momentum : float, default=0.0
        Momentum factor in ``[0, 1)``.
    centered : bool, default=False
        Divide by an estimate of the gradient's standard deviation instead of its RMS.
    weight_decay : float, default=0.0
        Coupled L2 penalty added to the gradient (torch), or decoupled decay (keras).
    convention : {"torch", "keras"}, default="torch"
        Whose update rule and defaults to follow.

    Notes
    -----
    Keras and optax default to ``rho = 0.9``, put ``eps`` (1e-7) inside the square
    root, and keep the learning rate inside the momentum buffer
    (``buf = momentum*buf + lr*g/denom; p -= buf``), which differs from PyTorch's form
    as soon as the learning rate changes.

    ``convention="keras"`` follows ``keras.optimizers.RMSprop``: the "Update rule
    (keras)" above, defaults lr 1e-3, rho 0.9, eps 1e-7, decoupled weight decay.
    The centered mean gradient and the denominator follow Keras's torch backend in the
    order of operations too (they equal torch's forms up to rounding, which matters when
    ``v - g_avg**2`` cancels; Keras's other backends compute ``v - g_avg**2 + eps``).

    References
    ----------
    .. [1] Tieleman, Hinton, "Lecture 6.5 - RMSProp", COURSERA: Neural Networks for
       Machine Learning, 2012.
    .. [2] Graves, "Generating sequences with recurrent neural networks",
       arXiv:1308.0850, 2013 (the centered form).

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([1.0, -2.0]); opt = RMSprop(lr=0.01, centered=True, momentum=0.5)
    >>> for _ in range(400):
    ...     opt.step(p, 2 * p)
    >>> bool(np.abs(p).max() < 0.05)
    True
    """

    momentum_attr = "momentum"
    _kernel = "rmsprop"
    _state_names = ("v", "g_avg", "buf")

    convention_defaults = {"torch": dict(lr=1e-2, rho=0.99, eps=1e-8),
                           "keras": dict(lr=1e-3, rho=0.9, eps=1e-7)}

    def __init__(self, lr=None, *, rho=None, eps=None, momentum=0.0, centered=False,
                 weight_decay=0.0, convention="torch", **unknown):
        super().__init__(unknown, convention)
        self.lr = lr
        self.rho = rho
        self.eps = eps
        self.momentum = momentum
        self.centered = centered
        self.weight_decay = weight_decay

    rho = _Hyper(_unit)
    eps = _Hyper(_positive)
    momentum = _Hyper(_unit)
    weight_decay = _Hyper(_nonneg)
    centered = _Flag()

    def _buffers(self):
        return ("v", "g_avg") if self.centered else ("v",)

    def _update(self, p, g, kernel):
        s = self.state
        if "buf" not in s and self._cast(self.momentum) > 0:
            s["buf"] = self._new_buffer("buf")
        keras = self.convention == "keras"
        lr_in, lr_out = (self.lr, 1.0) if keras else (1.0, self.lr)
        eps_in, eps_out = (self.eps, 0.0) if keras else (0.0, self.eps)
        avg_keep, avg_sub = (self.rho, 0.0) if keras else (1.0, 1.0)
        kernel(p, g, s["v"], s.get("g_avg", self._empty), s.get("buf", self._empty),
               lr_in, lr_out, self.rho, 1 - self.rho, eps_in, eps_out, avg_keep, avg_sub,
               self.momentum, *self._weight_decay_args(), self.centered)


# ---------------------------------------------------------------- Adam
class Adam(Optimizer):
    r"""Adam, with the AMSGrad variant and optional decoupled weight decay.

    Update rule
    -----------
    ::

        p     <- p * (1 - lr * weight_decay)         (decoupled_weight_decay=True)
        g     <- g + weight_decay * p                (decoupled_weight_decay=False)
        m     <- m + (1 - beta1) * (g - m)           (= beta1 * m + (1 - beta1) * g)
        v     <- beta2 * v + (1 - beta2) * g * g
        v_max <- max(v_max, v)                       (amsgrad=True; then v_hat = v_max)
        v_hat <- v                                   (amsgrad=False)
        bc1   <- 1 - beta1**t ;  bc2 <- 1 - beta2**t
        p     <- p - (lr / bc1) * m / (sqrt(v_hat) / sqrt(bc2) + eps)

    ``m``, ``v``, ``v_max`` are ``state["m"]``, ``state["v"]``, ``state["v_max"]``
    (torch's ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``), starting at zero; ``t`` is
    the step count, 1 on the first step. ``bc1``, ``bc2`` and ``lr / bc1`` are computed in
    double precision.

    Update rule (keras)
    -------------------
    ::

        p     <- p * (1 - lr * weight_decay)         (decoupled, current lr)
        m     <- m + (1 - beta1) * (g - m)
        v     <- beta2 * v + (1 - beta2) * g * g
        v_max <- max(v_max, v)                       (amsgrad=True; then v_hat = v_max)
        v_hat <- v                                   (amsgrad=False)
        bc1   <- 1 - beta1**t ;  bc2 <- 1 - beta2**t
        p     <- p - (lr * sqrt(bc2) / bc1) * m / (sqrt(v_hat) + eps)

    This is "epsilon hat": eps is added before the bias correction, so it acts as
    PyTorch's eps times ``sqrt(bc2)`` (31.6 times smaller at t=1 with beta2=0.999).

    Parameters
    ----------
    lr : float, default=1e-3
        Learning rate, ``>= 0``.
    beta1 : float, default=0.9
        Decay of the first moment, in ``[0, 1)`` (torch's ``betas[0]``). Schedules set it
        through :meth:`set_momentum`.
    beta2 : float, default=0.999
        Decay of the second moment, in ``[0, 1)``.
    eps : float, default=1e-8 (torch) or 1e-7 (keras)
        Added to the bias-corrected ``sqrt(v_hat)`` (torch) or to the raw one (keras);
        ``> 0``.
    weight_decay : float, default=0.0
        L2 penalty (or decoupled decay with the flag below), ``>= 0``.
    amsgrad : bool, default=False
        Use the running maximum of the raw second moment ``v``.
    decoupled_weight_decay : bool, default=False (torch) or True (keras)
        Decay the weights directly, ``p *= 1 - lr*weight_decay`` with the current lr,
        before the moments (this is AdamW). Keras always decouples: False is refused
        with ``convention="keras"``.
    convention : {"torch", "keras"}, default="torch"
        Whose update rule and defaults to follow.

    Notes
    -----
    Keras and scikit-learn use the "epsilon hat" form
    ``p -= lr*sqrt(bc2)/bc1 * m/(sqrt(v) + eps)``, i.e. PyTorch with a time-varying
    ``eps*sqrt(bc2)``; their default eps is 1e-7 (Keras). optax's AMSGrad takes the max of
    the bias-corrected ``v``; PyTorch (and minitrain) take it over the raw ``v``. The
    moment ``m`` uses PyTorch's ``lerp`` form for ``beta1 > 0.5``; for ``beta1 <= 0.5``
    PyTorch's lerp takes its other branch, which differs in rounding only.

    ``convention="keras"`` follows ``keras.optimizers.Adam``: "epsilon hat" (the
    "Update rule (keras)" above), default eps 1e-7, decoupled weight decay (Keras's
    ``weight_decay`` argument); Keras's ``m = beta1*m + (1-beta1)*g`` differs from the
    form above in rounding only.

    References
    ----------
    .. [1] Kingma, Ba, "Adam: A method for stochastic optimization", ICLR 2015,
       arXiv:1412.6980.
    .. [2] Reddi, Kale, Kumar, "On the convergence of Adam and beyond", ICLR 2018
       (AMSGrad).

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([1.0, -2.0]); opt = Adam(lr=0.05, amsgrad=True)
    >>> for _ in range(300):
    ...     opt.step(p, 2 * p)
    >>> bool(np.abs(p).max() < 0.05)
    True
    """

    momentum_attr = "beta1"
    _kernel = "adam"
    _state_names = ("m", "v", "v_max")
    _decoupled = None         # AdamW fixes it to True

    convention_defaults = {
        "torch": dict(lr=1e-3, eps=1e-8, decoupled_weight_decay=False),
        "keras": dict(lr=1e-3, eps=1e-7, decoupled_weight_decay=True)}

    def __init__(self, lr=None, *, beta1=0.9, beta2=0.999, eps=None, weight_decay=0.0,
                 amsgrad=False, decoupled_weight_decay=None, convention="torch", **unknown):
        super().__init__(unknown, convention)
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weight_decay = weight_decay
        self.amsgrad = amsgrad
        if self._decoupled is None:
            self.decoupled_weight_decay = _decoupled_flag(self, decoupled_weight_decay)

    beta1 = _Hyper(_unit)
    beta2 = _Hyper(_unit)
    eps = _Hyper(_positive)
    weight_decay = _Hyper(_nonneg)
    amsgrad = _Flag()

    def _buffers(self):
        return ("m", "v", "v_max") if self.amsgrad else ("m", "v")

    def _update(self, p, g, kernel):
        s, t, lr, beta1, beta2 = self.state, self.t, self.lr, self.beta1, self.beta2
        bias_correction1 = 1 - beta1 ** t
        bias_correction2 = 1 - beta2 ** t
        if self.convention == "keras":        # eps hat: sqrt(bc2) moves into the step
            step_size, bc2_sqrt = lr * bias_correction2 ** 0.5 / bias_correction1, 1.0
        else:
            step_size, bc2_sqrt = lr / bias_correction1, bias_correction2 ** 0.5
        kernel(p, g, s["m"], s["v"], s.get("v_max", self._empty),
               step_size, 1 - beta1, beta2, 1 - beta2, bc2_sqrt, self.eps,
               *self._weight_decay_args(), self.amsgrad)


# ---------------------------------------------------------------- Adamax
class Adamax(Optimizer):
    r"""AdaMax: Adam with the infinity norm in place of the second moment.

    Update rule
    -----------
    ::

        g <- g + weight_decay * p                    (if weight_decay != 0)
        m <- m + (1 - beta1) * (g - m)
        u <- max(beta2 * u, |g| + eps)
        p <- p - (lr / (1 - beta1**t)) * m / u

    ``m`` and ``u`` are ``state["m"]`` and ``state["u"]`` (torch's ``exp_avg``,
    ``exp_inf``), starting at zero; ``t`` is the step count.

    Update rule (keras)
    -------------------
    ::

        p <- p * (1 - lr * weight_decay)             (decoupled, current lr)
        m <- m + (1 - beta1) * (g - m)
        u <- max(beta2 * u, |g|)
        p <- p - (lr / (1 - beta1**t)) * m / (u + eps)

    Parameters
    ----------
    lr : float, default=2e-3 (torch) or 1e-3 (keras)
        Learning rate, ``>= 0`` (PyTorch's default is the paper's).
    beta1 : float, default=0.9
        Decay of the first moment, in ``[0, 1)``.
    beta2 : float, default=0.999
        Decay of the infinity norm, in ``[0, 1)``.
    eps : float, default=1e-8 (torch) or 1e-7 (keras)
        Added to ``|g|`` inside the max (torch) or to ``u`` in the denominator (keras);
        ``> 0``.
    weight_decay : float, default=0.0
        Coupled L2 penalty added to the gradient (torch), or decoupled decay (keras).
    convention : {"torch", "keras"}, default="torch"
        Whose update rule and defaults to follow.

    Notes
    -----
    PyTorch and optax put ``eps`` inside the max. Keras computes
    ``u = max(beta2*u, |g|)`` and divides by ``u + eps`` (eps 1e-7, lr 1e-3):
    ``convention="keras"`` follows ``keras.optimizers.Adamax`` (the "Update rule
    (keras)" above, those defaults, decoupled weight decay).

    References
    ----------
    .. [1] Kingma, Ba, "Adam: A method for stochastic optimization", ICLR 2015, §7.1.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([1.0, -2.0]); opt = Adamax(lr=0.05)
    >>> for _ in range(300):
    ...     opt.step(p, 2 * p)
    >>> bool(np.abs(p).max() < 0.05)
    True
    """

    momentum_attr = "beta1"
    _kernel = "adamax"
    _state_names = ("m", "u")

    convention_defaults = {"torch": dict(lr=2e-3, eps=1e-8),
                           "keras": dict(lr=1e-3, eps=1e-7)}

    def __init__(self, lr=None, *, beta1=0.9, beta2=0.999, eps=None, weight_decay=0.0,
                 convention="torch", **unknown):
        super().__init__(unknown, convention)
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weight_decay = weight_decay

    beta1 = _Hyper(_unit)
    beta2 = _Hyper(_unit)
    eps = _Hyper(_positive)
    weight_decay = _Hyper(_nonneg)

    def _update(self, p, g, kernel):
        s = self.state
        eps_in, eps_out = (0.0, self.eps) if self.convention == "keras" else (self.eps, 0.0)
        kernel(p, g, s["m"], s["u"], self.lr / (1 - self.beta1 ** self.t),
               1 - self.beta1, self.beta2, eps_in, eps_out, *self._weight_decay_args())


# ---------------------------------------------------------------- Nadam
class Nadam(Optimizer):
    r"""NAdam: Adam with Nesterov momentum and Dozat's momentum-decay schedule.

    Update rule
    -----------
    ::

        p       <- p * (1 - lr * weight_decay)       (decoupled_weight_decay=True)
        g       <- g + weight_decay * p              (decoupled_weight_decay=False)
        mu      <- beta1 * (1 - 0.5 * 0.96**(t * momentum_decay))
        mu_next <- beta1 * (1 - 0.5 * 0.96**((t + 1) * momentum_decay))
        mu_product <- mu_product * mu                (starts at 1)
        m       <- m + (1 - beta1) * (g - m)
        v       <- beta2 * v + (1 - beta2) * g * g
        denom   <- sqrt(v / (1 - beta2**t)) + eps
        p       <- p - lr * (1 - mu) / (1 - mu_product) * g / denom
        p       <- p - lr * mu_next / (1 - mu_product * mu_next) * m / denom

    ``m``, ``v`` are ``state["m"]``, ``state["v"]``; ``mu_product`` is the attribute of
    that name (saved by :meth:`state_dict`); ``t`` is the step count.

    Update rule (keras)
    -------------------
    ::

        p       <- p * (1 - lr * weight_decay)       (decoupled, current lr)
        mu      <- beta1 * (1 - 0.5 * 0.96**t)       (momentum_decay = 1)
        mu_next <- beta1 * (1 - 0.5 * 0.96**(t + 1))
        mu_product <- mu_product * mu                (starts at 1, in the array dtype)
        m       <- m + (1 - beta1) * (g - m)
        v       <- beta2 * v + (1 - beta2) * g * g
        denom   <- sqrt(v / (1 - beta2**t)) + eps
        p       <- p - lr * (1 - mu) / (1 - mu_product) * g / denom
        p       <- p - lr * mu_next / (1 - mu_product * mu_next) * m / denom

    Parameters
    ----------
    lr : float, default=2e-3 (torch) or 1e-3 (keras)
        Learning rate, ``>= 0``.
    beta1 : float, default=0.9
        Base momentum ``mu``, in ``[0, 1)``; the schedule rises from ``0.45*beta1``
        towards ``beta1``.
    beta2 : float, default=0.999
        Decay of the second moment, in ``[0, 1)``.
    eps : float, default=1e-8 (torch) or 1e-7 (keras)
        Added to the bias-corrected ``sqrt(v)``; ``> 0``.
    weight_decay : float, default=0.0
        L2 penalty, or decoupled decay with the flag below.
    momentum_decay : float, default=4e-3 (torch) or 1.0 (keras)
        ``psi`` of the schedule ``0.96**(t*psi)``; ``>= 0``. Keras has no such argument:
        its schedule is ``0.96**t``.
    decoupled_weight_decay : bool, default=False (torch) or True (keras)
        Decay the weights directly, ``p *= 1 - lr*weight_decay`` (torch's NAdamW form).
        Keras always decouples: False is refused with ``convention="keras"``.
    convention : {"torch", "keras"}, default="torch"
        Whose update rule and defaults to follow.

    Notes
    -----
    "Nadam" names three algorithms. PyTorch (and minitrain) use Dozat's schedule
    ``0.96**(t*0.004)``. Keras uses ``0.96**t``, which is minitrain with
    ``momentum_decay=1`` (and Keras's eps 1e-7, lr 1e-3). optax and TF1 use a constant
    ``beta1``. Like PyTorch under its default dtype, ``mu_product`` is kept in float32
    (class attribute ``mu_product_dtype``); set it to ``np.float64`` to match PyTorch run
    with ``torch.set_default_dtype(torch.float64)``.

    ``convention="keras"`` follows ``keras.optimizers.Nadam``: ``momentum_decay = 1``,
    eps 1e-7, lr 1e-3, decoupled weight decay, and ``mu_product`` kept in the dtype of
    the parameters (Keras's ``u_product`` variable).

    References
    ----------
    .. [1] Dozat, "Incorporating Nesterov momentum into Adam", ICLR 2016 workshop.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([1.0, -2.0]); opt = Nadam(lr=0.05)
    >>> for _ in range(300):
    ...     opt.step(p, 2 * p)
    >>> bool(np.abs(p).max() < 0.05)
    True
    """

    momentum_attr = "beta1"
    mu_product_dtype = np.float32
    _kernel = "nadam"
    _state_names = ("m", "v")
    _scalar_state = ("mu_product",)

    convention_defaults = {
        "torch": dict(lr=2e-3, eps=1e-8, momentum_decay=4e-3, decoupled_weight_decay=False),
        "keras": dict(lr=1e-3, eps=1e-7, momentum_decay=1.0, decoupled_weight_decay=True)}

    def __init__(self, lr=None, *, beta1=0.9, beta2=0.999, eps=None, weight_decay=0.0,
                 momentum_decay=None, decoupled_weight_decay=None, convention="torch",
                 **unknown):
        super().__init__(unknown, convention)
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weight_decay = weight_decay
        self.momentum_decay = momentum_decay
        self.decoupled_weight_decay = _decoupled_flag(self, decoupled_weight_decay)
        self.mu_product = 1.0

    beta1 = _Hyper(_unit)
    beta2 = _Hyper(_unit)
    eps = _Hyper(_positive)
    weight_decay = _Hyper(_nonneg)
    momentum_decay = _Hyper(_nonneg)

    def _update(self, p, g, kernel):
        s, t, lr = self.state, self.t, self.lr
        f = self._dtype.type if self.convention == "keras" else self.mu_product_dtype
        mu = self.beta1 * (1.0 - 0.5 * 0.96 ** (t * self.momentum_decay))
        mu_next = self.beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * self.momentum_decay))
        self.mu_product = float(f(self.mu_product) * f(mu))
        mu_product_next = self.mu_product * mu_next
        kernel(p, g, s["m"], s["v"], lr * (1.0 - mu) / (1.0 - self.mu_product),
               lr * mu_next / (1.0 - mu_product_next), 1 - self.beta1, self.beta2,
               1 - self.beta2, 1 - self.beta2 ** t, self.eps, *self._weight_decay_args())


# ---------------------------------------------------------------- AdamW
class AdamW(Adam):
    r"""AdamW: Adam with decoupled weight decay (default 1e-2).

    Update rule
    -----------
    ::

        p     <- p * (1 - lr * weight_decay)         (current lr, before the moments)
        m     <- m + (1 - beta1) * (g - m)
        v     <- beta2 * v + (1 - beta2) * g * g
        v_max <- max(v_max, v)                       (amsgrad=True; then v_hat = v_max)
        v_hat <- v                                   (amsgrad=False)
        bc1   <- 1 - beta1**t ;  bc2 <- 1 - beta2**t
        p     <- p - (lr / bc1) * m / (sqrt(v_hat) / sqrt(bc2) + eps)

    The symbols are those of :class:`Adam`; this is ``Adam(decoupled_weight_decay=True)``
    with PyTorch's AdamW default ``weight_decay=1e-2``.

    Update rule (keras)
    -------------------
    ::

        p     <- p * (1 - lr * weight_decay)         (current lr, before the moments)
        m     <- m + (1 - beta1) * (g - m)
        v     <- beta2 * v + (1 - beta2) * g * g
        v_max <- max(v_max, v)                       (amsgrad=True; then v_hat = v_max)
        v_hat <- v                                   (amsgrad=False)
        bc1   <- 1 - beta1**t ;  bc2 <- 1 - beta2**t
        p     <- p - (lr * sqrt(bc2) / bc1) * m / (sqrt(v_hat) + eps)

    Parameters
    ----------
    lr : float, default=1e-3
        Learning rate, ``>= 0``.
    beta1 : float, default=0.9
        Decay of the first moment, in ``[0, 1)``.
    beta2 : float, default=0.999
        Decay of the second moment, in ``[0, 1)``.
    eps : float, default=1e-8 (torch) or 1e-7 (keras)
        Added to the bias-corrected ``sqrt(v_hat)`` (torch) or the raw one (keras);
        ``> 0``.
    weight_decay : float, default=1e-2 (torch) or 0.004 (keras)
        Decoupled decay rate ``>= 0``, multiplied by the current learning rate.
    amsgrad : bool, default=False
        Use the running maximum of the raw second moment.
    convention : {"torch", "keras"}, default="torch"
        Whose update rule and defaults to follow.

    Notes
    -----
    As in PyTorch, Keras and optax, the decay is multiplied by the *scheduled* learning
    rate (``lr * wd``), not by a separate schedule multiplier as in Loshchilov & Hutter's
    Algorithm 2, so a learning rate of 0 also stops the decay. Defaults differ: Keras
    ``weight_decay=0.004`` (and eps-hat Adam, eps 1e-7), optax ``1e-4``.
    ``convention="keras"`` follows ``keras.optimizers.AdamW``: the "Update rule
    (keras)" above with those defaults.

    References
    ----------
    .. [1] Loshchilov, Hutter, "Decoupled weight decay regularization", ICLR 2019,
       arXiv:1711.05101.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([1.0, -2.0]); opt = AdamW(lr=0.05, weight_decay=0.1)
    >>> for _ in range(300):
    ...     opt.step(p, 2 * p)
    >>> bool(np.abs(p).max() < 0.05)
    True
    """

    _decoupled = True
    decoupled_weight_decay = True

    convention_defaults = {"torch": dict(lr=1e-3, eps=1e-8, weight_decay=1e-2),
                           "keras": dict(lr=1e-3, eps=1e-7, weight_decay=4e-3)}

    def __init__(self, lr=None, *, beta1=0.9, beta2=0.999, eps=None, weight_decay=None,
                 amsgrad=False, convention="torch", **unknown):
        Optimizer.__init__(self, unknown, convention)   # rejects unknown names (AdamW's)
        super().__init__(lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, convention=convention)


# ---------------------------------------------------------------- registry
class _Entry(NamedTuple):
    cls: type
    presets: dict
    hyperparameters: tuple
    description: str


def _all(cls, drop=()):
    return tuple(n for n in cls.hyperparameter_names if n not in drop)


_REGISTRY = {
    "sgd": _Entry(SGD, {}, ("lr", "weight_decay"),
                  "plain stochastic gradient descent: p -= lr * g"),
    "momentum": _Entry(SGD, {"momentum": 0.9}, ("lr", "momentum", "weight_decay"),
                       "SGD with (PyTorch-form) momentum 0.9"),
    "nesterov": _Entry(SGD, {"momentum": 0.9, "nesterov": True},
                       ("lr", "momentum", "weight_decay"),
                       "SGD with Nesterov momentum 0.9"),
    "adagrad": _Entry(Adagrad, {}, _all(Adagrad),
                      "AdaGrad: steps divided by the root of the summed squared gradients"),
    "rmsprop": _Entry(RMSprop, {}, _all(RMSprop),
                      "RMSprop: steps divided by a running RMS of the gradients"),
    "adam": _Entry(Adam, {}, _all(Adam),
                   "Adam: bias-corrected first and second moments (Kingma & Ba 2015)"),
    "adamax": _Entry(Adamax, {}, _all(Adamax),
                     "AdaMax: Adam with an infinity-norm second moment"),
    "nadam": _Entry(Nadam, {}, _all(Nadam),
                    "NAdam: Adam with Nesterov momentum and a momentum-decay schedule"),
    "adamw": _Entry(AdamW, {}, _all(AdamW),
                    "AdamW: Adam with decoupled weight decay 1e-2 (Loshchilov & Hutter)"),
}


def _entry(name):
    return _REGISTRY[check_choice("optimizer", name, tuple(_REGISTRY))]


def names():
    """Registry names, in order of complexity."""
    return tuple(_REGISTRY)


def hyperparameters(name):
    """Hyperparameter names that ``get(name, ...)`` accepts, as a tuple."""
    return _entry(name).hyperparameters


def _convention(convention):
    return check_choice("convention", convention, CONVENTIONS)


def defaults(name, convention="torch"):
    """Hyperparameter -> default value for registry ``name`` (presets applied).

    The defaults of ``convention`` (``"torch"`` or ``"keras"``): a signature default of
    None is looked up in the class's ``convention_defaults``.
    """
    e = _entry(name)
    table = e.cls.convention_defaults[_convention(convention)]
    sig = inspect.signature(e.cls.__init__).parameters
    out = {}
    for n in e.hyperparameters:
        value = sig[n].default
        out[n] = e.presets.get(n, table[n] if value is None else value)
    return out


def describe(name):
    """One line describing registry ``name``."""
    e = _entry(name)
    return f"{name}: {e.description}"


def get(name, convention="torch", **hp):
    """Build the optimizer registered as ``name`` with hyperparameters ``hp``.

    ``convention`` is ``"torch"`` (PyTorch's update rule and defaults) or ``"keras"``
    (Keras 3's); hyperparameters not given take that convention's defaults.

    Raises ``ValueError`` for an unknown name or convention and ``TypeError`` for a
    hyperparameter this optimizer does not take (the message lists the valid ones).
    """
    e = _entry(name)
    for key in hp:
        if key not in e.hyperparameters:
            raise TypeError(f"{name}: unknown hyperparameter {key!r}; valid ones are "
                            f"{', '.join(e.hyperparameters)}")
    return e.cls(**{**e.presets, **hp}, convention=_convention(convention))


def parse_spec(spec):
    """``"adam@keras"`` -> ``("adam", "keras")``; ``"adam"`` -> ``("adam", "torch")``.

    The syntax ``NAME[@CONVENTION]`` lets a command put the same optimizer under both
    conventions side by side (``--optimizers adam,adam@keras``). Raises ``ValueError``
    naming the bad part.

    >>> parse_spec("nesterov@keras"), parse_spec(" sgd ")
    (('nesterov', 'keras'), ('sgd', 'torch'))
    """
    if not isinstance(spec, str):
        raise TypeError(f"optimizer spec must be a string like 'adam@keras', got {spec!r}")
    name, sep, convention = spec.strip().partition("@")
    if sep and not convention:
        raise ValueError(f"optimizer spec must be NAME or NAME@CONVENTION, got {spec!r}")
    name = check_choice("optimizer", name.strip(), tuple(_REGISTRY))
    return name, _convention(convention.strip() if sep else "torch")


def update_rule(name_or_class, convention="torch"):
    """Return the "Update rule" block of an optimizer's docstring, dedented (for explain).

    With ``convention="keras"`` the "Update rule (keras)" block.
    """
    cls = name_or_class if isinstance(name_or_class, type) else _entry(name_or_class).cls
    title = "Update rule" if _convention(convention) == "torch" else r"Update rule \(keras\)"
    doc = inspect.getdoc(cls)
    match = re.search(title + r"\n-+\n::\n\n(.*?)\n\n", doc, re.S)
    lines = match.group(1).splitlines()
    indent = min(len(s) - len(s.lstrip()) for s in lines if s.strip())
    return "\n".join(s[indent:] for s in lines)
