"""MinitrainClassifier / MinitrainRegressor: scikit-learn's estimator checks, pipelines,
search, cross-validation, partial_fit continuity (bitwise), pickling and parameters.

References are independent of the code under test: a hand-written training loop over
the library's pieces, a NumPy forward pass written from the equations, and scikit-learn
itself (splits, KFold loops).
"""
import copy
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_digits, load_iris, make_classification, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import (GridSearchCV, KFold, StratifiedKFold, cross_val_score,
                                     train_test_split)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import minitrain as mt
from minitrain import optim, schedules
from minitrain.estimators import MinitrainClassifier, MinitrainRegressor
from minitrain.nn import MLP

PARAMS = ["hidden_layer_sizes", "activation", "optimizer", "lr", "optimizer_params",
          "schedule", "schedule_params", "batch_size", "epochs", "early_stopping",
          "validation_fraction", "n_iter_no_change", "random_state", "dtype", "verbose",
          "on_diverge"]


# ---------------------------------------------------------------- references
def relu(z):
    return np.maximum(z, 0.0)


def numpy_forward(model, X):
    """Last-layer outputs written from the equations: A = relu(A W + b), linear last layer."""
    A = np.asarray(X, dtype=np.float64)
    for i, layer in enumerate(model.layers):
        Z = A @ layer.W.astype(np.float64) + layer.b.astype(np.float64)
        A = Z if i == len(model.layers) - 1 else relu(Z)
    return A


def hand_loop(X, Y, layer_sizes, loss, optimizer, lr, epochs, batch_size, seed,
              schedule=None, schedule_params=None, dtype="float64"):
    """The training the estimators promise, written out: MLP + optimizer + schedule."""
    model = MLP(layer_sizes, activation="relu", loss=loss, dtype=dtype, seed=seed)
    opt = optim.get(optimizer, lr=lr)
    n = X.shape[0]
    steps_per_epoch = -(-n // batch_size)
    sched = None
    if schedule is not None:
        params = dict(schedule_params or {})
        names = schedules.parameters(schedule)
        if "max_lr" in names:
            params.setdefault("max_lr", lr)
        if "lr" in names:
            params.setdefault("lr", lr)
        if "total_steps" in names:
            params.setdefault("total_steps", epochs * steps_per_epoch)
        sched = schedules.get(schedule, **params)
    step = 0
    for epoch in range(epochs):
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        for b in range(steps_per_epoch):
            if sched is not None:
                opt.lr = sched.lr(step)
                if sched.momentum(step) is not None:
                    opt.set_momentum(sched.momentum(step))
            idx = perm[b * batch_size:(b + 1) * batch_size]
            model.loss_and_grad(X[idx], Y[idx])
            opt.step(model.params, model.grads)
            step += 1
    return model, opt


def blobs(n=120, classes=3, seed=0):
    X, y = make_classification(n_samples=n, n_features=6, n_informative=4,
                               n_redundant=0, n_classes=classes, random_state=seed)
    return StandardScaler().fit_transform(X), y


def regression(n=100, outputs=1, seed=0):
    X, y = make_regression(n_samples=n, n_features=5, n_targets=outputs, noise=5.0,
                           bias=40.0, random_state=seed)
    return StandardScaler().fit_transform(X), y


# ---------------------------------------------------------------- scikit-learn checks
@parametrize_with_checks(
    [MinitrainClassifier(), MinitrainRegressor(),
     MinitrainClassifier(dtype="float32", epochs=30),
     MinitrainRegressor(dtype="float32", optimizer="nadam", schedule="onecycle", lr=0.01)],
    expected_failed_checks=lambda est: est.expected_failed_checks())
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_expected_failures_only_for_float32():
    assert MinitrainClassifier().expected_failed_checks() == {}
    assert MinitrainRegressor(dtype="float64").expected_failed_checks() == {}
    assert MinitrainRegressor(dtype=np.float32).expected_failed_checks() != {}
    reasons = MinitrainRegressor(dtype="float32").expected_failed_checks()
    assert set(reasons) == {"check_methods_subset_invariance"}
    assert all(len(r) > 20 for r in reasons.values())


# ---------------------------------------------------------------- the scikit-learn workflow
def test_pipeline_gridsearch_digits():
    X, y = load_digits(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MinitrainClassifier(
        hidden_layer_sizes=(32,), epochs=8, random_state=0))
    grid = {"minitrainclassifier__optimizer": ["adam", "nadam"],
            "minitrainclassifier__lr": [1e-3, 1e-2]}
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_score_ > 0.9
    # the search's score of the best setting equals a hand-written 3-fold loop
    best = search.best_params_
    manual = []
    for train, test in StratifiedKFold(3).split(X, y):   # what GridSearchCV(cv=3) uses
        scaler = StandardScaler().fit(X[train])
        clf = MinitrainClassifier(hidden_layer_sizes=(32,), epochs=8, random_state=0,
                                  optimizer=best["minitrainclassifier__optimizer"],
                                  lr=best["minitrainclassifier__lr"])
        clf.fit(scaler.transform(X[train]), y[train])
        manual.append(np.mean(clf.predict(scaler.transform(X[test])) == y[test]))
    assert search.best_score_ == pytest.approx(np.mean(manual), abs=1e-12)
    assert search.best_estimator_[-1].n_iter_ == 8


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_drop_in_for_mlpclassifier():
    """The issue's 'done when': swap MLPClassifier for the nadam + onecycle estimator."""
    from sklearn.neural_network import MLPClassifier
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=0, stratify=y)
    scores = {}
    for name, est in {"sklearn": MLPClassifier(max_iter=30, random_state=0),
                      "minitrain": MinitrainClassifier(optimizer="nadam", schedule="onecycle",
                                                       lr=0.01, epochs=30,
                                                       random_state=0)}.items():
        model = make_pipeline(StandardScaler(), est).fit(X_tr, y_tr)
        scores[name] = model.score(X_te, y_te)
        assert model.predict_proba(X_te).shape == (len(y_te), 10)
    assert scores["minitrain"] > scores["sklearn"] - 0.02
    assert scores["minitrain"] > 0.95


