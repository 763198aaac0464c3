"""PyTorch goldens for the MLP: loss and flat gradient for every activation x loss.

Needs ``pip install torch==2.13.0`` (CPU). Never imported by minitrain or its tests.
Writes ``tests/goldens/nn_<activation>_<loss>.npz`` holding, in minitrain's fixed
layout ``W1, b1, W2, b2, ...`` (W of shape (n_in, n_out), i.e. torch's weight.T):
``sizes``, ``params``, ``X``, ``y``, ``loss`` and ``grads``, all float64; and
``nn_weighted_<loss>_<k>.npz`` (plus ``sample_weight``): the weighted mean loss,
multilabel binary cross-entropy (k > 1) and multi-output mse.
"""
from __future__ import annotations

import pathlib
import sys

import numpy as np

ACTIVATIONS = ["relu", "leaky_relu", "elu", "selu", "tanh", "sigmoid", "gelu", "identity"]
LOSSES = {"softmax_crossentropy": 3, "binary_crossentropy": 1, "mse": 2}
SIZES_HIDDEN = [5, 7, 6]
N = 16


def torch_activation(name):
    import torch.nn as tnn
    return {"relu": tnn.ReLU(), "leaky_relu": tnn.LeakyReLU(0.01), "elu": tnn.ELU(1.0),
            "selu": tnn.SELU(), "tanh": tnn.Tanh(), "sigmoid": tnn.Sigmoid(),
            "gelu": tnn.GELU(approximate="none"), "identity": tnn.Identity()}[name]


def golden(activation, loss, seed):
    import torch
    import torch.nn.functional as F
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    k = LOSSES[loss]
    sizes = SIZES_HIDDEN + [k]
    mods = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        lin = torch.nn.Linear(n_in, n_out, dtype=torch.float64)
        with torch.no_grad():      # non-zero biases, so their gradient paths are exercised
            lin.bias.uniform_(-0.5, 0.5)
        mods.append(lin)
        if i < len(sizes) - 2:
            mods.append(torch_activation(activation))
    net = torch.nn.Sequential(*mods)
    X = rng.normal(size=(N, sizes[0])) * 1.5
    if loss == "softmax_crossentropy":
        y = rng.integers(0, k, N).astype(np.float64)
        value = F.cross_entropy(net(torch.tensor(X)), torch.tensor(y).long())
    elif loss == "binary_crossentropy":
        y = rng.integers(0, 2, N).astype(np.float64)
        value = F.binary_cross_entropy_with_logits(net(torch.tensor(X))[:, 0], torch.tensor(y))
    else:
        y = rng.normal(size=(N, k))
        value = F.mse_loss(net(torch.tensor(X)), torch.tensor(y))
    value.backward()
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    flat = lambda get: np.concatenate(  # noqa: E731
        [np.concatenate([get(m.weight).T.ravel(), get(m.bias)]) for m in linears])
    return dict(sizes=np.array(sizes), X=X, y=y, loss=np.float64(value.item()),
                params=flat(lambda t: t.detach().numpy()),
                grads=flat(lambda t: t.grad.numpy()))


def weighted_golden(loss, k, seed):
    """Weighted mean loss (sum_i s_i loss_i / sum_i s_i, scikit-learn's sample_weight)
    from torch's per-sample losses (reduction="none"); binary_crossentropy with k > 1
    outputs is multilabel (indicator y, mean over the k units as BCEWithLogitsLoss)."""
    import torch
    import torch.nn.functional as F
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    sizes = SIZES_HIDDEN + [k]
    mods = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        lin = torch.nn.Linear(n_in, n_out, dtype=torch.float64)
        mods.append(lin)
        if i < len(sizes) - 2:
            mods.append(torch.nn.Tanh())
    net = torch.nn.Sequential(*mods)
    X = rng.normal(size=(N, sizes[0])) * 1.5
    sw = rng.uniform(0.0, 3.0, N)
    out = net(torch.tensor(X))
    if loss == "softmax_crossentropy":
        y = rng.integers(0, k, N).astype(np.float64)
        per = F.cross_entropy(out, torch.tensor(y).long(), reduction="none")
    elif loss == "binary_crossentropy":
        y = rng.integers(0, 2, (N, k)).astype(np.float64)
        per = F.binary_cross_entropy_with_logits(out, torch.tensor(y),
                                                 reduction="none").mean(dim=1)
    else:
        y = rng.normal(size=(N, k))
        per = F.mse_loss(out, torch.tensor(y), reduction="none").mean(dim=1)
    w = torch.tensor(sw)
    value = (per * w).sum() / w.sum()
    value.backward()
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    flat = lambda get: np.concatenate(  # noqa: E731
        [np.concatenate([get(m.weight).T.ravel(), get(m.bias)]) for m in linears])
    return dict(sizes=np.array(sizes), X=X, y=y, sample_weight=sw,
                loss=np.float64(value.item()), params=flat(lambda t: t.detach().numpy()),
                grads=flat(lambda t: t.grad.numpy()))


#: (loss, output units) of the weighted / multilabel / multi-output goldens
WEIGHTED = [("softmax_crossentropy", 3), ("binary_crossentropy", 1),
            ("binary_crossentropy", 4), ("mse", 1), ("mse", 3)]


def main(outdir: pathlib.Path):
    outdir.mkdir(parents=True, exist_ok=True)
    for seed, (loss, k) in enumerate(WEIGHTED):
        np.savez_compressed(outdir / f"nn_weighted_{loss}_{k}.npz",
                            **weighted_golden(loss, k, 100 + seed))
    for seed, activation in enumerate(ACTIVATIONS):
        for loss in LOSSES:
            np.savez_compressed(outdir / f"nn_{activation}_{loss}.npz",
                                **golden(activation, loss, seed))
    print(f"wrote {len(ACTIVATIONS) * len(LOSSES)} nn goldens to {outdir}")


if __name__ == "__main__":
    root = pathlib.Path(__file__).resolve().parents[1]
    main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root / "tests" / "goldens")
