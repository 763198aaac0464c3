"""Adam: the kernel (the element-wise update), then the class (its scalars)."""
import numpy as np
from numba import njit, prange

from minitrain.optim._base import Flag, Hyper, Optimizer, decoupled_flag, nonneg, positive, unit
from minitrain.optim._compile import Kernel


@njit(cache=True, error_model="numpy")
def adam_update(p, g, m, v, v_max, step_size, one_minus_beta1, beta2, one_minus_beta2,
                bias_correction2_sqrt, eps, weight_decay, decay_factor, amsgrad):
    """Adam, AMSGrad and AdamW. Equations: see `minitrain.optim.Adam`.

    Weight decay through arguments, not branches (more branches in this loop stopped
    LLVM from vectorizing it): L2 ``weight_decay`` is 0 for decoupled decay, and
    ``decay_factor`` (``1 - lr*wd``) is 1 without it. The keras convention ("epsilon
    hat") needs no flag: it passes ``step_size = lr*sqrt(bc2)/bc1`` and
    ``bias_correction2_sqrt = 1``.
    """
    for i in prange(p.shape[0]):
        p[i] *= decay_factor                           # decoupled: p <- p (1 - lr wd)
        d = g[i] + weight_decay * p[i]                 # coupled:   g <- g + wd p
        m[i] += one_minus_beta1 * (d - m[i])
        v[i] = v[i] * beta2 + one_minus_beta2 * d * d
        v_used = v[i]                                  # v, or v_max with amsgrad
        if amsgrad:
            v_used = v_max[i] if v_max[i] >= v_used else v_used   # max that propagates NaN
            v_max[i] = v_used
        denom = np.sqrt(v_used) / bias_correction2_sqrt + eps
        p[i] -= step_size * m[i] / denom


