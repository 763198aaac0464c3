"""Plain NumPy reference of every update rule, written from the "Update rule" blocks of
the docstrings in minitrain.optim (one step, on copies; no Numba, no torch).

Each function takes the parameters, the gradient, a dict of state buffers, the step
count ``t`` of this step (1 on the first) and the hyperparameters, and returns the new
parameters and state. Scalars that depend on ``t`` are computed in double precision and
then cast to the array dtype, as the docstrings say.
"""
import numpy as np


def _c(x, dtype):
    return np.asarray(x, dtype=dtype)[()]


def sgd(p, g, state, t, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    dt, p, state = p.dtype, p.copy(), {k: v.copy() for k, v in state.items()}
    if weight_decay != 0:
        g = g + _c(weight_decay, dt) * p
    mu = _c(momentum, dt)                     # the kernel sees momentum in the array dtype
    if mu != 0:
        if "buf" not in state:
            state["buf"] = g.copy()
        else:
            state["buf"] = mu * state["buf"] + g
        d = g + mu * state["buf"] if nesterov else state["buf"]
    else:
        d = g
    return p - _c(lr, dt) * d, state


def adagrad(p, g, state, t, lr=1e-2, eps=1e-10, initial_accumulator=0.0, weight_decay=0.0):
    dt = p.dtype
    if weight_decay != 0:
        g = g + _c(weight_decay, dt) * p
    s = state.get("s", np.full_like(p, initial_accumulator)) + g * g
    return p - _c(lr, dt) * g / (np.sqrt(s) + _c(eps, dt)), {"s": s}


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
}
