"""Adamax: the kernel (the element-wise update), then the class (its scalars)."""
import numpy as np
from numba import njit, prange

from minitrain.optim._base import Hyper, Optimizer, nonneg, positive, unit
from minitrain.optim._compile import Kernel


@njit(cache=True, error_model="numpy")
def adamax_update(p, g, m, u, step_size, one_minus_beta1, beta2, eps_in, eps_out,
                  weight_decay, decay_factor):
    """AdaMax. Equations: see `minitrain.optim.Adamax`.

    eps inside the max (torch: ``eps_in = eps``, ``eps_out = 0``) or added to ``u`` in
    the denominator (keras: ``eps_in = 0``, ``eps_out = eps``); weight decay as in
    `sgd_update`.
    """
    for i in prange(p.shape[0]):
        p[i] *= decay_factor                           # decoupled: p <- p (1 - lr wd)
        d = g[i] + weight_decay * p[i]                 # L2; exact g when weight_decay = 0
        m[i] += one_minus_beta1 * (d - m[i])
        a = np.abs(d) + eps_in
        b = beta2 * u[i]
        u[i] = b if b >= a else a                      # max that propagates NaN
        p[i] -= step_size * m[i] / (u[i] + eps_out)


class Adamax(Optimizer):
    r"""AdaMax: Adam with the infinity norm in place of the second moment.

    Update rule
    -----------
    ::

        g <- -g                                      (maximize=True)
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
    maximize, clipnorm, clipvalue, global_clipnorm
        What happens to the gradient before the update (negation, clipping):
        see :meth:`Optimizer._prepare <minitrain.optim._base.Optimizer._prepare>`.
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

    registry_name = "adamax"
    kernel = Kernel(adamax_update, arrays=4)
    _state_names = ("m", "u")

    def __init__(self, lr=None, *, beta1=None, beta2=None, eps=None, weight_decay=None,
                 maximize=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 convention=None, **unknown):
        super().__init__(unknown, convention, maximize=maximize, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm)
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weight_decay = weight_decay

    beta1 = Hyper(unit)
    beta2 = Hyper(unit)
    eps = Hyper(positive)
    weight_decay = Hyper(nonneg)

    def _update(self, p, g, kernel):
        s = self.state
        eps_in, eps_out = (0.0, self.eps) if self.convention == "keras" else (self.eps, 0.0)
        kernel(p, g, s["m"], s["u"], self.lr / (1 - self.beta1 ** self.t),
               1 - self.beta1, self.beta2, eps_in, eps_out, *self._weight_decay_args())
