"""The MLP: PyTorch goldens, finite differences, layout, numerics and input checks."""
import pathlib

import numpy as np
import pytest

import minitrain as mt
from minitrain.lab import gradcheck
from minitrain.nn import ACTIVATIONS, LOSSES

GOLDENS = pathlib.Path(__file__).parent / "goldens"
OUT = {"softmax_crossentropy": 3, "binary_crossentropy": 1, "mse": 2}


def make_batch(loss, n=12, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    k = OUT[loss]
    if loss == "softmax_crossentropy":
        y = rng.integers(0, k, n)
    elif loss == "binary_crossentropy":
        y = rng.integers(0, 2, n)
    else:
        y = rng.normal(size=(n, k))
    return X, y


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("loss", list(LOSSES))
def test_matches_pytorch_golden(activation, loss):
    g = np.load(GOLDENS / f"nn_{activation}_{loss}.npz")
    model = mt.MLP(list(g["sizes"]), activation=activation, loss=loss, dtype="float64", seed=0)
    model.params[:] = g["params"]
    value = model.loss_and_grad(g["X"], g["y"])
    assert abs(value - g["loss"]) <= 1e-10 * abs(g["loss"])
    np.testing.assert_allclose(model.grads, g["grads"], rtol=1e-10,
                               atol=1e-10 * np.abs(g["grads"]).max())


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("loss", list(LOSSES))
def test_gradcheck_float64(activation, loss):
    X, y = make_batch(loss)
    model = mt.MLP([4, 6, 5, OUT[loss]], activation=activation, loss=loss,
                   dtype="float64", seed=3)
    model.params[:] += np.random.default_rng(1).normal(0, 0.1, model.n_params)  # biases != 0
    rows = gradcheck(model, X, y)
    assert max(r.rel_error for r in rows) < 1e-6


def test_views_share_memory_and_fixed_layout():
    model = mt.MLP([3, 4, 2], seed=0)
    W1, b1, W2, b2 = (model.layers[0].W, model.layers[0].b, model.layers[1].W, model.layers[1].b)
    for view in (W1, b1, W2, b2):
        assert np.shares_memory(view, model.params)
    for layer in model.layers:
        assert np.shares_memory(layer.dW, model.grads) and np.shares_memory(layer.db, model.grads)
        assert layer.W.flags.c_contiguous
    assert W1.shape == (3, 4) and W2.shape == (4, 2)
    # W1, b1, W2, b2 in that order
    model.params[:] = np.arange(model.n_params)
    assert W1[0, 0] == 0 and W1[2, 3] == 11 and b1[0] == 12 and W2[0, 0] == 16 and b2[1] == 25


def test_grads_are_overwritten_not_accumulated():
    X, y = make_batch("softmax_crossentropy")
    model = mt.MLP([4, 5, 3], dtype="float64")
    model.loss_and_grad(X, y)
    first = model.grads.copy()
    model.loss_and_grad(X, y)
    np.testing.assert_array_equal(model.grads, first)


def test_initialisation_by_activation():
    big = 400
    he = mt.MLP([big, big, 2], activation="relu", seed=0).layers[0].W
    assert abs(he.std() - np.sqrt(2 / big)) < 0.05 * np.sqrt(2 / big)
    lecun = mt.MLP([big, big, 2], activation="selu", seed=0).layers[0].W
    assert abs(lecun.std() - np.sqrt(1 / big)) < 0.05 * np.sqrt(1 / big)
    glorot = mt.MLP([big, big, 2], activation="tanh", seed=0).layers[0].W
    limit = np.sqrt(6 / (2 * big))
    assert glorot.max() <= limit and glorot.min() >= -limit and glorot.max() > 0.95 * limit
    forced = mt.MLP([big, big, 2], activation="tanh", init="he", seed=0).layers[0].W
    assert abs(forced.std() - np.sqrt(2 / big)) < 0.05 * np.sqrt(2 / big)
    assert not mt.MLP([3, 4, 2], bias_init="zeros").layers[0].b.any()
    b = mt.MLP([big, 4000, 2], seed=0).layers[0].b             # torch nn.Linear: U(+-1/sqrt(n_in))
    assert b.max() <= 1 / np.sqrt(big) and b.min() >= -1 / np.sqrt(big)
    assert b.max() > 0.95 / np.sqrt(big) and b.min() < -0.95 / np.sqrt(big)
    np.testing.assert_array_equal(mt.MLP([3, 4, 2], seed=3).params[~mt.MLP([3, 4, 2]).bias_mask],
                                  mt.MLP([3, 4, 2], seed=3, bias_init="zeros").params[
                                      ~mt.MLP([3, 4, 2]).bias_mask])   # weights unchanged


def test_same_seed_same_weights_other_seed_differs():
    a, b, c = (mt.MLP([5, 7, 3], seed=s).params for s in (0, 0, 1))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("loss", list(LOSSES))
def test_extreme_logits_are_finite(loss):
    model = mt.MLP([2, OUT[loss]], activation="identity", loss=loss, dtype="float64")
    model.layers[0].W[:] = 0
    for sign in (1.0, -1.0):
        model.layers[0].b[:] = sign * 1e4 * np.arange(1, OUT[loss] + 1)
        X, y = make_batch(loss, d=2)
        value = model.loss_and_grad(X, y)
        assert np.isfinite(value) and np.isfinite(model.grads).all()
    if loss == "softmax_crossentropy":      # confidently right -> loss 0, wrong -> ~1e4
        model.layers[0].b[:] = [0, 0, 1e4]
        assert model.loss_value(np.zeros((1, 2)), [2]) == 0.0
        assert model.loss_value(np.zeros((1, 2)), [0]) == pytest.approx(1e4)


@pytest.mark.parametrize("loss", list(LOSSES))
def test_float32_agrees_with_float64(loss):
    X, y = make_batch(loss, n=20)
    m64 = mt.MLP([4, 16, 8, OUT[loss]], activation="gelu", loss=loss, dtype="float64", seed=2)
    m32 = mt.MLP([4, 16, 8, OUT[loss]], activation="gelu", loss=loss, dtype="float32", seed=2)
    assert m32.params.dtype == np.float32 and m32.grads.dtype == np.float32
    l64, l32 = m64.loss_and_grad(X, y), m32.loss_and_grad(X, y)
    assert l32 == pytest.approx(l64, rel=1e-5)
    np.testing.assert_allclose(m32.grads, m64.grads, rtol=1e-4, atol=1e-5 * np.abs(m64.grads).max())


def test_predict_and_proba():
    X, y = make_batch("softmax_crossentropy", n=30)
    model = mt.MLP([4, 8, 3], dtype="float64")
    P = model.predict_proba(X)
    assert P.shape == (30, 3)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(X), P.argmax(axis=1))
    np.testing.assert_allclose(model.forward(X), model._forward(model.check_X(X), batch_size=7))
    binary = mt.MLP([4, 5, 1], loss="binary_crossentropy", dtype="float64")
    Pb = binary.predict_proba(X)
    z = binary.forward(X)[:, 0]
    np.testing.assert_allclose(Pb[:, 1], 1 / (1 + np.exp(-z)))
    np.testing.assert_array_equal(binary.predict(X), (z > 0).astype(int))
    reg = mt.MLP([4, 5, 1], loss="mse")
    assert reg.predict(X).shape == (30,)
    with pytest.raises(ValueError, match="predict_proba needs a classification loss"):
        reg.predict_proba(X)


