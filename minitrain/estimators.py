"""scikit-learn estimators: :class:`MinitrainClassifier` and :class:`MinitrainRegressor`.

They put minitrain's optimizers and schedules behind scikit-learn's estimator API, so a
minitrain network works inside a ``Pipeline``, ``cross_val_score`` and ``GridSearchCV``::

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from minitrain import MinitrainClassifier

    clf = make_pipeline(StandardScaler(),
                        MinitrainClassifier(optimizer="nadam", schedule="onecycle"))
    clf.fit(X_train, y_train).score(X_test, y_test)

How they map onto minitrain
---------------------------
``fit`` builds an :class:`minitrain.nn.MLP`, an optimizer (:func:`minitrain.optim.get`)
and a schedule (:func:`minitrain.schedules.get`) and runs :func:`minitrain.train.fit`
once for ``epochs`` epochs. Epoch ``e`` visits the rows in the order of
``np.random.default_rng([seed, e])``, where ``seed`` is ``random_state`` (an int), so
two fits with the same ``random_state`` are bit-identical.

``partial_fit`` is one more epoch over the data it is given, *continuing* the optimizer
state (Adam's moments, the step count), the schedule position and the epoch counter.
Calling it ``k`` times on the same data gives bit for bit the model that ``fit`` with
``epochs=k`` gives. (scikit-learn's own ``MLPClassifier`` rebuilds its optimizer on a
``warm_start`` fit, which resets Adam's moments; here nothing is reset.)

What the estimators do not do
-----------------------------
* They do not standardise ``X``: put a ``StandardScaler`` in front (a ``Pipeline``).
* :class:`MinitrainRegressor` *does* standardise ``y`` internally
  (``standardize_y=True``): the network learns ``(y - mean) / std`` and ``predict``
  maps back. A network starts out predicting about 0; for a target such as diabetes'
  (mean 152, std 77) the defaults then spend some 50 epochs just reaching the mean
  (training R^2 after 100 epochs: 0.36 with ``standardize_y=False``, 0.67 with it).
  The losses in ``loss_curve_`` are in standardised units.

Both estimators pass every scikit-learn estimator check with the default ``dtype=None``.
``expected_failed_checks()`` lists, with reasons, the checks that may fail otherwise
(one, at float32 precision); scikit-learn 1.9 has no tag for them, so tests pass it to
``parametrize_with_checks(expected_failed_checks=...)``.
"""
from __future__ import annotations

import copy
import numbers
import sys

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from minitrain import optim, schedules
from minitrain._validation import check_choice, check_int, check_range
from minitrain.nn import ACTIVATIONS, MLP, probabilities
from minitrain.train import EarlyStopping, History
from minitrain.train import fit as train_fit



__all__ = ["MinitrainClassifier", "MinitrainRegressor"]

# scikit-learn's MLP names for activations that minitrain calls otherwise
ACTIVATION_ALIASES = {"logistic": "sigmoid"}

_FLOAT_DTYPES = [np.float64, np.float32]


