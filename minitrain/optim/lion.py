"""Lion: the kernel (the element-wise update), then the class (its scalars)."""
import numpy as np
from numba import njit, prange

from minitrain.optim._base import Hyper, Optimizer, nonneg, unit
from minitrain.optim._compile import Kernel


@njit(cache=True, error_model="numpy")
def lion_update(p, g, m, lr, beta1, one_minus_beta1, beta2, one_minus_beta2, decay_factor):
    """Lion. Equations: see `minitrain.optim.Lion` (Keras's order of operations)."""
    for i in prange(p.shape[0]):
        p[i] *= decay_factor                           # decoupled: p <- p (1 - lr wd)
        p[i] -= lr * np.sign(m[i] * beta1 + g[i] * one_minus_beta1)
        m[i] = m[i] * beta2 + g[i] * one_minus_beta2


class Lion(Optimizer):
    r"""Lion (EvoLved Sign Momentum): steps of size lr in the sign of a momentum mix.

    Update rule
    -----------
    ::

        g <- -g                                      (maximize=True)
        p <- p * (1 - lr * weight_decay)             (decoupled, current lr)
        p <- p - lr * sign(beta1 * m + (1 - beta1) * g)
        m <- beta2 * m + (1 - beta2) * g

    ``m`` is ``state["m"]`` (Keras's momentum), starting at zero.

    Parameters
    ----------
    lr : float, default=1e-3
        Learning rate, ``>= 0`` (Keras's default; the paper advises 3-10 times smaller
        than AdamW's).
    beta1 : float, default=0.9
        Weight of the momentum in the step's interpolation, in ``[0, 1)``.
    beta2 : float, default=0.99
        Decay of the momentum, in ``[0, 1)``.
    weight_decay : float, default=0.0
        Decoupled decay ``p *= 1 - lr*weight_decay``, ``>= 0``.
    maximize, clipnorm, clipvalue, global_clipnorm
        What happens to the gradient before the update (negation, clipping):
        see :meth:`Optimizer._prepare <minitrain.optim._base.Optimizer._prepare>`.
    convention : {"keras"}, default="keras"
        Lion follows ``keras.optimizers.Lion`` (and optax's ``lion``) only.

    Notes
    -----
    ``keras.optimizers.Lion``, optax's ``lion`` and the paper's Algorithm 2 agree;
    torch has no Lion. Keras's defaults are used (lr 1e-3, beta1 0.9, beta2 0.99); the
    trainer's default lr for ``lion`` is 1e-4.

    References
    ----------
    .. [1] Chen et al., "Symbolic discovery of optimization algorithms", NeurIPS 2023,
       arXiv:2302.06675.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([1.0, -2.0]); opt = Lion(lr=0.01, beta2=0.9)
    >>> for _ in range(400):
    ...     opt.step(p, 2 * p)
    >>> bool(np.abs(p).max() < 0.05)
    True
    """

    registry_name = "lion"
    kernel = Kernel(lion_update, arrays=3)
    _state_names = ("m",)

    def __init__(self, lr=None, *, beta1=None, beta2=None, weight_decay=None, maximize=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, convention=None,
                 **unknown):
        super().__init__(unknown, convention, maximize=maximize, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm)
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.weight_decay = weight_decay

    beta1 = Hyper(unit)
    beta2 = Hyper(unit)
    weight_decay = Hyper(nonneg)

    def _update(self, p, g, kernel):
        decay = 1.0 if self._excluded else 1 - self.lr * self.weight_decay
        kernel(p, g, self.state["m"], self.lr, self.beta1, 1 - self.beta1, self.beta2,
               1 - self.beta2, decay)