def test_loss_value_matches_loss_and_grad_and_leaves_grads():
    X, y = make_batch("mse", n=10)
    model = mt.MLP([4, 6, 2], loss="mse", dtype="float64")
    model.grads[:] = 7.0
    value = model.loss_value(X, y)
    assert (model.grads == 7.0).all()
    assert value == pytest.approx(model.loss_and_grad(X, y), rel=1e-14)


def test_workspace_reused_per_batch_size():
    X, y = make_batch("softmax_crossentropy", n=12)
    model = mt.MLP([4, 5, 3])
    model.loss_and_grad(X, y)
    work = model._work[(12, False)]
    model.loss_and_grad(X, y)
    assert model._work[(12, False)] is work


@pytest.mark.parametrize("kwargs, message", [
    (dict(layer_sizes=[4]), "at least an input and an output"),
    (dict(layer_sizes=[4, 0, 3]), "layer_sizes entry must be >= 1"),
    (dict(layer_sizes=[4, 3], activation="swish"), "activation must be one of relu"),
    (dict(layer_sizes=[4, 3], loss="hinge"), "loss must be one of"),
    (dict(layer_sizes=[4, 3], dtype="float16"), "dtype must be one of float32, float64"),
    (dict(layer_sizes=[4, 3], init="xavier"), "init must be one of he, glorot, lecun"),
    (dict(layer_sizes=[4, 1]), "softmax_crossentropy needs >= 2 output units"),
])
def test_constructor_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mt.MLP(**kwargs)