class Adam(Optimizer):
    r"""Adam, with the AMSGrad variant and optional decoupled weight decay.

    Update rule
    -----------
    ::

        g     <- -g                                  (maximize=True)
        p     <- p * (1 - lr * weight_decay)         (decoupled_weight_decay=True)
        g     <- g + weight_decay * p                (decoupled_weight_decay=False)
        m     <- m + (1 - beta1) * (g - m)           (= beta1 * m + (1 - beta1) * g)
        v     <- beta2 * v + (1 - beta2) * g * g
        v_max <- max(v_max, v)                       (amsgrad=True)
        bc1   <- 1 - beta1**t ;  bc2 <- 1 - beta2**t
        m_hat <- m / bc1 ;  v_hat <- v / bc2         (v_hat <- v_max / bc2 with amsgrad)
        p     <- p - lr * m_hat / (sqrt(v_hat) + eps)
              =  p - (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)       (as computed)

    With ``amsgrad=True`` read ``v_max`` for ``v`` in the last line (and in the keras
    rule). ``m``, ``v``, ``v_max`` are ``state["m"]``, ``state["v"]``, ``state["v_max"]``
    (torch's ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``), starting at zero; ``t`` is
    the step count, 1 on the first step. ``bc1``, ``bc2`` and ``lr / bc1`` are computed in
    double precision.

    Update rule (keras)
    -------------------
    ::

        p     <- p * (1 - lr * weight_decay)         (decoupled, current lr)
        m     <- m + (1 - beta1) * (g - m)
        v     <- beta2 * v + (1 - beta2) * g * g
        v_max <- max(v_max, v)                       (amsgrad=True)
        bc1   <- 1 - beta1**t ;  bc2 <- 1 - beta2**t
        p     <- p - (lr * sqrt(bc2) / bc1) * m / (sqrt(v) + eps)

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
        Added to ``sqrt(v_hat)``, the bias-corrected root (torch), or to the raw
        ``sqrt(v)`` (keras);
        ``> 0``.
    weight_decay : float, default=0.0
        L2 penalty (or decoupled decay with the flag below), ``>= 0``.
    amsgrad : bool, default=False
        Use the running maximum of the raw second moment ``v``.
    decoupled_weight_decay : bool, default=False (torch) or True (keras)
        Decay the weights directly, ``p *= 1 - lr*weight_decay`` with the current lr,
        before the moments (this is AdamW). Keras always decouples: False is refused
        with ``convention="keras"``.
    maximize, clipnorm, clipvalue, global_clipnorm
        What happens to the gradient before the update (negation, clipping):
        see :meth:`Optimizer._prepare <minitrain.optim._base.Optimizer._prepare>`.
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

    registry_name = "adam"
    kernel = Kernel(adam_update, arrays=5, flags=1)
    _state_names = ("m", "v", "v_max")
    _decoupled = None         # AdamW fixes it to True

    def __init__(self, lr=None, *, beta1=None, beta2=None, eps=None, weight_decay=None,
                 amsgrad=None, decoupled_weight_decay=None, maximize=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, convention=None, **unknown):
        super().__init__(unknown, convention, maximize=maximize, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm)
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weight_decay = weight_decay
        self.amsgrad = amsgrad
        if self._decoupled is None:
            self.decoupled_weight_decay = decoupled_flag(self, decoupled_weight_decay)

    beta1 = Hyper(unit)
    beta2 = Hyper(unit)
    eps = Hyper(positive)
    weight_decay = Hyper(nonneg)
    amsgrad = Flag()

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


class AdamW(Adam):
    r"""AdamW: Adam with decoupled weight decay (default 1e-2).

    Update rule
    -----------
    ::

        g     <- -g                                  (maximize=True)
        p     <- p * (1 - lr * weight_decay)         (current lr, before the moments)
        m     <- m + (1 - beta1) * (g - m)
        v     <- beta2 * v + (1 - beta2) * g * g
        v_max <- max(v_max, v)                       (amsgrad=True)
        bc1   <- 1 - beta1**t ;  bc2 <- 1 - beta2**t
        m_hat <- m / bc1 ;  v_hat <- v / bc2         (v_hat <- v_max / bc2 with amsgrad)
        p     <- p - lr * m_hat / (sqrt(v_hat) + eps)
              =  p - (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)       (as computed)

    The symbols are those of :class:`Adam`; this is ``Adam(decoupled_weight_decay=True)``
    with PyTorch's AdamW default ``weight_decay=1e-2``.

    Update rule (keras)
    -------------------
    ::

        p     <- p * (1 - lr * weight_decay)         (current lr, before the moments)
        m     <- m + (1 - beta1) * (g - m)
        v     <- beta2 * v + (1 - beta2) * g * g
        v_max <- max(v_max, v)                       (amsgrad=True)
        bc1   <- 1 - beta1**t ;  bc2 <- 1 - beta2**t
        p     <- p - (lr * sqrt(bc2) / bc1) * m / (sqrt(v) + eps)

    Parameters
    ----------
    lr : float, default=1e-3
        Learning rate, ``>= 0``.
    beta1 : float, default=0.9
        Decay of the first moment, in ``[0, 1)``.
    beta2 : float, default=0.999
        Decay of the second moment, in ``[0, 1)``.
    eps : float, default=1e-8 (torch) or 1e-7 (keras)
        Added to ``sqrt(v_hat)``, the bias-corrected root (torch), or to the raw
        ``sqrt(v)`` (keras);
        ``> 0``.
    weight_decay : float, default=1e-2 (torch) or 0.004 (keras)
        Decoupled decay rate ``>= 0``, multiplied by the current learning rate.
    amsgrad : bool, default=False
        Use the running maximum of the raw second moment.
    maximize, clipnorm, clipvalue, global_clipnorm
        What happens to the gradient before the update (negation, clipping):
        see :meth:`Optimizer._prepare <minitrain.optim._base.Optimizer._prepare>`.
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

    registry_name = "adamw"
    _decoupled = True
    decoupled_weight_decay = True

    def __init__(self, lr=None, *, beta1=None, beta2=None, eps=None, weight_decay=None,
                 amsgrad=None, maximize=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, convention=None, **unknown):
        Optimizer.__init__(self, unknown, convention)   # rejects unknown names (AdamW's)
        super().__init__(lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm,
                         convention=convention)