def test_cross_val_score_regressor_diabetes():
    X, y = load_diabetes(return_X_y=True)
    reg = make_pipeline(StandardScaler(), MinitrainRegressor(
        hidden_layer_sizes=(16,), optimizer="nadam", lr=3e-3, epochs=30, random_state=0))
    scores = cross_val_score(reg, X, y, cv=5)
    assert scores.shape == (5,)
    # diabetes is nearly linear: the MLP must come close to least squares
    linear = cross_val_score(LinearRegression(), X, y, cv=5)
    assert scores.mean() > linear.mean() - 0.05
    manual = []
    for train, test in KFold(5).split(X):
        fitted = clone(reg).fit(X[train], y[train])
        resid = y[test] - fitted.predict(X[test])
        manual.append(1 - (resid ** 2).sum() / ((y[test] - y[test].mean()) ** 2).sum())
    np.testing.assert_allclose(scores, manual, rtol=1e-12)


# ---------------------------------------------------------------- exact training
@pytest.mark.parametrize("classes,loss", [(3, "softmax_crossentropy"),
                                          (2, "binary_crossentropy")])
def test_fit_equals_hand_written_loop(classes, loss):
    X, y = blobs(classes=classes)
    clf = MinitrainClassifier(hidden_layer_sizes=(8,), optimizer="nadam", lr=0.01,
                              schedule="onecycle", epochs=4, batch_size=16,
                              random_state=7).fit(X, y)
    n_out = 1 if classes == 2 else classes
    model, opt = hand_loop(X, y, [6, 8, n_out], loss, "nadam", 0.01, 4, 16, 7,
                           schedule="onecycle")
    assert clf.model_.loss == loss
    np.testing.assert_array_equal(clf.model_.params, model.params)
    assert clf.optimizer_.t == opt.t == 4 * 8