# ---------------------------------------------------------------- small helpers
def _seed(random_state):
    """An int seed >= 0: ``random_state`` itself when it is an int, else drawn from it."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        check_random_state(random_state)      # same range check as scikit-learn
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


# ---------------------------------------------------------------- the shared base
class _MinitrainEstimator(BaseEstimator):
    """Parameters, validation, training and pickling shared by both estimators."""

    #: scikit-learn estimator checks that may fail with dtype="float32", and why.
    FLOAT32_EXPECTED_FAILED_CHECKS = {
        "check_methods_subset_invariance":
            "float32: BLAS sums a one-row matrix product in another order than a "
            "many-row one, so predictions for one row and for a batch can differ in the "
            "7th significant digit; the check's rtol=1e-7 is float64's",
    }

    def expected_failed_checks(self):
        """scikit-learn estimator checks expected to fail, as {check name: reason}.

        None with the default ``dtype=None`` (float64 for float64 data). scikit-learn
        1.9 has no tag for this: pass it as ``parametrize_with_checks(...,
        expected_failed_checks=lambda est: est.expected_failed_checks())``.
        """
        try:
            float32 = self.dtype is not None and np.dtype(self.dtype) == np.float32
        except TypeError:
            float32 = False
        return dict(self.FLOAT32_EXPECTED_FAILED_CHECKS) if float32 else {}

    def __init__(self, hidden_layer_sizes=(64,), activation="relu", optimizer="adam",
                 lr=None, optimizer_params=None, schedule=None, schedule_params=None,
                 batch_size=32, epochs=100, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=10, random_state=None, dtype=None, verbose=False,
                 on_diverge="stop"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.lr = lr
        self.optimizer_params = optimizer_params
        self.schedule = schedule
        self.schedule_params = schedule_params
        self.batch_size = batch_size
        self.epochs = epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.dtype = dtype
        self.verbose = verbose
        self.on_diverge = on_diverge

    # -- subclass hooks: targets ----------------------------------------------------
    def _targets(self, y, first, classes=None):
        """(encoded y for the network, loss name, number of outputs)."""
        raise NotImplementedError

    # -- checks at fit time (scikit-learn: never in __init__) -------------------------
    def _hidden(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else sizes
        owner = type(self).__name__
        try:
            sizes = list(sizes)
        except TypeError:
            raise TypeError(f"{owner}: hidden_layer_sizes must be a sequence of integers, "
                            f"got {self.hidden_layer_sizes!r}") from None
        return [check_int("hidden_layer_sizes entry", s, 1, owner=owner) for s in sizes]

    def _check_params(self):
        owner = type(self).__name__
        check_int("epochs", self.epochs, 1, owner=owner)
        check_int("batch_size", self.batch_size, 1, owner=owner)
        check_int("n_iter_no_change", self.n_iter_no_change, 1, owner=owner)
        check_range("validation_fraction", self.validation_fraction, 0.0, 1.0, owner=owner,
                    lo_open=True, hi_open=True)
        check_choice("optimizer", self.optimizer, tuple(optim.names()), owner=owner)
        check_choice("on_diverge", self.on_diverge, ("stop", "rollback"), owner=owner)
        if self.schedule is not None:
            check_choice("schedule", self.schedule, tuple(schedules.names()), owner=owner)
        activation = ACTIVATION_ALIASES.get(self.activation, self.activation)
        check_choice("activation", activation, tuple(ACTIVATIONS), owner=owner)
        for name in ("optimizer_params", "schedule_params"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, dict):
                raise TypeError(f"{owner}: {name} must be a dict or None, got {value!r}")
        if "lr" in (self.optimizer_params or {}):
            raise ValueError(f"{owner}: give the learning rate as lr=, not in "
                             "optimizer_params")

    # -- building the pieces ----------------------------------------------------------
    def _learning_rate(self):
        return optim.default_lr(self.optimizer) if self.lr is None else self.lr

    def _build(self, X, loss, n_out, seed):
        """model_, optimizer_, schedule_ and the counters, for a fresh start on X."""
        activation = ACTIVATION_ALIASES.get(self.activation, self.activation)
        self._seed = seed
        dtype = X.dtype if self.dtype is None else self.dtype
        self.model_ = MLP([X.shape[1], *self._hidden(), n_out], activation=activation,
                          loss=loss, dtype=dtype, seed=self._seed)
        lr = self._learning_rate()
        self.optimizer_ = optim.get(self.optimizer, lr=lr, **(self.optimizer_params or {}))
        self.schedule_ = None
        if self.schedule is not None:
            steps_per_epoch = -(-X.shape[0] // self.batch_size)
            params = copy.deepcopy(self.schedule_params or {})
            names = schedules.parameters(self.schedule)
            for key in ("lr", "max_lr"):
                if key in names:
                    params.setdefault(key, lr)
            if "total_steps" in names:
                params.setdefault("total_steps", max(2, self.epochs * steps_per_epoch))
            self.schedule_ = schedules.get(self.schedule, **params)
            from minitrain.experiments.runs import check_combination   # the one rule
            check_combination(self.optimizer, "torch",
                              {"lr": lr, **(self.optimizer_params or {})}, self.schedule,
                              self.schedule_params)
        self.history_ = History(metric_name="accuracy" if self.model_.is_classifier else "r2")
        self._step = 0

    # -- fit and partial_fit ----------------------------------------------------------
    def _validate(self, X, y, reset):
        return validate_data(self, X, y, reset=reset, dtype=_FLOAT_DTYPES,
                             multi_output=not isinstance(self, ClassifierMixin),
                             y_numeric=not isinstance(self, ClassifierMixin))

    def fit(self, X, y):
        """Train a fresh network for ``epochs`` epochs (fewer with early stopping).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) (or (n_samples, n_outputs) for regression)

        Returns
        -------
        self
        """
        self._check_params()
        X, y = self._validate(X, y, reset=True)
        Y, loss, n_out = self._targets(y, first=True)
        seed = _seed(self.random_state)
        val = early = None
        if self.early_stopping:
            stratify = Y if isinstance(self, ClassifierMixin) else None
            X, X_val, Y, Y_val = train_test_split(
                X, Y, test_size=self.validation_fraction, stratify=stratify,
                random_state=seed)
            val = (X_val, Y_val)
            early = EarlyStopping(patience=self.n_iter_no_change, restore_best=True)
        self._build(X, loss, n_out, seed)
        history = train_fit(self.model_, self.optimizer_, (X, Y), val, epochs=self.epochs,
                            batch_size=self.batch_size, schedule=self.schedule_,
                            seed=self._seed, early_stopping=early,
                            progress=bool(self.verbose), on_diverge=self.on_diverge)
        self.history_.rows.extend(history.rows)
        self._step = history.rows[-1]["step"]
        self._set_curves(early)
        return self

    def _partial_fit(self, X, y, classes=None):
        """One epoch over (X, y), continuing optimizer, schedule and epoch counter."""
        if self.early_stopping:
            raise ValueError(f"{type(self).__name__}: partial_fit does not support "
                             "early_stopping=True (there is no validation set to watch)")
        first = not hasattr(self, "model_")
        if first:
            self._check_params()
        X, y = self._validate(X, y, reset=first)
        Y, loss, n_out = self._targets(y, first=first, classes=classes)
        if first:
            self._build(X, loss, n_out, _seed(self.random_state))
        epoch, step = len(self.history_), self._step
        history = train_fit(self.model_, self.optimizer_, (X, Y), epochs=epoch + 1,
                            batch_size=self.batch_size, schedule=self.schedule_,
                            seed=self._seed, progress=False, on_diverge=self.on_diverge,
                            start_epoch=epoch, start_step=step)
        row = dict(history.rows[-1])
        self.history_.rows.append(row)
        if self.verbose:
            print(f"epoch {row['epoch']}  step {row['step']}  train_loss "
                  f"{row['train_loss']:.4f}  lr {row['lr']:.3g}", file=sys.stderr)
        self._step = row["step"]
        self._set_curves(None)
        return self

    def _set_curves(self, early):
        self.n_iter_ = len(self.history_)
        self.loss_curve_ = self.history_["train_loss"]
        if early is not None:
            self.validation_loss_curve_ = self.history_["val_loss"]
            self.best_loss_ = float(early.best)
        else:
            self.validation_loss_curve_ = None
            self.best_loss_ = float(min(self.loss_curve_))

    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_")

    def _outputs(self, X):
        """Outputs of the network's last layer for checked X, as float64."""
        return self._outputs_and_dtype(X)[0]

    def _outputs_and_dtype(self, X):
        """(last-layer outputs as float64, the dtype predictions are returned in:
        float32 when both X and the network are float32, else float64)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=_FLOAT_DTYPES)
        return (self.model_.forward(X).astype(np.float64),
                np.result_type(X.dtype, self.model_.dtype))

    # -- pickling: the MLP's views and the compiled kernels are rebuilt, not pickled -----
    def __getstate__(self):
        state = dict(super().__getstate__())
        if "model_" in state:
            model, opt = state["model_"], state["optimizer_"]
            state["model_"] = {"config": model.config(), "params": model.params.copy()}
            state["optimizer_"] = opt.state_dict()
        return state

    def __setstate__(self, state):
        state = dict(state)
        if "model_" in state:
            saved, opt = state["model_"], state["optimizer_"]
            model = MLP(**saved["config"])
            model.params[:] = saved["params"]
            optimizer = getattr(optim, opt["optimizer"])(**opt["hyperparameters"])
            optimizer.load_state_dict(opt)
            state["model_"], state["optimizer_"] = model, optimizer
        super().__setstate__(state)


# ---------------------------------------------------------------- classifier
class MinitrainClassifier(ClassifierMixin, _MinitrainEstimator):
    """A minitrain MLP classifier with scikit-learn's estimator API.

    Two classes use one logit output and ``binary_crossentropy``; more use
    ``softmax_crossentropy``. Labels can be any sortable values (strings, ints).

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(64,)
        Units of each hidden layer; ``()`` gives a linear (logistic) model.
    activation : str, default="relu"
        A minitrain activation (relu, leaky_relu, elu, selu, tanh, sigmoid, gelu,
        identity); scikit-learn's ``"logistic"`` means ``"sigmoid"``.
    optimizer : str, default="adam"
        A name from :func:`minitrain.optim.names`.
    lr : float or None, default=None
        Learning rate (``max_lr`` of ``onecycle``); None takes minitrain's per-optimizer
        default, ``minitrain.optim.default_lr(name)`` (1e-3 for adam and nadam).
    optimizer_params : dict or None, default=None
        Other optimizer hyperparameters, e.g. ``{"weight_decay": 1e-4, "beta2": 0.99}``.
    schedule : str or None, default=None
        A name from :func:`minitrain.schedules.names`, or None for a constant ``lr``.
    schedule_params : dict or None, default=None
        Schedule parameters. ``lr``/``max_lr`` default to ``lr``; ``total_steps``
        defaults to ``epochs * ceil(n_train / batch_size)`` of the first ``fit`` (or
        first ``partial_fit``) call.
    batch_size : int, default=32
        The last minibatch of an epoch holds the remainder.
    epochs : int, default=100
        Passes over the training data made by ``fit``. (``partial_fit`` makes one.)
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified), stop when
        its loss has not improved for ``n_iter_no_change`` epochs, and restore the
        weights of the best epoch. Not available in ``partial_fit``.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
    random_state : int, RandomState instance or None, default=None
        Seed of the initial weights, the shuffling and the validation split. An int
        ``s`` makes epoch ``e`` shuffle with ``np.random.default_rng([s, e])``; None
        draws a fresh seed at each ``fit``.
    dtype : {None, "float32", "float64"}, default=None
        Precision of the network's parameters and arithmetic. None follows ``X`` as
        scikit-learn's MLP does: float32 data trains in float32, anything else in
        float64. With ``"float32"`` a prediction for one row and for the same row in a
        batch can differ in the 7th digit (BLAS sums a one-row product in another
        order).
    verbose : bool, default=False
        Print one line per epoch (on stderr).
    on_diverge : {"stop", "rollback"}, default="stop"
        The trainer's choice when the loss becomes NaN/inf: "stop" raises
        ``minitrain.train.TrainingDiverged`` (a ValueError, as scikit-learn raises);
        "rollback" restores the last epoch, halves the learning rate and carries on.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names (a DataFrame).
    n_iter_ : int
        Epochs trained, counting every ``partial_fit`` call.
    history_ : minitrain.train.History
        One row per epoch: epoch, step, lr, momentum, train_loss, val_loss, val_metric.
    loss_curve_ : list of float
        Mean training minibatch loss of each epoch.
    validation_loss_curve_ : list of float or None
        Validation loss of each epoch with ``early_stopping``, else None.
    best_loss_ : float
        Lowest validation loss with ``early_stopping``, else lowest training loss.
    model_ : minitrain.nn.MLP
        The network (``model_.params`` is the flat parameter array).
    optimizer_ : minitrain.optim.Optimizer
        The optimizer with its state (continued by ``partial_fit``).
    schedule_ : schedule object or None

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MinitrainClassifier(optimizer="nadam", schedule="onecycle", lr=0.01,
    ...                           epochs=30, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    """

    def _targets(self, y, first, classes=None):
        owner = type(self).__name__
        check_classification_targets(y)             # y is 1-D here (validate_data)
        if not first and classes is not None and not np.array_equal(
                np.unique(np.asarray(classes)), self.classes_):
            raise ValueError(f"{owner}: classes={np.unique(classes).tolist()} is not the "
                             f"same as on the first partial_fit call ({self.classes_.tolist()})")
        if first:
            self.classes_ = np.unique(y if classes is None else np.asarray(classes))
            if len(self.classes_) < 2:
                raise ValueError(f"{owner}: needs samples of at least 2 classes, "
                                 f"got 1 class ({self.classes_[0]!r})")
        unknown = ~np.isin(y, self.classes_)
        if unknown.any():
            raise ValueError(f"{owner}: y holds labels not in classes_ {list(self.classes_)}, "
                             f"e.g. {y[unknown][0]!r}")
        Y = np.searchsorted(self.classes_, y)
        k = len(self.classes_)
        return (Y, "binary_crossentropy", 1) if k == 2 else (Y, "softmax_crossentropy", k)

    def partial_fit(self, X, y, classes=None):
        """Train one more epoch on (X, y), continuing the optimizer and the schedule.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like, required on the first call
            Every label ``y`` will ever hold (later calls may see a subset).

        Returns
        -------
        self
        """
        if not hasattr(self, "model_") and classes is None:
            raise ValueError(f"{type(self).__name__}: classes must be passed on the first "
                             "call to partial_fit")
        return self._partial_fit(X, y, classes)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        return probabilities(self._outputs(X))      # sigmoid of one logit, else softmax

    def predict(self, X):
        """The most probable class label of each sample."""
        Z = self._outputs(X)
        index = (Z[:, 0] > 0).astype(np.intp) if Z.shape[1] == 1 else Z.argmax(axis=1)
        return self.classes_[index]


# ---------------------------------------------------------------- regressor
class MinitrainRegressor(RegressorMixin, _MinitrainEstimator):
    """A minitrain MLP regressor (mse loss) with scikit-learn's estimator API.

    Parameters are those of :class:`MinitrainClassifier`, and:

    Parameters
    ----------
    standardize_y : bool, default=True
        Train on ``(y - mean) / std`` (per output, from the first ``fit`` or
        ``partial_fit`` data; a constant output keeps std 1) and undo it in ``predict``.
        ``loss_curve_`` is then in standardised units. ``False`` trains on ``y`` as is.

    Attributes
    ----------
    target_mean_, target_scale_ : ndarray of shape (n_outputs,)
        The standardisation of ``y`` (0 and 1 with ``standardize_y=False``).

    Other attributes are those of :class:`MinitrainClassifier`, without ``classes_``.
    ``y`` may have several columns (multi-output regression); ``predict`` then returns
    ``(n_samples, n_outputs)``.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = MinitrainRegressor(hidden_layer_sizes=(16,), epochs=50,
    ...                          random_state=0).fit(X, y)
    >>> reg.score(X, y) > 0.4
    True
    """

    def __init__(self, hidden_layer_sizes=(64,), activation="relu", optimizer="adam",
                 lr=None, optimizer_params=None, schedule=None, schedule_params=None,
                 batch_size=32, epochs=100, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=10, random_state=None, dtype=None, verbose=False,
                 on_diverge="stop", standardize_y=True):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation,
            optimizer=optimizer, lr=lr, optimizer_params=optimizer_params,
            schedule=schedule, schedule_params=schedule_params, batch_size=batch_size,
            epochs=epochs, early_stopping=early_stopping,
            validation_fraction=validation_fraction, n_iter_no_change=n_iter_no_change,
            random_state=random_state, dtype=dtype, verbose=verbose, on_diverge=on_diverge)
        self.standardize_y = standardize_y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _targets(self, y, first, classes=None):
        y = np.asarray(y, dtype=np.float64)
        Y = y[:, None] if y.ndim == 1 else y
        if first:
            self._y_1d = y.ndim == 1
            if self.standardize_y:
                self.target_mean_ = Y.mean(axis=0)
                std = Y.std(axis=0)
                self.target_scale_ = np.where(std > 0, std, 1.0)
            else:
                self.target_mean_ = np.zeros(Y.shape[1])
                self.target_scale_ = np.ones(Y.shape[1])
        elif Y.shape[1] != self.target_mean_.shape[0]:
            raise ValueError(f"{type(self).__name__}: y has {Y.shape[1]} output(s), the "
                             f"model was trained with {self.target_mean_.shape[0]}")
        return (Y - self.target_mean_) / self.target_scale_, "mse", Y.shape[1]

    def partial_fit(self, X, y):
        """Train one more epoch on (X, y), continuing the optimizer and the schedule.

        Returns
        -------
        self
        """
        return self._partial_fit(X, y)

    def predict(self, X):
        """Predicted targets: shape (n_samples,), or (n_samples, n_outputs) for 2-D y."""
        Z, dtype = self._outputs_and_dtype(X)
        Z = (Z * self.target_scale_ + self.target_mean_).astype(dtype, copy=False)
        return Z[:, 0] if self._y_1d else Z
