"""minitrain.sklearn beyond scikit-learn's own tests (tests/test_sklearn_mlp.py):
the same numbers as scikit-learn, its objective and gradient term for term, minitrain's
optimizers / schedules / activations by name, sparse input, float32, pickling."""
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_iris, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkC
from sklearn.neural_network import MLPRegressor as SkR
from sklearn.preprocessing import StandardScaler

import minitrain as mt
from minitrain.sklearn import MLPClassifier, MLPRegressor

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_IRIS = StandardScaler().fit_transform(X_IRIS)


def quiet_fit(est, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, **kw)


def datasets():
    X, Y = make_multilabel_classification(n_samples=60, n_features=6, n_classes=3,
                                          random_state=0)
    Xr, yr = make_regression(n_samples=60, n_features=5, n_targets=3, random_state=0)
    yield "multiclass", SkC, MLPClassifier, X_IRIS, Y_IRIS
    yield "binary", SkC, MLPClassifier, X_IRIS, Y_IRIS > 0
    yield "multilabel", SkC, MLPClassifier, X.astype(float), Y
    yield "regression", SkR, MLPRegressor, Xr, yr[:, 0] / 100
    yield "multi-output", SkR, MLPRegressor, Xr, yr / 100


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("case", list(datasets()), ids=lambda c: c[0])
def test_same_numbers_as_scikit_learn(case, solver):
    """Same random_state: same initial weights and minibatches, so the same fit."""
    _, Sk, Mt, X, y = case
    params = dict(hidden_layer_sizes=(7, 5), solver=solver, max_iter=8, alpha=0.01,
                  random_state=3, batch_size=16, learning_rate_init=0.01, tol=0)
    sw = np.random.default_rng(0).uniform(0.5, 2, X.shape[0])
    ref, ours = quiet_fit(Sk(**params), X, y, sample_weight=sw), \
        quiet_fit(Mt(**params), X, y, sample_weight=sw)
    # L-BFGS's line search turns last-bit differences (BLAS summation order) into
    # visible ones after a few iterations; the stochastic solvers stay within rounding
    rtol, atol = (1e-2, 1e-3) if solver == "lbfgs" else (1e-6, 1e-9)
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(ours.loss_, ref.loss_, rtol=rtol)
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    if solver != "lbfgs":
        np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-7)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=rtol, atol=atol)


