"""The :class:`Optimizer` base class and the validated hyperparameter attributes.

What every optimizer shares: the learning rate, the step count ``t``, the state buffers,
the array checks, ``state_dict``/``load_state_dict``, and what happens to the gradient
before the update rule sees it (:meth:`Optimizer._prepare`): ``maximize``, clipping
(``clipnorm``, ``clipvalue``, ``global_clipnorm``) and the weight-decay mask
(:meth:`Optimizer.exclude_from_weight_decay`). The update rule itself is one kernel call
in the subclass's ``_update``.

Defaults have one home, the registry in :mod:`minitrain.optim`: a hyperparameter
assigned ``None`` (the signature default) takes the registry default of the optimizer's
convention.
"""
from __future__ import annotations

import inspect
import math

import numpy as np

from minitrain import optim as registry
from minitrain._validation import check_choice, check_range
from minitrain.optim import _compile

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


# ---------------------------------------------------------------- hyperparameters
def unit(name, value, owner):
    return check_range(name, value, 0.0, 1.0, owner=owner, hi_open=True)


def fraction(name, value, owner):
    return check_range(name, value, 0.0, 1.0, owner=owner)


def nonneg(name, value, owner):
    return check_range(name, value, 0.0, owner=owner)


def positive(name, value, owner):
    return check_range(name, value, 0.0, owner=owner, lo_open=True)


def optional_positive(name, value, owner):
    return None if value is None else positive(name, value, owner)


def flag(name, value, owner):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be True or False, got {value!r}")
    return bool(value)


def decoupled_flag(opt, value):
    """``decoupled_weight_decay``: the convention's default for None; Keras refuses False."""
    owner = type(opt).__name__
    if value is None:
        return opt.convention_defaults[opt.convention]["decoupled_weight_decay"]
    value = flag("decoupled_weight_decay", value, owner)
    if opt.convention == "keras" and not value:
        raise ValueError(f"{owner}: decoupled_weight_decay must be True with "
                         f"convention='keras' (Keras always decouples), got False")
    return value


class Hyper:
    """A validated hyperparameter attribute: assigning it (also later) runs the check.

    Assigning ``None`` assigns the registry default of the optimizer's convention.
    Reading it is a plain instance-dict lookup: the descriptor has no ``__get__`` (a
    data descriptor without one lets the instance dict answer, which keeps the few
    reads of a step cheap).
    """

    def __init__(self, check):
        self.check = check

    def __set_name__(self, owner, name):
        self.name = name

    def __set__(self, obj, value):
        if value is None:
            value = obj.convention_defaults[obj.convention].get(self.name)
        obj.__dict__[self.name] = self.check(self.name, value, type(obj).__name__)


class Flag(Hyper):
    """A boolean hyperparameter; changing it re-checks the buffers on the next step."""

    def __init__(self):
        super().__init__(flag)

    def __set__(self, obj, value):
        super().__set__(obj, value)
        obj.__dict__["_params"] = None


class Prepared(Hyper):
    """An option of the gradient preparation (``maximize``); setting it re-plans the step."""

    def __set__(self, obj, value):
        super().__set__(obj, value)
        obj._plan()


class Clip(Prepared):
    """A clipping threshold (None: off); at most one of the three is set."""

    def __init__(self):
        super().__init__(optional_positive)

    def __set__(self, obj, value):
        value = self.check(self.name, value, type(obj).__name__)
        given = [n for n in ("clipnorm", "clipvalue", "global_clipnorm")
                 if n != self.name and obj.__dict__.get(n) is not None]
        if value is not None and given:
            raise ValueError(f"{type(obj).__name__}: give at most one of clipnorm, clipvalue "
                             f"and global_clipnorm (as Keras), got {self.name} and {given[0]}")
        obj.__dict__[self.name] = value
        obj._plan()


def _torch_clip_coef(max_norm, norm):
    """clip_grad_norm_'s factor ``clamp(max_norm / (norm + 1e-6), max=1)``: an inf norm
    gives 0, a NaN norm NaN (torch.clamp propagates NaN)."""
    coef = max_norm / (norm + 1e-6)
    return coef if math.isnan(coef) else min(1.0, coef)