@pytest.mark.parametrize("make,est", [
    (blobs, MinitrainClassifier(optimizer="nadam", schedule="onecycle", lr=0.01)),
    (regression, MinitrainRegressor(optimizer="momentum", schedule="cosine", lr=0.01,
                                    schedule_params={"warmup_steps": 5})),
    (regression, MinitrainRegressor(optimizer="adam", schedule="plateau",
                                    schedule_params={"patience": 0, "factor": 0.5})),
    (blobs, MinitrainClassifier(dtype="float32", optimizer="adamw", schedule="power",
                                schedule_params={"steps": 10})),
])
def test_partial_fit_k_times_equals_fit_k_epochs(make, est):
    X, y = make()
    k = 3
    fitted = clone(est).set_params(epochs=k, random_state=3, batch_size=16).fit(X, y)
    inc = clone(est).set_params(epochs=k, random_state=3, batch_size=16)
    for _ in range(k):
        if isinstance(inc, MinitrainClassifier):
            inc.partial_fit(X, y, classes=np.unique(y))
        else:
            inc.partial_fit(X, y)
    assert inc.model_.params.tobytes() == fitted.model_.params.tobytes()
    assert inc.loss_curve_ == fitted.loss_curve_
    assert inc.history_["step"] == fitted.history_["step"]
    assert inc.history_["lr"] == fitted.history_["lr"]
    assert inc.n_iter_ == fitted.n_iter_ == k
    for name, buf in fitted.optimizer_.state.items():
        assert inc.optimizer_.state[name].tobytes() == buf.tobytes()


def test_partial_fit_after_fit_continues_optimizer_state():
    """fit(2 epochs) + 2 partial_fit == fit(4 epochs): Adam's moments are not reset."""
    X, y = blobs()
    est = MinitrainClassifier(optimizer="adam", lr=0.01, random_state=1)
    four = clone(est).set_params(epochs=4).fit(X, y)
    two = clone(est).set_params(epochs=2).fit(X, y)
    two.partial_fit(X, y)
    two.partial_fit(X, y)
    assert two.model_.params.tobytes() == four.model_.params.tobytes()
    assert two.optimizer_.t == four.optimizer_.t == 4 * 4
    assert two.history_["epoch"] == [1, 2, 3, 4]


def test_partial_fit_past_the_schedule_end_and_refit():
    X, y = blobs()
    clf = MinitrainClassifier(schedule="onecycle", lr=0.01, epochs=2, random_state=0)
    for _ in range(3):                       # one epoch more than the schedule spans
        clf.partial_fit(X, y, classes=[0, 1, 2])
    final = clf.schedule_.lr(clf.schedule_.total_steps - 1)
    assert clf.history_["lr"][-1] == final and clf.n_iter_ == 3
    clf.fit(X, y)                            # fit starts afresh: nothing carried over
    assert clf.n_iter_ == 2 and clf.optimizer_.t == 2 * 4


def test_partial_fit_rules():
    X, y = blobs()
    clf = MinitrainClassifier()
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])     # later calls see all three
    clf.partial_fit(X, y)
    assert list(clf.classes_) == [0, 1, 2]
    with pytest.raises(ValueError, match="labels not in classes_"):
        clf.partial_fit(X, y + 1)
    with pytest.raises(ValueError, match="early_stopping"):
        MinitrainClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="X has 5 features"):
        clf.partial_fit(X[:, :5], y)


# ---------------------------------------------------------------- predictions
def test_classifier_predictions_match_numpy_forward():
    X, y = blobs(classes=3)
    labels = np.array(["cat", "dog", "emu"])[y]
    clf = MinitrainClassifier(hidden_layer_sizes=(8,), epochs=5, random_state=0).fit(X, labels)
    Z = numpy_forward(clf.model_, X)
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(clf.predict_proba(X), E / E.sum(axis=1, keepdims=True),
                               rtol=1e-10)
    np.testing.assert_array_equal(clf.predict(X), np.array(["cat", "dog", "emu"])[Z.argmax(1)])
    assert clf.score(X, labels) == np.mean(clf.predict(X) == labels)