@pytest.mark.parametrize("loss, X, y, message", [
    ("softmax_crossentropy", np.zeros((3, 5)), [0, 1, 2], "must have 4 features"),
    ("softmax_crossentropy", np.zeros(4), [0], "must be 2-D"),
    ("softmax_crossentropy", np.full((3, 4), np.nan), [0, 1, 2], "must be finite"),
    ("softmax_crossentropy", np.zeros((3, 4)), [0, 1, 3], r"labels must be in \[0, 2\]"),
    ("softmax_crossentropy", np.zeros((3, 4)), [0, 1.5, 2], "non-integer"),
    ("softmax_crossentropy", np.zeros((3, 4)), [0, 1], r"shape \(3,\)"),
    ("binary_crossentropy", np.zeros((3, 4)), [0, 1, 2], r"must be in \[0, 1\]"),
    ("mse", np.zeros((3, 4)), np.zeros((3, 3)), r"shape \(3, 2\)"),
    ("mse", np.zeros((3, 4)), np.full((3, 2), np.inf), "must be finite"),
])
def test_input_errors(loss, X, y, message):
    model = mt.MLP([4, 5, OUT[loss]], loss=loss)
    with pytest.raises(ValueError, match=message):
        model.loss_and_grad(X, y)


def test_bias_mask_and_param_blocks_follow_the_flat_layout():
    model = mt.MLP([3, 4, 2], dtype="float64")
    blocks = model.param_blocks
    assert blocks == [(0, 12), (12, 16), (16, 24), (24, 26)]
    views = [v for layer in model.layers for v in (layer.W, layer.b)]
    for (start, stop), view in zip(blocks, views):
        assert np.shares_memory(model.params[start:stop], view)
        assert stop - start == view.size
    expected = np.zeros(26, dtype=bool)
    expected[12:16] = expected[24:26] = True
    np.testing.assert_array_equal(model.bias_mask, expected)
    assert not model.bias_mask.flags.writeable


WEIGHTED = [("softmax_crossentropy", 3), ("binary_crossentropy", 1),
            ("binary_crossentropy", 4), ("mse", 1), ("mse", 3)]


@pytest.mark.parametrize("loss, k", WEIGHTED)
def test_weighted_multilabel_multioutput_match_pytorch_golden(loss, k):
    """sum_i s_i loss_i / sum_i s_i from torch's reduction="none" (scripts/goldens_nn.py)."""
    g = np.load(GOLDENS / f"nn_weighted_{loss}_{k}.npz")
    model = mt.MLP(list(g["sizes"]), activation="tanh", loss=loss, dtype="float64")
    model.params[:] = g["params"]
    value = model.loss_and_grad(g["X"], g["y"], sample_weight=g["sample_weight"])
    assert value == pytest.approx(float(g["loss"]), rel=1e-12)
    np.testing.assert_allclose(model.grads, g["grads"], rtol=1e-10,
                               atol=1e-12 * np.abs(g["grads"]).max())
    assert model.loss_value(g["X"], g["y"], sample_weight=g["sample_weight"]) == \
        pytest.approx(value, rel=1e-12)


def _targets(loss, k, n, rng):
    if loss == "softmax_crossentropy":
        return rng.integers(0, k, n)
    if loss == "binary_crossentropy":
        return rng.integers(0, 2, (n, k)) if k > 1 else rng.integers(0, 2, n)
    return rng.normal(size=(n, k))


@pytest.mark.parametrize("loss, k", WEIGHTED)
def test_weighted_losses_finite_differences(loss, k):
    rng = np.random.default_rng(5)
    X, y, sw = rng.normal(size=(9, 4)), _targets(loss, k, 9, rng), rng.uniform(0, 2, 9)
    model = mt.MLP([4, 5, k], activation="gelu", loss=loss, dtype="float64", seed=2)
    model.loss_and_grad(X, y, sample_weight=sw)
    grads, h = model.grads.copy(), 1e-6
    for i in range(model.n_params):
        keep = model.params[i]
        model.params[i] = keep + h
        up = model.loss_value(X, y, sample_weight=sw)
        model.params[i] = keep - h
        down = model.loss_value(X, y, sample_weight=sw)
        model.params[i] = keep
        assert (up - down) / (2 * h) == pytest.approx(grads[i], rel=1e-6, abs=1e-9)


