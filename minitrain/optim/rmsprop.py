"""RMSprop: the kernel (the element-wise update), then the class (its scalars)."""
import numpy as np
from numba import njit, prange

from minitrain.optim._base import Flag, Hyper, Optimizer, nonneg, positive, unit
from minitrain.optim._compile import Kernel


@njit(cache=True, error_model="numpy")
def rmsprop_update(p, g, v, g_avg, buf, lr_in, lr_out, rho, one_minus_rho, eps_in, eps_out,
                   avg_keep, avg_sub, momentum, weight_decay, decay_factor, centered):
    """RMSprop, plain or centered, with optional momentum. Equations: see `minitrain.optim.RMSprop`.

    Conventions through arguments as in `sgd_update` (lr inside or outside the momentum
    buffer, decoupled or L2 weight decay) and `adagrad_update` (eps inside or outside
    the square root). The centered mean gradient is torch's lerp
    ``g_avg + (1-rho)*(g - g_avg)`` (``avg_keep = avg_sub = 1``) or Keras's
    ``rho*g_avg + (1-rho)*g`` (``avg_keep = rho``, ``avg_sub = 0``): the same value with
    Keras's rounding, which matters when ``v - g_avg**2`` cancels.
    """
    for i in prange(p.shape[0]):
        p[i] *= decay_factor                           # decoupled: p <- p (1 - lr wd)
        d = g[i] + weight_decay * p[i]                 # L2; exact g when weight_decay = 0
        v[i] = v[i] * rho + one_minus_rho * d * d
        if centered:
            g_avg[i] = g_avg[i] * avg_keep + one_minus_rho * (d - avg_sub * g_avg[i])
            denom = np.sqrt(v[i] + eps_in - g_avg[i] * g_avg[i]) + eps_out
        else:
            denom = np.sqrt(v[i] + eps_in) + eps_out
        if momentum > 0:
            buf[i] = buf[i] * momentum + lr_in * d / denom
            p[i] -= lr_out * buf[i]
        else:
            p[i] -= lr_in * lr_out * d / denom


class RMSprop(Optimizer):
    r"""RMSprop: steps scaled by a running root mean square of the gradients.

    Update rule
    -----------
    ::

        g     <- -g                                  (maximize=True)
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
    maximize, clipnorm, clipvalue, global_clipnorm
        What happens to the gradient before the update (negation, clipping):
        see :meth:`Optimizer._prepare <minitrain.optim._base.Optimizer._prepare>`.
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

    registry_name = "rmsprop"
    kernel = Kernel(rmsprop_update, arrays=5, flags=1)
    _state_names = ("v", "g_avg", "buf")

    def __init__(self, lr=None, *, rho=None, eps=None, momentum=None, centered=None,
                 weight_decay=None, maximize=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, convention=None, **unknown):
        super().__init__(unknown, convention, maximize=maximize, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm)
        self.lr = lr
        self.rho = rho
        self.eps = eps
        self.momentum = momentum
        self.centered = centered
        self.weight_decay = weight_decay

    rho = Hyper(unit)
    eps = Hyper(positive)
    momentum = Hyper(unit)
    weight_decay = Hyper(nonneg)
    centered = Flag()

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
