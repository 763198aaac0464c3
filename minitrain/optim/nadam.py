"""Nadam: the kernel (the element-wise update), then the class (its scalars)."""
import numpy as np
from numba import njit, prange

from minitrain.optim._base import Hyper, Optimizer, decoupled_flag, nonneg, positive, unit
from minitrain.optim._compile import Kernel


@njit(cache=True, error_model="numpy")
def nadam_update(p, g, m, v, coef_g, coef_m, one_minus_beta1, beta2, one_minus_beta2,
                 bias_correction2, eps, weight_decay, decay_factor):
    """NAdam (coefficients from the mu schedule). Equations: see `minitrain.optim.Nadam`.

    Keras's Nadam is the same loop with other scalars (``momentum_decay = 1``).

    As in `adam_update`: ``weight_decay`` is 0 for decoupled decay, ``decay_factor`` 1
    without it.
    """
    for i in prange(p.shape[0]):
        p[i] *= decay_factor
        d = g[i] + weight_decay * p[i]
        m[i] += one_minus_beta1 * (d - m[i])
        v[i] = v[i] * beta2 + one_minus_beta2 * d * d
        denom = np.sqrt(v[i] / bias_correction2) + eps
        p[i] -= coef_g * d / denom
        p[i] -= coef_m * m[i] / denom


class Nadam(Optimizer):
    r"""NAdam: Adam with Nesterov momentum and Dozat's momentum-decay schedule.

    Update rule
    -----------
    ::

        g       <- -g                                (maximize=True)
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
    maximize, clipnorm, clipvalue, global_clipnorm
        What happens to the gradient before the update (negation, clipping):
        see :meth:`Optimizer._prepare <minitrain.optim._base.Optimizer._prepare>`.
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

    mu_product_dtype = np.float32
    registry_name = "nadam"
    kernel = Kernel(nadam_update, arrays=4)
    _state_names = ("m", "v")
    _scalar_state = ("mu_product",)

    def __init__(self, lr=None, *, beta1=None, beta2=None, eps=None, weight_decay=None,
                 momentum_decay=None, decoupled_weight_decay=None, maximize=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, convention=None,
                 **unknown):
        super().__init__(unknown, convention, maximize=maximize, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm)
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weight_decay = weight_decay
        self.momentum_decay = momentum_decay
        self.decoupled_weight_decay = decoupled_flag(self, decoupled_weight_decay)
        self.mu_product = 1.0

    beta1 = Hyper(unit)
    beta2 = Hyper(unit)
    eps = Hyper(positive)
    weight_decay = Hyper(nonneg)
    momentum_decay = Hyper(nonneg)

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
