"""SGD: the kernel (the element-wise update), then the class (its scalars)."""
from numba import njit, prange

from minitrain.optim._base import Flag, Hyper, Optimizer, fraction, nonneg, unit
from minitrain.optim._compile import Kernel


@njit(cache=True, error_model="numpy")
def sgd_update(p, g, buf, lr_in, lr_out, momentum, weight_decay, decay_factor, nesterov,
               first_step):
    """SGD, with momentum and Nesterov through flags. Equations: see `minitrain.optim.SGD`.

    The two conventions through arguments (no extra branches in the loop): the learning
    rate sits outside the buffer (torch: ``lr_in = 1 - dampening``, ``lr_out = lr``) or
    inside it (keras: ``lr_in = lr``, ``lr_out = 1``); weight decay is L2
    (``weight_decay``) or decoupled (``decay_factor = 1 - lr*wd``); the unused one is 0
    or 1, which is exact. (Torch's Nesterov requires dampening 0, so ``lr_in = 1`` there.)
    """
    for i in prange(p.shape[0]):
        p[i] *= decay_factor                           # decoupled: p <- p (1 - lr wd)
        d = g[i] + weight_decay * p[i]                 # L2; exact g when weight_decay = 0
        if momentum != 0:
            if first_step:
                buf[i] = d                             # torch: the buffer starts as g
            else:
                buf[i] = buf[i] * momentum + lr_in * d
            if nesterov:
                d = lr_in * d + momentum * buf[i]
            else:
                d = buf[i]
            p[i] -= lr_out * d
        else:
            p[i] -= lr_in * lr_out * d


class SGD(Optimizer):
    r"""Stochastic gradient descent, with optional momentum and Nesterov momentum.

    Update rule
    -----------
    ::

        g   <- -g                                    (maximize=True)
        g   <- g + weight_decay * p                  (if weight_decay != 0)
        buf <- g                                     (first step with momentum)
        buf <- momentum * buf + (1 - dampening) * g  (later steps)
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
    dampening : float, default=0.0
        Dampening ``tau`` in ``[0, 1]`` of the gradient added to the buffer (torch; not
        on the first step, and Nesterov requires 0). Keras has none: 0 only.
    nesterov : bool, default=False
        Nesterov momentum; requires ``momentum > 0`` and ``dampening = 0``.
    weight_decay : float, default=0.0
        Coupled L2 penalty ``wd >= 0`` added to the gradient (torch), or decoupled decay
        ``p *= 1 - lr*wd`` (keras).
    maximize, clipnorm, clipvalue, global_clipnorm
        What happens to the gradient before the update (negation, clipping):
        see :meth:`Optimizer._prepare <minitrain.optim._base.Optimizer._prepare>`.
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
    not ``(1 - dampening) g`` (as torch). Keras's ``weight_decay`` is
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

    registry_name = "sgd"
    kernel = Kernel(sgd_update, arrays=3, flags=2)
    _state_names = ("buf",)

    def __init__(self, lr=None, *, momentum=None, dampening=None, nesterov=None,
                 weight_decay=None, maximize=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, convention=None, **unknown):
        super().__init__(unknown, convention, maximize=maximize, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm)
        self.lr = lr
        self.dampening = dampening
        self.nesterov = nesterov
        self.momentum = momentum
        self.weight_decay = weight_decay
        if self.nesterov and self.dampening != 0:
            raise ValueError(f"SGD: nesterov=True requires dampening = 0 (as torch), got "
                             f"{self.dampening!r}")
        if self.convention == "keras" and self.dampening != 0:
            raise ValueError(f"SGD: dampening must be 0 with convention='keras' (Keras has "
                             f"none), got {self.dampening!r}")

    @property
    def momentum(self):
        return self._momentum

    @momentum.setter
    def momentum(self, value):
        if value is None:
            value = self.convention_defaults[self.convention]["momentum"]
        value = unit("momentum", value, "SGD")
        if self.nesterov and value <= 0:
            raise ValueError(f"SGD: nesterov=True requires momentum > 0, got {value!r}")
        self._momentum = value

    dampening = Hyper(fraction)
    weight_decay = Hyper(nonneg)
    nesterov = Flag()

    def _buffers(self):
        return ()                                   # buf: created by the first momentum step

    def _update(self, p, g, kernel):
        start = "buf" not in self.state and self._cast(self.momentum) != 0
        if start:                  # torch: the buffer starts as g; keras: at 0
            self.state["buf"] = self._new_buffer("buf")
        keras = self.convention == "keras"
        if keras:
            lr_in, lr_out = self.lr, 1.0
        else:                      # dampening scales g into the buffer (not without one)
            damp = self.dampening
            lr_in = 1.0 if damp == 0 or self._cast(self.momentum) == 0 else 1 - damp
            lr_out = self.lr
        kernel(p, g, self.state.get("buf", self._empty), lr_in, lr_out, self.momentum,
               *self._weight_decay_args(), self.nesterov, start and not keras)