def test_binary_classifier_uses_one_logit():
    X, y = blobs(classes=2)
    clf = MinitrainClassifier(hidden_layer_sizes=(8,), epochs=5, random_state=0).fit(X, y * 5)
    assert clf.model_.layer_sizes[-1] == 1 and list(clf.classes_) == [0, 5]
    p = 1 / (1 + np.exp(-numpy_forward(clf.model_, X)[:, 0]))
    np.testing.assert_allclose(clf.predict_proba(X), np.column_stack([1 - p, p]), rtol=1e-10)
    np.testing.assert_array_equal(clf.predict(X), np.where(p > 0.5, 5, 0))


def test_regressor_standardizes_y():
    X, y = regression()
    reg = MinitrainRegressor(hidden_layer_sizes=(8,), epochs=5, random_state=0).fit(X, y)
    np.testing.assert_allclose(reg.target_mean_, [y.mean()], rtol=1e-12)
    np.testing.assert_allclose(reg.target_scale_, [y.std()], rtol=1e-12)
    expected = numpy_forward(reg.model_, X)[:, 0] * y.std() + y.mean()
    np.testing.assert_allclose(reg.predict(X), expected, rtol=1e-10)
    # the network was trained on the standardised target: same as the hand loop on it
    model, _ = hand_loop(X, ((y - y.mean()) / y.std())[:, None], [5, 8, 1], "mse", "adam",
                         1e-3, 5, 32, 0)
    np.testing.assert_array_equal(reg.model_.params, model.params)


def test_standardize_y_is_what_makes_defaults_work():
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    on = MinitrainRegressor(epochs=20, random_state=0).fit(X, y)
    off = MinitrainRegressor(epochs=20, random_state=0, standardize_y=False).fit(X, y)
    assert off.target_mean_.tolist() == [0.0] and off.target_scale_.tolist() == [1.0]
    assert on.score(X, y) > LinearRegression().fit(X, y).score(X, y)
    assert off.score(X, y) < 0.0            # 20 epochs do not even reach the mean


def test_regressor_multi_output():
    X, Y = regression(outputs=3)
    reg = MinitrainRegressor(hidden_layer_sizes=(8,), epochs=5, random_state=0).fit(X, Y)
    assert reg.predict(X).shape == (len(X), 3)
    expected = numpy_forward(reg.model_, X) * Y.std(axis=0) + Y.mean(axis=0)
    np.testing.assert_allclose(reg.predict(X), expected, rtol=1e-10)
    with pytest.raises(ValueError, match="y has 1 output"):
        reg.partial_fit(X, Y[:, 0])


# ---------------------------------------------------------------- early stopping, curves
def test_early_stopping_curves_and_restored_best():
    X, y = blobs(n=200)
    clf = MinitrainClassifier(hidden_layer_sizes=(16,), lr=0.05, epochs=200,
                              early_stopping=True, n_iter_no_change=3,
                              validation_fraction=0.25, random_state=4).fit(X, y)
    assert clf.n_iter_ < 200
    assert len(clf.loss_curve_) == len(clf.validation_loss_curve_) == clf.n_iter_
    assert clf.best_loss_ == min(clf.validation_loss_curve_)
    best = int(np.argmin(clf.validation_loss_curve_))
    assert clf.n_iter_ == best + 1 + 3                      # stopped 3 epochs after the best
    # the kept weights are those of the best epoch: recompute its validation loss in NumPy
    _, X_val, _, y_val = train_test_split(X, y, test_size=0.25, stratify=y, random_state=4)
    Z = numpy_forward(clf.model_, X_val)
    logp = Z - Z.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    assert -logp[np.arange(len(y_val)), y_val].mean() == pytest.approx(clf.best_loss_,
                                                                       rel=1e-9)


def test_curves_without_early_stopping():
    X, y = regression()
    reg = MinitrainRegressor(epochs=6, random_state=0).fit(X, y)
    assert reg.validation_loss_curve_ is None
    assert reg.best_loss_ == min(reg.loss_curve_)
    assert isinstance(reg.history_, mt.History) and reg.history_["epoch"] == list(range(1, 7))


