"""Adagrad: the kernel (the element-wise update), then the class (its scalars)."""
import numpy as np
from numba import njit, prange

from minitrain.optim._base import Hyper, Optimizer, nonneg, positive
from minitrain.optim._compile import Kernel


@njit(cache=True, error_model="numpy")
def adagrad_update(p, g, s, lr, eps_in, eps_out, weight_decay, decay_factor):
    """AdaGrad. Equations: see `minitrain.optim.Adagrad`.

    eps inside the square root (keras: ``eps_in = eps``, ``eps_out = 0``) or outside it
    (torch: ``eps_in = 0``, ``eps_out = eps``); weight decay as in `sgd_update`.
    """
    for i in prange(p.shape[0]):
        p[i] *= decay_factor                           # decoupled: p <- p (1 - lr wd)
        d = g[i] + weight_decay * p[i]                 # L2; exact g when weight_decay = 0
        s[i] += d * d
        p[i] -= lr * d / (np.sqrt(s[i] + eps_in) + eps_out)


class Adagrad(Optimizer):
    r"""AdaGrad: per-parameter steps scaled by the root of the summed squared gradients.

    Update rule
    -----------
    ::

        g   <- -g                                    (maximize=True)
        g   <- g + weight_decay * p                  (if weight_decay != 0)
        clr <- lr / (1 + (t - 1) * lr_decay)
        s   <- s + g * g
        p   <- p - clr * g / (sqrt(s) + eps)

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
    lr_decay : float, default=0.0
        Torch's ``lr_decay``: the step uses ``lr / (1 + (t-1)*lr_decay)``; ``>= 0``.
        Keras has none: 0 only with ``convention="keras"``.
    maximize, clipnorm, clipvalue, global_clipnorm
        What happens to the gradient before the update (negation, clipping):
        see :meth:`Optimizer._prepare <minitrain.optim._base.Optimizer._prepare>`.
    convention : {"torch", "keras"}, default="torch"
        Whose update rule and defaults to follow.

    Notes
    -----
    PyTorch puts ``eps`` outside the square root and starts the accumulator at 0 (then
    the first step of every coordinate with ``g != 0`` is ``lr * sign(g)`` up to eps).
    Keras and optax use ``g / sqrt(s + eps)`` with ``eps = 1e-7`` and start at 0.1, which
    gives much smaller first steps.

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

    registry_name = "adagrad"
    kernel = Kernel(adagrad_update, arrays=3)
    _state_names = ("s",)

    def __init__(self, lr=None, *, eps=None, initial_accumulator=None, weight_decay=None,
                 lr_decay=None, maximize=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, convention=None, **unknown):
        super().__init__(unknown, convention, maximize=maximize, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm)
        self.lr = lr
        self.eps = eps
        self.initial_accumulator = initial_accumulator
        self.weight_decay = weight_decay
        self.lr_decay = lr_decay
        if self.convention == "keras" and self.lr_decay != 0:
            raise ValueError(f"Adagrad: lr_decay must be 0 with convention='keras' (Keras "
                             f"has none; use a schedule), got {self.lr_decay!r}")

    eps = Hyper(positive)
    initial_accumulator = Hyper(nonneg)
    weight_decay = Hyper(nonneg)
    lr_decay = Hyper(nonneg)

    def _new_buffer(self, name):
        return np.full(self._shape, self.initial_accumulator, self._dtype)

    def _update(self, p, g, kernel):
        eps_in, eps_out = (self.eps, 0.0) if self.convention == "keras" else (0.0, self.eps)
        clr = self.lr / (1 + (self.t - 1) * self.lr_decay)
        kernel(p, g, self.state["s"], clr, eps_in, eps_out, *self._weight_decay_args())