@pytest.mark.parametrize("case", list(datasets()), ids=lambda c: c[0])
def test_objective_and_gradient_equal_scikit_learns(case):
    """alpha/(2n) ||W||^2 on weights only, sample weights, every output kind."""
    _, Sk, Mt, X, y = case
    params = dict(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=1, alpha=0.7,
                  random_state=1, activation="tanh")
    sw = np.random.default_rng(1).uniform(0.5, 2, X.shape[0])
    ours, ref = quiet_fit(Mt(**params), X, y), quiet_fit(Sk(**params), X, y)
    theta = np.hstack([a.ravel() for a in ours.coefs_ + ours.intercepts_])
    theta = theta + np.random.default_rng(2).normal(0, 0.3, theta.size)
    Y = ref._label_binarizer.transform(y) if Sk is SkC else y.reshape(len(y), -1)
    units = [X.shape[1], 6, ref.n_outputs_]
    buffers = ([X] + [None] * 2, [None] * 2,
               [np.empty((a, b)) for a, b in zip(units[:-1], units[1:])],
               [np.empty(b) for b in units[1:]])
    f_ref, g_ref = ref._loss_grad_lbfgs(theta, X, Y, sw, *buffers)
    f, g = ours._loss_grad_lbfgs(theta, X, Y, sw, *buffers)
    assert f == pytest.approx(f_ref, rel=1e-12)
    np.testing.assert_allclose(g, g_ref, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("solver", mt.optim.names())
def test_every_minitrain_optimizer_is_a_solver(solver):
    clf = quiet_fit(MLPClassifier(solver=solver, max_iter=60, random_state=0, batch_size=16,
                                  learning_rate_init=0.02), X_IRIS, Y_IRIS)
    assert clf.score(X_IRIS, Y_IRIS) > 0.85
    assert len(clf.loss_curve_) == clf.n_iter_


@pytest.mark.parametrize("schedule", ["cosine", "onecycle", "exponential:steps=10,rate=0.5"])
def test_minitrain_schedules_as_learning_rate(schedule):
    clf = quiet_fit(MLPClassifier(solver="sgd", learning_rate=schedule, max_iter=30,
                                  learning_rate_init=0.05, random_state=0, tol=0), X_IRIS,
                    Y_IRIS)
    name, params = mt.schedules.parse_spec(schedule)
    expected = mt.schedules.build(name, params, lr=0.05, total_steps=30).lr(29)
    assert clf._optimizer.learning_rate == pytest.approx(float(expected))
    assert clf.score(X_IRIS, Y_IRIS) > 0.85


def test_minitrain_activations_and_names_in_errors():
    clf = quiet_fit(MLPClassifier(activation="gelu", max_iter=50, random_state=0), X_IRIS,
                    Y_IRIS)
    assert clf.score(X_IRIS, Y_IRIS) > 0.85
    with pytest.raises(ValueError, match="'solver' parameter.*'nadam'"):
        MLPClassifier(solver="nadamm").fit(X_IRIS, Y_IRIS)
    with pytest.raises(ValueError, match="'learning_rate' parameter.*'onecycle'"):
        MLPClassifier(learning_rate="onecycl").fit(X_IRIS, Y_IRIS)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_sparse_fit_equals_dense(solver):
    rng = np.random.default_rng(0)
    X = sp.random(200, 300, density=0.02, format="csr", random_state=0)
    y = rng.integers(0, 3, 200)
    params = dict(solver=solver, max_iter=5, random_state=0, hidden_layer_sizes=(8,))
    a = quiet_fit(MLPClassifier(**params), X, y)
    b = quiet_fit(MLPClassifier(**params), X.toarray(), y)
    for u, v in zip(a.coefs_, b.coefs_):
        np.testing.assert_allclose(u, v, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(a.predict_proba(X.tocsc()), b.predict_proba(X.toarray()))


def test_float32_end_to_end_and_views_of_one_flat_array():
    X, y = make_regression(n_samples=80, n_features=4, random_state=0)
    reg = quiet_fit(MLPRegressor(max_iter=20, random_state=0), X.astype(np.float32), y / 100)
    assert reg.predict(X.astype(np.float32)).dtype == np.float32
    assert all(c.dtype == np.float32 for c in reg.coefs_ + reg.intercepts_)
    net = reg._mt_net
    assert all(np.shares_memory(c, net.params) for c in reg.coefs_ + reg.intercepts_)


def test_pickle_round_trip_continues_training():
    clf = quiet_fit(MLPClassifier(max_iter=5, random_state=0), X_IRIS, Y_IRIS)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(X_IRIS), clf.predict_proba(X_IRIS))
    clf.partial_fit(X_IRIS, Y_IRIS)
    copy.partial_fit(X_IRIS, Y_IRIS)
    for u, v in zip(copy.coefs_, clf.coefs_):
        np.testing.assert_array_equal(u, v)


def test_poisson_runs_scikit_learns_code_and_refuses_minitrain_only_choices():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(50, 2))
    y = rng.poisson(np.exp(X.sum(axis=1)))
    params = dict(loss="poisson", hidden_layer_sizes=(3,), max_iter=20, random_state=0)
    ours = quiet_fit(MLPRegressor(**params), X, y)
    ref = quiet_fit(SkR(**params), X, y)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-10)
    for bad in (dict(solver="nadam"), dict(activation="gelu")):
        with pytest.raises(ValueError, match="loss='poisson' runs scikit-learn's own code"):
            MLPRegressor(**params, **bad).fit(X, y)