# ---------------------------------------------------------------- parameters, pickling
@pytest.mark.parametrize("cls", [MinitrainClassifier, MinitrainRegressor])
def test_get_params_set_params_clone(cls):
    est = cls()
    expected = PARAMS + (["standardize_y"] if cls is MinitrainRegressor else [])
    assert sorted(est.get_params()) == sorted(expected)
    assert est.get_params()["optimizer"] == "adam" and est.get_params()["dtype"] is None
    out = est.set_params(optimizer="nadam", schedule="onecycle", lr=0.02,
                         schedule_params={"pct_start": 0.2})
    assert out is est and est.optimizer == "nadam" and est.schedule_params == {"pct_start": 0.2}
    twin = clone(est)
    assert twin.get_params() == est.get_params() and twin is not est
    assert twin.schedule_params is not est.schedule_params
    with pytest.raises(ValueError, match="Invalid parameter 'solver'"):
        est.set_params(solver="adam")


def test_set_params_inside_pipeline():
    pipe = make_pipeline(StandardScaler(), MinitrainClassifier())
    pipe.set_params(minitrainclassifier__optimizer="rmsprop", minitrainclassifier__epochs=3)
    assert pipe[-1].optimizer == "rmsprop" and pipe[-1].epochs == 3


@pytest.mark.parametrize("make,cls", [(blobs, MinitrainClassifier),
                                      (regression, MinitrainRegressor)])
def test_pickle_round_trip(make, cls):
    X, y = make()
    est = cls(optimizer="nadam", schedule="onecycle", lr=0.01, epochs=4, random_state=2)
    est.fit(X, y)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    assert again.get_params() == est.get_params()
    assert again.loss_curve_ == est.loss_curve_
    # the optimizer state and the schedule survived: continuing gives identical weights
    copied = copy.deepcopy(est)
    for model in (est, again, copied):
        model.partial_fit(X, y)
    assert again.model_.params.tobytes() == est.model_.params.tobytes()
    assert copied.model_.params.tobytes() == est.model_.params.tobytes()
    # the rebuilt MLP keeps its per-layer views into the flat parameter array
    assert np.shares_memory(again.model_.layers[0].W, again.model_.params)


def test_random_state():
    X, y = blobs()
    a = MinitrainClassifier(epochs=2, random_state=5).fit(X, y)
    b = MinitrainClassifier(epochs=2, random_state=5).fit(X, y)
    c = MinitrainClassifier(epochs=2, random_state=None).fit(X, y)
    d = MinitrainClassifier(epochs=2, random_state=np.random.RandomState(5)).fit(X, y)
    assert a.model_.params.tobytes() == b.model_.params.tobytes()
    assert c.model_.params.tobytes() != a.model_.params.tobytes()
    assert d.model_.params.tobytes() != a.model_.params.tobytes()   # a seed drawn from it


def test_dtype_follows_X_unless_given():
    X, y = blobs()
    assert MinitrainClassifier(epochs=1).fit(X, y).model_.dtype == np.float64
    assert MinitrainClassifier(epochs=1).fit(X.astype(np.float32), y).model_.dtype == np.float32
    assert MinitrainClassifier(epochs=1, dtype="float32").fit(X, y).model_.dtype == np.float32


def test_sklearn_aliases_and_linear_model():
    X, y = blobs()
    clf = MinitrainClassifier(activation="logistic", hidden_layer_sizes=12, epochs=1).fit(X, y)
    assert clf.model_.activation == "sigmoid" and clf.model_.layer_sizes == [6, 12, 3]
    lin = MinitrainClassifier(hidden_layer_sizes=(), epochs=1).fit(X, y)
    assert lin.model_.layer_sizes == [6, 3]


def test_verbose_prints_one_line_per_epoch(capsys):
    X, y = blobs()
    MinitrainClassifier(epochs=3, verbose=True).fit(X, y)
    lines = [l for l in capsys.readouterr().err.splitlines() if l.startswith("epoch")]
    assert len(lines) == 3
    MinitrainClassifier(epochs=3).fit(X, y)
    assert capsys.readouterr().err == ""
    clf = MinitrainClassifier(verbose=True)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    clf.partial_fit(X, y)
    lines = capsys.readouterr().err.splitlines()
    assert [l.split()[:2] for l in lines] == [["epoch", "1"], ["epoch", "2"]]


