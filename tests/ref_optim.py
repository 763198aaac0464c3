"""Plain NumPy reference of every update rule, written from the "Update rule" blocks of
the docstrings in minitrain.optim (one step, on copies; no Numba, no torch).

The ``keras_*`` functions (and ``KERAS_REFERENCE``) restate Keras 3's update steps in
Keras's own order of operations (keras/src/optimizers/*.py and the torch backend's
``_parallel_update_step``), with Keras's names for the state where they differ only by
sign: minitrain's SGD ``buf`` is Keras's momentum variable negated.

Each function takes the parameters, the gradient, a dict of state buffers, the step
count ``t`` of this step (1 on the first) and the hyperparameters, and returns the new
parameters and state. Scalars that depend on ``t`` are computed in double precision and
then cast to the array dtype, as the docstrings say.
"""
import numpy as np


def _c(x, dtype):
    return np.asarray(x, dtype=dtype)[()]


def sgd(p, g, state, t, lr, momentum=0.0, nesterov=False, weight_decay=0.0, dampening=0.0):
    dt, p, state = p.dtype, p.copy(), {k: v.copy() for k, v in state.items()}
    if weight_decay != 0:
        g = g + _c(weight_decay, dt) * p
    mu = _c(momentum, dt)                     # the kernel sees momentum in the array dtype
    if mu != 0:
        if "buf" not in state:
            state["buf"] = g.copy()
        else:
            state["buf"] = mu * state["buf"] + _c(1 - dampening, dt) * g
        d = g + mu * state["buf"] if nesterov else state["buf"]
    else:
        d = g
    return p - _c(lr, dt) * d, state


def adagrad(p, g, state, t, lr=1e-2, eps=1e-10, initial_accumulator=0.0, weight_decay=0.0,
            lr_decay=0.0):
    dt = p.dtype
    if weight_decay != 0:
        g = g + _c(weight_decay, dt) * p
    s = state.get("s", np.full_like(p, initial_accumulator)) + g * g
    clr = lr / (1 + (t - 1) * lr_decay)
    return p - _c(clr, dt) * g / (np.sqrt(s) + _c(eps, dt)), {"s": s}


def rmsprop(p, g, state, t, lr=1e-2, rho=0.99, eps=1e-8, momentum=0.0, centered=False,
            weight_decay=0.0):
    dt, new = p.dtype, {}
    if weight_decay != 0:
        g = g + _c(weight_decay, dt) * p
    v = _c(rho, dt) * state["v"] + _c(1 - rho, dt) * g * g
    new["v"] = v
    if centered:
        g_avg = state["g_avg"] + _c(1 - rho, dt) * (g - state["g_avg"])
        new["g_avg"] = g_avg
        denom = np.sqrt(v - g_avg * g_avg) + _c(eps, dt)
    else:
        denom = np.sqrt(v) + _c(eps, dt)
    if _c(momentum, dt) > 0:
        buf = _c(momentum, dt) * state.get("buf", np.zeros_like(p)) + g / denom
        new["buf"] = buf
        return p - _c(lr, dt) * buf, new
    return p - _c(lr, dt) * g / denom, new


def adam(p, g, state, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
         amsgrad=False, decoupled_weight_decay=False):
    dt, new = p.dtype, {}
    if weight_decay != 0:
        if decoupled_weight_decay:
            p = p * _c(1 - lr * weight_decay, dt)
        else:
            g = g + _c(weight_decay, dt) * p
    m = state["m"] + _c(1 - beta1, dt) * (g - state["m"])
    v = _c(beta2, dt) * state["v"] + _c(1 - beta2, dt) * g * g
    new["m"], new["v"] = m, v
    if amsgrad:
        v_hat = new["v_max"] = np.maximum(state["v_max"], v)
    else:
        v_hat = v
    bc1, bc2 = 1 - beta1 ** t, 1 - beta2 ** t
    denom = np.sqrt(v_hat) / _c(bc2 ** 0.5, dt) + _c(eps, dt)
    return p - _c(lr / bc1, dt) * m / denom, new


def adamw(p, g, state, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2,
          amsgrad=False):
    return adam(p, g, state, t, lr, beta1, beta2, eps, weight_decay, amsgrad, True)