# ---------------------------------------------------------------- base class
class Optimizer:
    """Base class: learning rate, step count, state buffers, gradient preparation, checks.

    Subclasses set ``registry_name`` (their defaults, conventions and ``momentum_attr``
    come from that registry entry), define ``__init__`` with their hyperparameters as
    keyword arguments defaulting to None (the names are read from that signature;
    ``convention`` is not a hyperparameter), ``kernel`` (a :class:`_compile.Kernel`),
    ``_buffers()`` (the state buffers the next step needs) and ``_update(p, g, kernel)``
    (one kernel call).

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
    maximize : bool
        Ascend: the update rule sees ``-g`` (torch's ``maximize``).
    clipnorm, clipvalue, global_clipnorm : float or None
        Gradient clipping before the update (at most one): see :meth:`_prepare`.
    """

    registry_name = None
    momentum_attr = None
    conventions = ("torch", "keras")
    hyperparameter_names: tuple = ()
    #: convention -> defaults (the registry entry's table)
    convention_defaults = {"torch": {}, "keras": {}}
    kernel = None             # the Kernel of the update rule
    _state_names = ()         # every buffer this class may hold
    _scalar_state = ()        # extra scalar state saved by state_dict (Nadam: mu_product)

    lr = Hyper(nonneg)
    maximize = Prepared(flag)
    clipnorm = Clip()
    clipvalue = Clip()
    global_clipnorm = Clip()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        params = inspect.signature(cls.__init__).parameters.values()
        cls.hyperparameter_names = tuple(
            p.name for p in params
            if p.name not in ("self", "convention") and p.kind != p.VAR_KEYWORD)
        if cls.registry_name is not None:
            entry = registry._REGISTRY[cls.registry_name]
            cls.convention_defaults = entry.defaults
            cls.conventions = entry.conventions
            cls.momentum_attr = entry.momentum_attr
            table = next(iter(entry.defaults.values()))
            if tuple(table) != cls.hyperparameter_names:     # import-time, not a test
                raise TypeError(f"{cls.__name__}.__init__ arguments "
                                f"{cls.hyperparameter_names} differ from the registry's "
                                f"{tuple(table)}")

    def __init__(self, unknown, convention=None, *, maximize=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None):
        owner = type(self).__name__
        if unknown:
            bad = next(iter(unknown))
            valid = ", ".join(self.hyperparameter_names)
            raise TypeError(f"{owner}: unknown hyperparameter {bad!r}; valid ones are {valid}")
        if convention is None:
            convention = self.conventions[0]
        convention = check_choice("convention", convention, registry.CONVENTIONS, owner=owner)
        if convention not in self.conventions:
            raise ValueError(f"{owner}: convention must be "
                             f"{' or '.join(map(repr, self.conventions))} ({owner} has no "
                             f"{convention} form), got {convention!r}")
        self.convention = convention
        self.t = 0
        self.state = {}
        self._shape = None
        self._dtype = None
        self._params = self._grads = None     # the arrays of the last checked call
        self._blocks = None                   # [(start, stop)] from set_layout
        self._excluded = []                   # exclude_from_weight_decay arguments
        self._decay_mask = None               # bool, True where weight decay applies
        self._work = None                     # the prepared gradient (when one is needed)
        self._prepares = False                # see _plan
        self.maximize = maximize
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm

    # -- public API ------------------------------------------------------------
    def hyperparameters(self):
        """Return the hyperparameters as a dict, in signature order."""
        return {name: getattr(self, name) for name in self.hyperparameter_names}

    def set_momentum(self, value):
        """Set the momentum-like hyperparameter named by ``momentum_attr`` (for schedules).

        ``momentum`` on SGD and RMSprop, ``beta1`` on the Adam family and Lion. The value
        is validated like the constructor argument. Raises ``TypeError`` on optimizers
        without one (Adagrad).
        """
        if self.momentum_attr is None:
            raise TypeError(f"{type(self).__name__} has no momentum hyperparameter to set; "
                            "use a schedule without momentum cycling")
        setattr(self, self.momentum_attr, value)

    def set_layout(self, blocks):
        """Tell the optimizer where the variables lie in the flat array.

        ``blocks`` is a list of ``(start, stop)`` over the flat parameters, in
        ``W1, b1, W2, b2, ...`` order (``MLP.param_blocks``). Keras's ``clipnorm`` and
        torch's per-tensor clipping then clip each block by its own norm; without a
        layout the whole array is one block. The blocks must tile ``[0, n)``.
        """
        owner = f"{type(self).__name__}.set_layout"
        out, position = [], 0
        for block in blocks:
            start, stop = (int(x) for x in block)
            if start != position or stop <= start:
                raise ValueError(f"{owner}: blocks must be consecutive non-empty (start, stop) "
                                 f"pairs from 0, got {tuple(block)!r} after {position}")
            out.append((start, stop))
            position = stop
        if self._shape is not None and position != self._shape[0]:
            raise ValueError(f"{owner}: blocks cover {position} entries, the parameters "
                             f"have {self._shape[0]}")
        self._blocks = out

    def exclude_from_weight_decay(self, where):
        """Exclude entries of the flat parameters from weight decay (coupled or decoupled).

        ``where`` is a boolean mask over the flat array (True: no decay), e.g.
        ``MLP.bias_mask``, or integer indices. Calling it again adds to the excluded
        entries; ``None`` clears them. Sizes and index ranges are checked now when the
        parameter count is known (after a step), else at the next step.
        """
        owner = f"{type(self).__name__}.exclude_from_weight_decay"
        if where is None:
            self._excluded, self._decay_mask = [], None
            self._plan()
            return
        where = np.array(where)                                   # a copy
        if where.dtype == bool:
            if where.ndim != 1:
                raise ValueError(f"{owner}: mask must be 1-D, got shape {where.shape}")
        elif np.issubdtype(where.dtype, np.integer) or where.size == 0:
            where = where.astype(np.int64).ravel()
        else:
            raise TypeError(f"{owner}: where must be a boolean mask or integer indices, "
                            f"got dtype {where.dtype}")
        excluded = [*self._excluded, where]
        self._decay_mask = None
        if self._shape is not None:
            self._build_decay_mask(self._shape[0], excluded)      # check now
        self._excluded = excluded
        self._plan()

    def _build_decay_mask(self, n, excluded=None):
        """The bool mask, True where weight decay applies, from the excluded entries."""
        owner = f"{type(self).__name__}.exclude_from_weight_decay"
        keep = np.ones(n, bool)
        for where in self._excluded if excluded is None else excluded:
            if where.dtype == bool:
                if where.shape[0] != n:
                    raise ValueError(f"{owner}: mask has {where.shape[0]} entries, the "
                                     f"parameters have {n}")
                keep &= ~where
            else:
                if where.size and (where.min() < -n or where.max() >= n):
                    raise ValueError(f"{owner}: indices must be in [-{n}, {n}), got "
                                     f"{where.min()}..{where.max()}")
                keep[where] = False
        self._decay_mask = keep
        return keep

    def step(self, params, grads):
        """Update ``params`` in place from ``grads``; allocate the state on the first call.

        Both arrays must be 1-D, C-contiguous, of the same length and the same dtype
        (float32 or float64). A later call must use the shape and dtype of the first.
        ``grads`` is never modified (clipping works on a copy).
        """
        grads = self._next(params, grads)
        if self._kernel_fn is None:           # compiled (or loaded) on the first step
            self._kernel_fn = self.kernel.compiled(self._dtype, self._parallel)
        self._update(params, grads, self._kernel_fn)

    def _next(self, params, grads):
        """Check new arrays, allocate missing state, count the step; the gradient the
        update rule sees (``grads``, or a prepared copy)."""
        if params is not self._params or grads is not self._grads or (
                params.shape != self._shape or grads.shape != self._shape):
            self._check_arrays(params, grads)                 # full checks on new arrays
            for name in self._buffers():
                if name not in self.state:
                    self.state[name] = self._new_buffer(name)
            self._params, self._grads = params, grads
        self.t += 1
        if self._prepares:                    # maximize, clipping or a decay mask
            grads = self._prepare(params, grads)
        return grads

    @property
    def plannable(self):
        """True when a step's kernel arguments do not depend on the gradient's values
        (no maximize, clipping or decay mask), so :meth:`plan_step` may run ahead."""
        return not self._prepares

    def plan_step(self, params, grads):
        """Advance the optimizer by one step as :meth:`step` does, but return the kernel
        call instead of making it: ``(kernel, buffers, scalars, flags)``.

        ``kernel`` is the Numba dispatcher (serial or parallel twin) that
        ``kernel(params, grads, *buffers, *scalars, *flags)`` runs the step with, once
        ``grads`` holds this step's gradient. For the compiled minibatch loop
        (:mod:`minitrain._chunks`); only when :attr:`plannable`.
        """
        if self._prepares:
            raise RuntimeError(f"{type(self).__name__}.plan_step: the step needs the "
                               "gradient's values (maximize, clipping or a decay mask)")
        calls = []
        self._update(params, self._next(params, grads), lambda *args: calls.append(args))
        (args,) = calls
        k = self.kernel
        kernel = k.parallel if self._parallel else k.serial
        return (kernel, args[2:k.arrays], args[k.arrays:k.arrays + k.scalars],
                args[k.arrays + k.scalars:])

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
        is a torch state. The layout and the weight-decay mask are not part of the
        state (the trainer sets them from the model).
        """
        owner = type(self).__name__
        d = state_dict
        if d.get("optimizer") != owner:
            raise ValueError(f"{owner}.load_state_dict: state is for {d.get('optimizer')!r}")
        convention = d.get("convention", self.conventions[0])
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
        model = {"_blocks", "_excluded", "_decay_mask", "_work"}   # from the model: kept
        vars(self).update({k: v for k, v in vars(fresh).items()
                           if k not in model and k not in ("t", "state")})
        self._plan()
        for name in self._scalar_state:
            setattr(self, name, float(d[name]))
        self.t, self.state = t, buffers
        self._params = self._grads = None
        if shape is not None:
            self._adopt(shape, dtype)
        else:                         # a state saved before the first step: start afresh
            self._shape = self._dtype = None

    def __repr__(self):
        hp = self.hyperparameters()
        common = registry.COMMON
        shown = ", ".join(f"{k}={v!r}" for k, v in hp.items()
                          if k not in common or v != common[k])
        keras = ", convention='keras'" if self.convention == "keras" else ""
        return f"{type(self).__name__}({shown}{keras}, t={self.t})"

    # -- internals -------------------------------------------------------------
    def _buffers(self):
        """Names of the buffers the next step needs (allocated when missing)."""
        return self._state_names

    def _new_buffer(self, name):
        return np.zeros(self._shape, self._dtype)

    def _plan(self):
        """Whether a step must prepare the gradient (a flag read once per step)."""
        d = self.__dict__
        self._prepares = bool(d.get("maximize") or self._excluded or any(
            d.get(n) is not None for n in ("clipnorm", "clipvalue", "global_clipnorm")))

    def _decoupled_decay(self):
        """True when weight decay multiplies the weights (keras, AdamW form)."""
        return self.convention == "keras" or getattr(self, "decoupled_weight_decay", False)

    def _weight_decay_args(self):
        """(L2 weight_decay, decay_factor) for the kernel: decoupled (``1 - lr*wd``) in
        the keras convention or with ``decoupled_weight_decay``, else L2. Neutral (0, 1)
        when :meth:`_prepare` has applied a masked decay already."""
        wd = self.weight_decay
        if self._excluded:
            return 0.0, 1.0
        if self._decoupled_decay():
            return 0.0, 1 - self.lr * wd
        return wd, 1.0

    def _prepare(self, p, g):
        """The gradient the update rule sees, when it is not ``g`` itself.

        In this order, on a copy of ``g`` (``maximize`` and clipping commute):

        - ``maximize``: ``g <- -g``;
        - ``clipvalue``: ``g <- clip(g, -clipvalue, clipvalue)`` (both conventions);
        - ``clipnorm``, per block ``B`` (see :meth:`set_layout`; the whole array without
          one): keras ``g_B <- g_B * clipnorm / max(|g_B|, clipnorm)``; torch
          (``clip_grad_norm_`` on each tensor) ``g_B <- g_B * min(1, clipnorm /
          (|g_B| + 1e-6))``;
        - ``global_clipnorm``, with ``n = sqrt(sum_B |g_B|**2)``: keras ``g <- g *
          clipnorm * min(1/n, 1/clipnorm)``; torch (``clip_grad_norm_`` on all tensors)
          ``g <- g * min(1, clipnorm / (n + 1e-6))``;
        - masked weight decay: coupled ``g <- g + wd * p`` where the mask is True;
          decoupled ``p <- p * (1 - lr*wd)`` there (the kernel then gets neutral
          weight-decay arguments).

        Norms are summed serially in index order in float64 (independent of threads).

        Notes
        -----
        Keras 3 on its torch backend computes ``max(|g_B|, clipnorm)`` and the global
        scale ``clipnorm * min(1/n, 1/clipnorm)`` in float32 even for float64 variables
        (``ops.maximum``/``ops.minimum`` with a Python float return float32 there); the
        keras convention rounds them to float32 too, so float64 runs match Keras to
        1e-12. The effect is a relative 6e-8 on the clipping factor.
        """
        if self._work is None or self._work.shape != g.shape or self._work.dtype != g.dtype:
            self._work = np.empty_like(g)
        cast, keras = self._cast, self.convention == "keras"
        if self.maximize:
            w = np.negative(g, out=self._work)
        elif self.clipvalue is None and self.clipnorm is None and self.global_clipnorm is None:
            w = g                                   # only the decay mask: g is not changed
        else:
            w = self._work
            w[...] = g
        if self.clipvalue is not None:
            c = cast(self.clipvalue)
            np.clip(w, -c, c, out=w)
        blocks = self._blocks or [(0, w.shape[0])]
        if self.clipnorm is not None:
            c = self.clipnorm
            for start, stop in blocks:
                norm = math.sqrt(_compile.sum_of_squares(w, start, stop))
                part = w[start:stop]
                if keras:                      # values * clipnorm / max(norm, clipnorm)
                    part *= cast(c)
                    part /= cast(np.float32(max(norm, c)))      # float32: see Notes
                else:
                    part *= cast(_torch_clip_coef(c, norm))
        if self.global_clipnorm is not None:
            c = self.global_clipnorm
            total = 0.0
            for start, stop in blocks:
                total += _compile.sum_of_squares(w, start, stop)
            norm = math.sqrt(total)
            if keras:                          # float32 scale: see Notes
                inverse = np.float32(min(1.0 / norm, 1.0 / c)) if norm > 0 else np.float32(1 / c)
                scale = float(np.float32(c) * inverse) + (norm - norm)   # inf/NaN: NaN
            else:
                scale = _torch_clip_coef(c, norm)
            w *= cast(scale)
        if self._excluded and getattr(self, "weight_decay", 0.0) != 0:
            mask = self._decay_mask
            if mask is None or mask.shape != w.shape:
                mask = self._build_decay_mask(w.shape[0])
            if self._decoupled_decay():
                _compile.scale_where(p, mask, cast(1 - self.lr * self.weight_decay))
            else:
                _compile.add_decay_where(self._work, w, p, mask, cast(self.weight_decay))
                w = self._work
        return w

    def _adopt(self, shape, dtype):
        """Fix shape and dtype; choose the serial or parallel kernel by size."""
        self._shape, self._dtype, self._cast = shape, dtype, dtype.type
        self._parallel = _compile.uses_parallel(shape[0])
        # the compiled kernel for this dtype (it converts Python-float scalars to dtype),
        # made by the first step(): the compiled minibatch loop (plan_step) needs none
        self._kernel_fn = None
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
            if self._blocks is not None and self._blocks[-1][1] != params.shape[0]:
                raise ValueError(f"{owner}: the layout covers {self._blocks[-1][1]} entries, "
                                 f"the parameters have {params.shape[0]}")
            self._adopt(params.shape, params.dtype)
        elif params.dtype != self._dtype:
            raise TypeError(f"{owner}: arrays are {params.dtype} but the optimizer state is "
                            f"{self._dtype} (from the first step)")
        elif params.shape != self._shape:
            raise ValueError(f"{owner}: arrays have shape {params.shape} but the optimizer "
                             f"state has shape {self._shape} (from the first step)")

    def _update(self, p, g, kernel):
        raise NotImplementedError