def test_sample_weight_semantics():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(10, 4)), rng.integers(0, 3, 10)
    model = mt.MLP([4, 6, 3], dtype="float64")
    plain = model.loss_and_grad(X, y)
    g = model.grads.copy()
    assert model.loss_and_grad(X, y, sample_weight=np.full(10, 2.5)) == pytest.approx(plain)
    np.testing.assert_allclose(model.grads, g, rtol=1e-13)
    twice = np.r_[np.arange(10), 0, 0]                  # weight 3 == the row three times
    w = np.ones(10)
    w[0] = 3
    assert model.loss_and_grad(X, y, sample_weight=w) == pytest.approx(
        model.loss_and_grad(X[twice], y[twice]), rel=1e-13)
    for bad in (np.ones(9), -np.ones(10), np.zeros(10), np.full(10, np.nan)):
        with pytest.raises(ValueError, match="sample_weight"):
            model.loss_and_grad(X, y, sample_weight=bad)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_equals_dense(dtype, fmt):
    sparse = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(1)
    X = sparse.random(40, 30, density=0.1, format=fmt, random_state=1, dtype=np.float64)
    y = rng.integers(0, 3, 40)
    model = mt.MLP([30, 8, 7, 3], dtype=dtype, seed=4)
    value = model.loss_and_grad(X, y)
    g = model.grads.copy()
    assert model.loss_and_grad(X.toarray(), y) == pytest.approx(value, rel=1e-6)
    np.testing.assert_allclose(model.grads, g, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(model.forward(X), model.forward(X.toarray()), rtol=1e-5,
                               atol=1e-6)
    assert model.forward(X).dtype == dtype and g.dtype == dtype
    idx = np.array([3, 3, 17, 0])                     # the trainer's path: rows by index
    Xc = model.check_X(X)
    assert sparse.issparse(Xc) and Xc.format == "csr"
    model._loss_and_grad(Xc, model.check_y(y, 40), idx)
    g_rows = model.grads.copy()
    model.loss_and_grad(X.toarray()[idx], y[idx])
    np.testing.assert_allclose(g_rows, model.grads, rtol=1e-5, atol=1e-7)


def test_multilabel_predictions():
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(20, 4)), rng.integers(0, 2, (20, 3))
    model = mt.MLP([4, 5, 3], loss="binary_crossentropy", dtype="float64")
    Z = model.forward(X)
    np.testing.assert_array_equal(model.predict(X), (Z > 0).astype(int))
    np.testing.assert_allclose(model.predict_proba(X), 1 / (1 + np.exp(-Z)))
    with pytest.raises(ValueError, match=r"shape \(20, 3\) for binary_crossentropy"):
        model.loss_and_grad(X, Y[:, 0])


def test_uniform_bias_start_is_what_makes_spirals_train():
    """Zero biases put every first-layer relu kink through the origin; data/spirals.csv
    then stalls near 0.7 (scikit-learn's MLP: about 0.80 on this split, measured)."""
    from minitrain import data
    from minitrain.train import fit
    ds = data.load_csv(pathlib.Path(__file__).parents[1] / "data" / "spirals.csv", "label")
    train, _, test = data.split(ds, val=0.2, test=0.2, seed=0)
    scaler = data.Scaler.fit(train.X)
    X, Xt = scaler.transform(train.X), scaler.transform(test.X)
    acc = {}
    for bias_init in ("uniform", "zeros"):
        scores = []
        for seed in range(3):
            model = mt.MLP([2, 32, 32, 2], seed=seed, bias_init=bias_init)
            fit(model, mt.optim.get("nadam", lr=2e-3), (X, train.y), epochs=40,
                batch_size=32, seed=seed, progress=False)
            scores.append(np.mean(model.predict(Xt) == test.y))
        acc[bias_init] = np.mean(scores)
    assert acc["uniform"] > 0.88 and acc["uniform"] > acc["zeros"] + 0.1, acc