@pytest.mark.parametrize("params,error,match", [
    ({"epochs": 0}, ValueError, "MinitrainClassifier: epochs must be >= 1, got 0"),
    ({"batch_size": 2.5}, TypeError, "batch_size must be an integer"),
    ({"optimizer": "lbfgs"}, ValueError, "optimizer must be one of sgd, "),
    ({"schedule": "step"}, ValueError, "schedule must be one of constant, "),
    ({"activation": "softmax"}, ValueError, "activation must be one of relu, "),
    ({"hidden_layer_sizes": (8, 0)}, ValueError, "hidden_layer_sizes entry must be >= 1"),
    ({"validation_fraction": 1.0}, ValueError, r"validation_fraction must be in \(0.0, 1.0\)"),
    ({"optimizer_params": {"lr": 1}}, ValueError, "give the learning rate as lr="),
    ({"optimizer_params": {"beta3": 1}}, TypeError, "unknown hyperparameter 'beta3'"),
    ({"optimizer_params": [1]}, TypeError, "optimizer_params must be a dict or None"),
    ({"schedule": "onecycle", "optimizer": "adagrad"}, ValueError, "cycles momentum"),
    ({"schedule": "power"}, TypeError, "missing required parameter"),
    ({"dtype": "float16"}, ValueError, "dtype must be one of float32, float64"),
])
def test_invalid_parameters_fail_at_fit_in_one_line(params, error, match):
    X, y = blobs()
    est = MinitrainClassifier(**params)          # never raises in __init__
    with pytest.raises(error, match=match) as info:
        est.fit(X, y)
    assert "\n" not in str(info.value)


def test_classifier_target_errors():
    X, y = blobs()
    with pytest.raises(ValueError, match="got 1 class"):
        MinitrainClassifier().fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="Unknown label type"):
        MinitrainClassifier().fit(X, X[:, 0])
    with pytest.raises(NotFittedError):
        MinitrainClassifier().predict(X)


def test_feature_names_in():
    pd = pytest.importorskip("pandas")
    X, y = blobs()
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = MinitrainClassifier(epochs=1).fit(frame, y)
    assert list(clf.feature_names_in_) == list(frame.columns)


def test_partial_fit_with_conflicting_classes_raises_as_scikit_learn():
    X, y = load_iris(return_X_y=True)
    clf = MinitrainClassifier(epochs=1, random_state=0)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    clf.partial_fit(X, y, classes=[2, 1, 0])                  # the same set: fine
    with pytest.raises(ValueError, match=r"classes=\[1, 2, 3\] is not the same"):
        clf.partial_fit(X, y, classes=[1, 2, 3])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_regressor_predictions_follow_the_dtype_of_X(dtype):
    X, y = load_diabetes(return_X_y=True)
    reg = MinitrainRegressor(hidden_layer_sizes=(4,), epochs=2, random_state=0)
    pred = reg.fit(X.astype(dtype), y).predict(X.astype(dtype))
    assert pred.dtype == dtype and reg.model_.dtype == dtype


def test_divergence_is_a_value_error_and_on_diverge_is_passed_on():
    X, y = load_diabetes(return_X_y=True)
    params = dict(hidden_layer_sizes=(8,), optimizer="sgd", lr=1e6, epochs=3,
                  standardize_y=False, random_state=0)
    with pytest.raises(ValueError, match="diverge"):
        MinitrainRegressor(**params).fit(X, y)
    with pytest.raises(ValueError, match="on_diverge must be one of stop, rollback"):
        MinitrainRegressor(**params, on_diverge="ignore").fit(X, y)
    rolled = MinitrainRegressor(**params, on_diverge="rollback")
    with pytest.raises(ValueError, match="diverge"):          # lr 1e6 halved 3 times: still NaN
        rolled.fit(X, y)