def adamax(p, g, state, t, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    dt = p.dtype
    if weight_decay != 0:
        g = g + _c(weight_decay, dt) * p
    m = state["m"] + _c(1 - beta1, dt) * (g - state["m"])
    u = np.maximum(_c(beta2, dt) * state["u"], np.abs(g) + _c(eps, dt))
    return p - _c(lr / (1 - beta1 ** t), dt) * m / u, {"m": m, "u": u}


def nadam(p, g, state, t, mu_product, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8,
          weight_decay=0.0, momentum_decay=4e-3, decoupled_weight_decay=False):
    """Also returns the new ``mu_product`` (kept in float32, see Nadam's Notes)."""
    dt = p.dtype
    if weight_decay != 0:
        if decoupled_weight_decay:
            p = p * _c(1 - lr * weight_decay, dt)
        else:
            g = g + _c(weight_decay, dt) * p
    mu = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    mu_product = float(np.float32(mu_product) * np.float32(mu))
    m = state["m"] + _c(1 - beta1, dt) * (g - state["m"])
    v = _c(beta2, dt) * state["v"] + _c(1 - beta2, dt) * g * g
    denom = np.sqrt(v / _c(1 - beta2 ** t, dt)) + _c(eps, dt)
    p = p - _c(lr * (1 - mu) / (1 - mu_product), dt) * g / denom
    p = p - _c(lr * mu_next / (1 - mu_product * mu_next), dt) * m / denom
    return p, {"m": m, "v": v}, mu_product


#: registry name -> (reference function, presets)
def radam(p, g, state, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
          decoupled_weight_decay=False):
    dt = p.dtype
    if decoupled_weight_decay:
        p = p * _c(1 - lr * weight_decay, dt)
    elif weight_decay != 0:
        g = g + _c(weight_decay, dt) * p
    m = state["m"] + _c(1 - beta1, dt) * (g - state["m"])
    v = _c(beta2, dt) * state["v"] + _c(1 - beta2, dt) * g * g
    bc1, bc2 = 1 - beta1 ** t, 1 - beta2 ** t
    m_hat = m / _c(bc1, dt)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2 ** t / bc2
    if rho_t > 5:
        r = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        p = p - m_hat * _c(lr, dt) * (_c(bc2 ** 0.5, dt) / (np.sqrt(v) + _c(eps, dt))) * _c(r, dt)
    else:
        p = p - m_hat * _c(lr, dt)
    return p, {"m": m, "v": v}


def lion(p, g, state, t, lr=1e-3, beta1=0.9, beta2=0.99, weight_decay=0.0):
    """Keras's Lion (the only convention Lion has)."""
    dt = p.dtype
    p = p * _c(1 - lr * weight_decay, dt)
    m = state["m"]
    p = p - _c(lr, dt) * np.sign(m * _c(beta1, dt) + g * _c(1 - beta1, dt))
    return p, {"m": m * _c(beta2, dt) + g * _c(1 - beta2, dt)}


def prepare(g, maximize=False, clipnorm=None, clipvalue=None, global_clipnorm=None,
            keras=False, blocks=None):
    """The gradient the update rule sees (Optimizer._prepare's docstring), in float64 norms."""
    dt = g.dtype
    g = -g if maximize else g.copy()
    if clipvalue is not None:
        g = np.clip(g, -_c(clipvalue, dt), _c(clipvalue, dt))
    blocks = blocks or [(0, g.size)]
    if clipnorm is not None:
        for a, b in blocks:
            n = float(np.sqrt(np.sum(g[a:b].astype(np.float64) ** 2)))
            if keras:                    # Keras (torch backend) rounds the max to float32
                g[a:b] = g[a:b] * _c(clipnorm, dt) / _c(np.float32(max(n, clipnorm)), dt)
            else:
                g[a:b] = g[a:b] * _c(min(1.0, clipnorm / (n + 1e-6)), dt)
    if global_clipnorm is not None:
        n = float(np.sqrt(sum(np.sum(g[a:b].astype(np.float64) ** 2) for a, b in blocks)))
        c = global_clipnorm
        if keras:                        # Keras (torch backend): a float32 scale
            scale = float(np.float32(c) * np.float32(min(1 / n, 1 / c)))
        else:
            scale = min(1.0, c / (n + 1e-6))
        g = g * _c(scale, dt)
    return g


REFERENCE = {
    "sgd": (sgd, {}),
    "momentum": (sgd, {"momentum": 0.9}),
    "nesterov": (sgd, {"momentum": 0.9, "nesterov": True}),
    "adagrad": (adagrad, {}),
    "rmsprop": (rmsprop, {}),
    "adam": (adam, {}),
    "adamax": (adamax, {}),
    "nadam": (nadam, {}),
    "adamw": (adamw, {}),
    "radam": (radam, {}),
    "lion": (lion, {}),
}


# ---------------------------------------------------------------------------- Keras 3
def _keras_decay(p, lr, weight_decay):
    """Keras's base-class weight decay, before the step: p <- p * (1 - wd * lr)."""
    return p * _c(1 - weight_decay * lr, p.dtype) if weight_decay else p


def keras_sgd(p, g, state, t, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
    dt = p.dtype
    p = _keras_decay(p, lr, weight_decay)
    lr_, mu = _c(lr, dt), _c(momentum, dt)
    if mu == 0:
        return p - g * lr_, {}
    m = -state.get("buf", np.zeros_like(p))           # Keras's momentum variable
    m = m * mu - g * lr_
    p = p + (m * mu - g * lr_) if nesterov else p + m
    return p, {"buf": -m}


def keras_adagrad(p, g, state, t, lr=1e-3, eps=1e-7, initial_accumulator=0.1,
                  weight_decay=0.0):
    dt = p.dtype
    p = _keras_decay(p, lr, weight_decay)
    acc = state.get("s", np.full_like(p, initial_accumulator)) + g * g
    return p - (_c(lr, dt) * g) / np.sqrt(acc + _c(eps, dt)), {"s": acc}


def keras_rmsprop(p, g, state, t, lr=1e-3, rho=0.9, eps=1e-7, momentum=0.0,
                  centered=False, weight_decay=0.0):
    dt, new = p.dtype, {}
    p = _keras_decay(p, lr, weight_decay)
    vel = new["v"] = _c(rho, dt) * state["v"] + _c(1 - rho, dt) * g * g
    if centered:
        ag = new["g_avg"] = _c(rho, dt) * state["g_avg"] + _c(1 - rho, dt) * g
        den = vel + _c(eps, dt) - ag * ag              # the torch backend's order
    else:
        den = vel + _c(eps, dt)
    inc = (_c(lr, dt) * g) / np.sqrt(den)
    if _c(momentum, dt) > 0:
        mom = new["buf"] = _c(momentum, dt) * state.get("buf", np.zeros_like(p)) + inc
        return p - mom, new
    return p - inc, new


def keras_adam(p, g, state, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7, weight_decay=0.0,
               amsgrad=False, decoupled_weight_decay=True):
    dt, new = p.dtype, {}
    p = _keras_decay(p, lr, weight_decay)
    alpha = lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    m = new["m"] = state["m"] * _c(beta1, dt) + g * _c(1 - beta1, dt)
    v = new["v"] = state["v"] * _c(beta2, dt) + g * g * _c(1 - beta2, dt)
    if amsgrad:
        v = new["v_max"] = np.maximum(state["v_max"], v)
    return p - (m * _c(alpha, dt)) / (np.sqrt(v) + _c(eps, dt)), new


def keras_adamw(p, g, state, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7,
                weight_decay=0.004, amsgrad=False):
    return keras_adam(p, g, state, t, lr, beta1, beta2, eps, weight_decay, amsgrad)


def keras_adamax(p, g, state, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7,
                 weight_decay=0.0):
    dt = p.dtype
    p = _keras_decay(p, lr, weight_decay)
    m = state["m"] * _c(beta1, dt) + g * _c(1 - beta1, dt)
    u = np.maximum(state["u"] * _c(beta2, dt), np.abs(g))
    return p - (m * _c(lr, dt)) / ((u + _c(eps, dt)) * _c(1 - beta1 ** t, dt)), {"m": m, "u": u}


def keras_nadam(p, g, state, t, mu_product, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7,
                weight_decay=0.0, momentum_decay=1.0, decoupled_weight_decay=True):
    """Keras's schedule is 0.96**t (momentum_decay = 1); u_product is in the array dtype.
    Also returns the new ``mu_product``."""
    dt = p.dtype
    p = _keras_decay(p, lr, weight_decay)
    u_t = beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))
    u_t1 = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    u_product = float(dt.type(mu_product) * dt.type(u_t))
    m = state["m"] * _c(beta1, dt) + g * _c(1 - beta1, dt)
    v = state["v"] * _c(beta2, dt) + g * g * _c(1 - beta2, dt)
    m_hat = (m * _c(u_t1, dt)) / _c(1 - u_product * u_t1, dt) + \
        (g * _c(1 - u_t, dt)) / _c(1 - u_product, dt)
    v_hat = v / _c(1 - beta2 ** t, dt)
    return p - (m_hat * _c(lr, dt)) / (np.sqrt(v_hat) + _c(eps, dt)), {"m": m, "v": v}, \
        u_product


#: registry name -> (Keras reference function, presets)
KERAS_REFERENCE = {
    "sgd": (keras_sgd, {}),
    "momentum": (keras_sgd, {"momentum": 0.9}),
    "nesterov": (keras_sgd, {"momentum": 0.9, "nesterov": True}),
    "adagrad": (keras_adagrad, {}),
    "rmsprop": (keras_rmsprop, {}),
    "adam": (keras_adam, {}),
    "adamax": (keras_adamax, {}),
    "nadam": (keras_nadam, {}),
    "adamw": (keras_adamw, {}),
    "lion": (lion, {}),
}
