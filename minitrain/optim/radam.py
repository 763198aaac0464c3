"""RAdam: the kernel (the element-wise update), then the class (its scalars)."""
import numpy as np
from numba import njit, prange

from minitrain.optim._base import Hyper, Optimizer, decoupled_flag, nonneg, positive, unit
from minitrain.optim._compile import Kernel


@njit(cache=True, error_model="numpy")
def radam_update(p, g, m, v, bias_correction1, lr, bias_correction2_sqrt, rect,
                 one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay, decay_factor,
                 rectified):
    """RAdam. Equations: see `minitrain.optim.RAdam` (torch's order of operations).

    Weight decay as in `adam_update`: ``weight_decay`` is 0 for decoupled decay and
    ``decay_factor`` (``1 - lr*wd``) is 1 without it.
    """
    for i in prange(p.shape[0]):
        p[i] *= decay_factor
        d = g[i] + weight_decay * p[i]
        m[i] += one_minus_beta1 * (d - m[i])
        v[i] = v[i] * beta2 + one_minus_beta2 * d * d
        m_hat = m[i] / bias_correction1
        if rectified:
            p[i] -= m_hat * lr * (bias_correction2_sqrt / (np.sqrt(v[i]) + eps)) * rect
        else:
            p[i] -= m_hat * lr


class RAdam(Optimizer):
    r"""RAdam: Adam whose adaptive step is switched on by a variance rectification.

    Update rule
    -----------
    ::

        g     <- -g                                  (maximize=True)
        p     <- p * (1 - lr * weight_decay)         (decoupled_weight_decay=True)
        g     <- g + weight_decay * p                (decoupled_weight_decay=False)
        m     <- m + (1 - beta1) * (g - m)
        v     <- beta2 * v + (1 - beta2) * g * g
        m_hat <- m / (1 - beta1**t)
        rho_inf <- 2 / (1 - beta2) - 1
        rho_t <- rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        r     <- sqrt((rho_t - 4) (rho_t - 2) rho_inf / ((rho_inf - 4) (rho_inf - 2) rho_t))
        p     <- p - m_hat * lr * (sqrt(1 - beta2**t) / (sqrt(v) + eps)) * r   (rho_t > 5)
        p     <- p - m_hat * lr                                                (rho_t <= 5)

    ``m``, ``v`` are ``state["m"]``, ``state["v"]`` (torch's ``exp_avg``,
    ``exp_avg_sq``); the scalars of ``t`` are computed in double precision.

    Parameters
    ----------
    lr : float, default=1e-3
        Learning rate, ``>= 0``.
    beta1 : float, default=0.9
        Decay of the first moment, in ``[0, 1)``.
    beta2 : float, default=0.999
        Decay of the second moment, in ``[0, 1)``.
    eps : float, default=1e-8
        Added to ``sqrt(v)``; ``> 0``.
    weight_decay : float, default=0.0
        L2 penalty, or decoupled decay with the flag below.
    decoupled_weight_decay : bool, default=False
        Decay the weights directly, ``p *= 1 - lr*weight_decay`` (torch's option).
    maximize, clipnorm, clipvalue, global_clipnorm
        What happens to the gradient before the update (negation, clipping):
        see :meth:`Optimizer._prepare <minitrain.optim._base.Optimizer._prepare>`.
    convention : {"torch"}, default="torch"
        RAdam follows ``torch.optim.RAdam`` only.

    Notes
    -----
    This is ``torch.optim.RAdam`` (single-tensor path). Keras 3 has no RAdam; optax's
    ``radam`` uses a threshold of 5 as here but puts eps differently.

    References
    ----------
    .. [1] Liu, Jiang, He, Chen, Liu, Gao, Han, "On the variance of the adaptive learning
       rate and beyond", ICLR 2020, arXiv:1908.03265.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([1.0, -2.0]); opt = RAdam(lr=0.05)
    >>> for _ in range(300):
    ...     opt.step(p, 2 * p)
    >>> bool(np.abs(p).max() < 0.05)
    True
    """

    registry_name = "radam"
    kernel = Kernel(radam_update, arrays=4, flags=1)
    _state_names = ("m", "v")

    def __init__(self, lr=None, *, beta1=None, beta2=None, eps=None, weight_decay=None,
                 decoupled_weight_decay=None, maximize=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, convention=None, **unknown):
        super().__init__(unknown, convention, maximize=maximize, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm)
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weight_decay = weight_decay
        self.decoupled_weight_decay = decoupled_flag(self, decoupled_weight_decay)

    beta1 = Hyper(unit)
    beta2 = Hyper(unit)
    eps = Hyper(positive)
    weight_decay = Hyper(nonneg)

    def _update(self, p, g, kernel):
        t, beta1, beta2 = self.t, self.beta1, self.beta2
        bias_correction1 = 1 - beta1 ** t
        bias_correction2 = 1 - beta2 ** t
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * (beta2 ** t) / bias_correction2
        rectified = rho_t > 5.0
        rect = (((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                ** 0.5 if rectified else 1.0)
        kernel(p, g, self.state["m"], self.state["v"], bias_correction1, self.lr,
               bias_correction2 ** 0.5, rect, 1 - beta1, beta2, 1 - beta2, self.eps,
               *self._weight_decay_args(), rectified)
