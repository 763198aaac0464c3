r"""Drop-in replacements for scikit-learn's ``MLPClassifier`` and ``MLPRegressor``.

Swap one import and keep your code::

    # from sklearn.neural_network import MLPClassifier, MLPRegressor
    from minitrain.sklearn import MLPClassifier, MLPRegressor

The classes subclass scikit-learn's own, so every parameter name, default, fitted
attribute, method, warning and error message is scikit-learn's (its own test suite
runs against them: tests/test_sklearn_mlp.py). What changes is the engine:

- ``coefs_`` and ``intercepts_`` are **views** into one flat minitrain ``MLP.params``
  array (layout ``W1, b1, W2, b2, ...``); every minibatch runs one compiled
  forward/backward (:meth:`minitrain.nn.MLP.loss_and_grad`, sparse X multiplied in the
  kernel) and one compiled optimizer step over the flat array;
- ``solver`` also takes every minitrain optimizer name (``minitrain.optim.names()``),
  ``learning_rate`` every minitrain schedule name (``minitrain.schedules.names()``;
  built with ``lr=learning_rate_init`` and ``total_steps = max_iter * batches per epoch``,
  other parameters in a spec string: ``learning_rate="exponential:steps=500,rate=0.5"``);
  ``activation`` every minitrain activation (``"logistic"`` is minitrain's ``sigmoid``).

The objective is scikit-learn's, term for term (n is the batch size, or the sum of
the batch's sample weights s)::

    loss = data_loss + alpha / (2 n) * sum ||W_l||^2        (biases not penalised)
    grad = d data_loss + alpha / n * W_l                    (0 at the biases)

with data_loss the weighted mean over samples of: ``log_loss`` (softmax outputs,
minitrain ``softmax_crossentropy``), ``binary_log_loss`` summed over the k logistic
outputs (binary and multilabel; k times minitrain's ``binary_crossentropy``, which
averages over k), or ``squared_error`` reported as ``0.5 * mean over all n*k
elements`` while its gradient is that of ``0.5 * sum over k`` (scikit-learn's
convention, kept for identical results). ``loss="poisson"`` (exp output) runs
scikit-learn's own NumPy code.

Optimizers: ``sgd`` is :class:`minitrain.optim.SGD` with ``momentum`` and
``nesterovs_momentum`` (scikit-learn's velocity update equals torch's for a constant
lr); ``adam`` is :class:`minitrain.optim.Adam` under ``convention="keras"``, whose
update ``p -= lr sqrt(1-b2^t)/(1-b1^t) m / (sqrt(v) + eps)`` is scikit-learn's.
Initial weights are drawn exactly as scikit-learn draws them (same random_state, same
numbers). ``lbfgs`` minimises the full-batch objective over the flat vector with
SciPy's L-BFGS-B.
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.optimize
from numba import njit
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as _SkMLPClassifier
from sklearn.neural_network import MLPRegressor as _SkMLPRegressor
from sklearn.utils import shuffle as _shuffle
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.optimize import _check_optimize_result

from minitrain import optim, schedules
from minitrain.nn import ACTIVATIONS, JIT, MLP

__all__ = ["MLPClassifier", "MLPRegressor"]

#: scikit-learn's activation names that minitrain spells differently
_ACTIVATION_ALIASES = {"logistic": "sigmoid"}
_SKLEARN_LR = ("constant", "invscaling", "adaptive")
#: scikit-learn's output activation -> (minitrain loss, how to scale its value, grad)
_OUTPUT_LOSS = {"softmax": "softmax_crossentropy", "logistic": "binary_crossentropy",
                "identity": "mse"}


class _SpecOptions(StrOptions):
    """A registry name, optionally with parameters: ``"exponential:steps=100"``."""

    def is_satisfied_by(self, val):
        return isinstance(val, str) and val.split(":", 1)[0] in self.options

    def __str__(self):
        return super().__str__() + ' (schedules may add ":key=value,...")'


def _extended_constraints(base):
    """scikit-learn's parameter constraints plus minitrain's registry names."""
    c = dict(base)
    c["activation"] = [StrOptions({"identity", "logistic", "tanh", "relu"}
                                  | set(ACTIVATIONS))]
    c["solver"] = [StrOptions({"lbfgs", "sgd", "adam"} | set(optim.names()))]
    c["learning_rate"] = [_SpecOptions(set(_SKLEARN_LR) | set(schedules.names()))]
    return c


@njit(**JIT)
def _finish_grad(params, grads, is_bias, scale, c):
    """grads = scale * grads, + c * params at the weights (c = alpha / n); returns ||W||^2.

    One fused pass (big layers are memory-bound: measured faster than a vectorised
    update plus a separate sum of squares).
    """
    sq = 0.0
    for i in range(params.size):
        g = grads[i] * scale
        if not is_bias[i]:
            g += c * params[i]
            sq += params[i] * params[i]
        grads[i] = g
    return sq


class _Stepper:
    """The stochastic solver: a minitrain optimizer on the flat params, plus
    scikit-learn's learning-rate rules (``learning_rate`` attribute, ``iteration_ends``,
    ``trigger_stopping``, as ``sklearn.neural_network._stochastic_optimizers``)."""

    def __init__(self, est, n_steps_per_epoch):
        self.learning_rate_init = self.learning_rate = float(est.learning_rate_init)
        name = getattr(est, "_mt_solver", est.solver)
        # scikit-learn's Adam ignores learning_rate (its lr rules are for sgd only)
        self.lr_schedule = "constant" if name == "adam" else est.learning_rate
        self.power_t = est.power_t
        self.step = 0
        if name == "sgd":
            self._spec = (optim.SGD, dict(
                lr=self.learning_rate, momentum=est.momentum,
                nesterov=bool(est.nesterovs_momentum and est.momentum > 0)))
        elif name == "adam":
            self._spec = (optim.Adam, dict(lr=self.learning_rate, beta1=est.beta_1,
                                           beta2=est.beta_2, eps=est.epsilon,
                                           convention="keras"))
        else:
            names = optim.hyperparameters(name)
            extra = {k: v for k, v in (("beta1", est.beta_1), ("beta2", est.beta_2),
                                       ("eps", est.epsilon)) if k in names}
            if "momentum" in names and name != "rmsprop":
                extra["momentum"] = est.momentum
            self._spec = (optim.get, dict(name=name, lr=self.learning_rate, **extra))
        self.opt = self._spec[0](**self._spec[1])
        self.schedule = None
        if est.learning_rate not in _SKLEARN_LR:
            name, params = schedules.parse_spec(est.learning_rate)
            self.schedule = schedules.build(name, params, lr=self.learning_rate,
                                            total_steps=max(1, est.max_iter * n_steps_per_epoch))

    def __getstate__(self):               # compiled kernels do not pickle: keep the state
        state = dict(self.__dict__)
        state["opt"] = self.opt.state_dict()
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        opt = self._spec[0](**self._spec[1])
        opt.load_state_dict(state["opt"])
        self.opt = opt

    def update(self, params, grads):
        if self.schedule is not None:
            self.learning_rate = float(self.schedule.lr(self.step))
            m = self.schedule.momentum(self.step)
            if m is not None and self.opt.momentum_attr is not None:
                self.opt.set_momentum(m)        # onecycle/cyclic: momentum or beta1
        self.opt.lr = self.learning_rate
        self.opt.step(params, grads)
        self.step += 1

    def iteration_ends(self, time_step):
        if self.lr_schedule == "invscaling":
            self.learning_rate = self.learning_rate_init / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg, verbose):
        if self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + " Setting learning rate to %f" % self.learning_rate)
        return False


class _MinitrainMLP:
    """The minitrain engine under scikit-learn's estimator (mixed in first)."""

    # -- the flat network behind coefs_ / intercepts_ ---------------------------
    def _uses_numpy_path(self):
        return getattr(self, "out_activation_", None) not in _OUTPUT_LOSS

    def _net(self, dtype=None):
        """The MLP whose params hold coefs_/intercepts_ (as views); rebuilt if they moved."""
        dtype = np.dtype(dtype or self.coefs_[0].dtype)
        net = getattr(self, "_mt_net", None)
        sizes = [self.coefs_[0].shape[0]] + [c.shape[1] for c in self.coefs_]
        bound = (net is not None and net.dtype == dtype and net.layer_sizes == sizes
                 and all(c is L.W and b is L.b for c, b, L in
                         zip(self.coefs_, self.intercepts_, net.layers)))
        if bound:
            return net
        if net is None or net.layer_sizes != sizes or net.dtype != dtype \
                or net.loss != _OUTPUT_LOSS[self.out_activation_]:
            act = _ACTIVATION_ALIASES.get(self.activation, self.activation)
            net = MLP(sizes, activation=act, loss=_OUTPUT_LOSS[self.out_activation_],
                      dtype=dtype.name, init="glorot", bias_init="zeros")
            self._mt_bias = np.ascontiguousarray(net.bias_mask)
        for c, b, L in zip(self.coefs_, self.intercepts_, net.layers):
            L.W[...] = c
            L.b[...] = np.reshape(b, L.b.shape)
        self.coefs_ = [L.W for L in net.layers]
        self.intercepts_ = [L.b for L in net.layers]
        self._mt_net = net
        return net

    def _kernel_targets(self, y, dtype):
        """y as the kernel wants it: class index column for softmax, else as is."""
        y = np.asarray(y)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if self.out_activation_ == "softmax":
            y = y.argmax(axis=1).reshape(-1, 1)
        return np.ascontiguousarray(y, dtype=dtype)

    def _kernel_X(self, X, dtype):
        if hasattr(X, "tocsr"):
            X = X.tocsr()
            return X if X.dtype == dtype else X.astype(dtype)
        return np.ascontiguousarray(X, dtype=dtype)

    def _objective(self, net, X, Y, idx, sw):
        """scikit-learn's loss of the rows idx; leaves its gradient in net.grads."""
        value = net._loss_and_grad(X, Y, idx, sw)
        k = net.layer_sizes[-1]
        if net.loss == "binary_crossentropy":          # binary_log_loss sums over k
            value, scale = value * k, float(k)
        elif net.loss == "mse":                        # 0.5 mean; grad of 0.5 sum over k
            value, scale = 0.5 * value, 0.5 * k
        else:
            scale = 1.0
        n = float(sw[idx].sum(dtype=np.float64)) if sw is not None else float(idx.shape[0])
        c = self.alpha / n
        sq = _finish_grad(net.params, net.grads, self._mt_bias,
                          net.dtype.type(scale), net.dtype.type(c))
        return value + 0.5 * c * sq

    # -- the hooks scikit-learn's fit calls ---------------------------------------
    def _fit(self, X, y, sample_weight=None, incremental=False):
        """scikit-learn's _fit; a minitrain optimizer name takes its stochastic path."""
        solver = self._mt_solver = self.solver
        if getattr(self, "loss", None) == "poisson":      # scikit-learn's NumPy path
            extra = [f"{k}={v!r}" for k, v, ok in (
                ("solver", solver, ("sgd", "adam", "lbfgs")),
                ("activation", self.activation, ("identity", "logistic", "tanh", "relu")))
                if v not in ok]
            if extra:
                raise ValueError(f"{type(self).__name__}: loss='poisson' runs scikit-learn's "
                                 f"own code, which has no {', '.join(extra)}; use "
                                 "loss='squared_error' or scikit-learn's choices")
        if solver in ("sgd", "adam", "lbfgs"):
            return super()._fit(X, y, sample_weight=sample_weight, incremental=incremental)
        self.solver = "sgd"              # scikit-learn's _fit knows sgd, adam, lbfgs only
        try:
            return super()._fit(X, y, sample_weight=sample_weight, incremental=incremental)
        finally:
            self.solver = solver

    def _check_solver(self):
        if self.solver == "lbfgs":
            return super()._check_solver()
        return True

    def _forward_pass_fast(self, X, check_input=True):
        if self._uses_numpy_path():
            return super()._forward_pass_fast(X, check_input)
        if check_input:
            from sklearn.utils.validation import validate_data
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        net = self._net()
        Z = net._forward(self._kernel_X(X, net.dtype))
        if self.out_activation_ == "softmax":
            Z = Z - Z.max(axis=1, keepdims=True)
            np.exp(Z, out=Z)
            Z /= Z.sum(axis=1, keepdims=True)
        elif self.out_activation_ == "logistic":
            Z = _sigmoid(Z)
        return Z

    def _loss_grad_lbfgs(self, packed_coef_inter, X, y, sample_weight, *buffers):
        """Loss and gradient in scikit-learn's packing (all coefs, then all intercepts)."""
        if self._uses_numpy_path():
            return super()._loss_grad_lbfgs(packed_coef_inter, X, y, sample_weight, *buffers)
        net = self._net(X.dtype)
        order = self._sklearn_order(net)
        net.params[order] = packed_coef_inter
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=net.dtype)
        loss = self._objective(net, self._kernel_X(X, net.dtype),
                               self._kernel_targets(y, net.dtype), np.arange(X.shape[0]), sw)
        return loss, net.grads[order].astype(np.float64)

    @staticmethod
    def _sklearn_order(net):
        blocks = net.param_blocks
        return np.concatenate([np.arange(*b) for b in blocks[0::2] + blocks[1::2]])

    def _fit_lbfgs(self, X, y, sample_weight, activations, deltas, coef_grads,
                   intercept_grads, layer_units):
        if self._uses_numpy_path():
            return super()._fit_lbfgs(X, y, sample_weight, activations, deltas, coef_grads,
                                      intercept_grads, layer_units)
        net = self._net(X.dtype)
        Xk, Yk = self._kernel_X(X, net.dtype), self._kernel_targets(y, net.dtype)
        idx = np.arange(X.shape[0])
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=net.dtype)

        def fun(theta):                                # minitrain's own layout: no copy order
            net.params[:] = theta
            return self._objective(net, Xk, Yk, idx, sw), net.grads.astype(np.float64)

        iprint = 1 if (self.verbose is True or self.verbose >= 1) else -1
        opt_res = scipy.optimize.minimize(
            fun, net.params.astype(np.float64), method="L-BFGS-B", jac=True,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol,
                     **_lbfgs_iprint(iprint)})
        self.n_iter_ = _check_optimize_result("lbfgs", opt_res, self.max_iter)
        self.loss_ = opt_res.fun
        net.params[:] = opt_res.x

    def _fit_stochastic(self, X, y, sample_weight, activations, deltas, coef_grads,
                        intercept_grads, layer_units, incremental):
        if self._uses_numpy_path():
            return super()._fit_stochastic(X, y, sample_weight, activations, deltas,
                                           coef_grads, intercept_grads, layer_units,
                                           incremental)
        net = self._net(X.dtype)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        X_val = y_val = sample_weight_val = None
        X_train, y_train, sample_weight_train = X, y, sample_weight
        if early_stopping:                              # scikit-learn's split, verbatim
            stratify = y if (is_classifier(self) and self.n_outputs_ == 1) else None
            arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
            parts = train_test_split(*arrays, random_state=self._random_state,
                                     test_size=self.validation_fraction, stratify=stratify)
            X_train, X_val, y_train, y_val = parts[:4]
            if sample_weight is not None:
                sample_weight_train, sample_weight_val = parts[4:]
            if X_val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' "
                    "or the size of your dataset.")
            if is_classifier(self):
                y_val = self._label_binarizer.inverse_transform(y_val)

        n_samples = X_train.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than "
                              "sample size. It is going to be clipped")
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        n_batches = -(-n_samples // batch_size)
        if not incremental or not hasattr(self, "_optimizer") \
                or not isinstance(self._optimizer, _Stepper):
            self._optimizer = _Stepper(self, n_batches)

        Xk = self._kernel_X(X_train, net.dtype)
        Yk = self._kernel_targets(y_train, net.dtype)
        sw = None if sample_weight_train is None else \
            np.ascontiguousarray(sample_weight_train, dtype=net.dtype)
        sample_idx = np.arange(n_samples, dtype=np.int64)
        try:
            self.n_iter_ = 0
            for it in range(self.max_iter):
                if self.shuffle:
                    sample_idx = _shuffle(sample_idx, random_state=self._random_state)
                accumulated_loss = 0.0
                for start in range(0, n_samples, batch_size):
                    idx = sample_idx[start:start + batch_size]
                    batch_loss = self._objective(net, Xk, Yk, idx, sw)
                    accumulated_loss += batch_loss * idx.shape[0]
                    self._optimizer.update(net.params, net.grads)
                self.n_iter_ += 1
                self.loss_ = accumulated_loss / n_samples
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                self._update_no_improvement_count(early_stopping, X_val, y_val,
                                                  sample_weight_val)
                self._optimizer.iteration_ends(self.t_)
                if self._no_improvement_count > self.n_iter_no_change:
                    if early_stopping:
                        msg = ("Validation score did not improve more than "
                               "tol=%f for %d consecutive epochs."
                               % (self.tol, self.n_iter_no_change))
                    else:
                        msg = ("Training loss did not improve more than tol=%f"
                               " for %d consecutive epochs." % (self.tol, self.n_iter_no_change))
                    if self._optimizer.trigger_stopping(msg, self.verbose):
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        "Stochastic Optimizer: Maximum iterations (%d) "
                        "reached and the optimization hasn't converged yet." % self.max_iter,
                        ConvergenceWarning)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        if early_stopping:                              # restore the best weights
            self.coefs_ = self._best_coefs
            self.intercepts_ = self._best_intercepts
            self._net(X.dtype)

    def __getstate__(self):
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__
        state = dict(state)
        state.pop("_mt_net", None)                      # rebuilt from coefs_ on demand
        return state


def _sigmoid(Z):
    out = np.empty_like(Z)
    pos = Z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-Z[pos]))
    e = np.exp(Z[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def _lbfgs_iprint(iprint):
    try:
        from sklearn.utils.fixes import _get_additional_lbfgs_options_dict
        return _get_additional_lbfgs_options_dict("iprint", iprint)
    except ImportError:                                  # older scikit-learn
        return {"iprint": iprint}


class MLPClassifier(_MinitrainMLP, _SkMLPClassifier):
    """scikit-learn's ``MLPClassifier`` (same parameters, attributes, methods) on
    minitrain's compiled engine; see :mod:`minitrain.sklearn` and scikit-learn's docs.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from minitrain.sklearn import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(solver="nadam", max_iter=300, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    """

    _parameter_constraints = _extended_constraints(_SkMLPClassifier._parameter_constraints)


class MLPRegressor(_MinitrainMLP, _SkMLPRegressor):
    """scikit-learn's ``MLPRegressor`` (same parameters, attributes, methods) on
    minitrain's compiled engine; see :mod:`minitrain.sklearn` and scikit-learn's docs.
    float32 X gives float32 parameters and predictions.
    """

    _parameter_constraints = _extended_constraints(_SkMLPRegressor._parameter_constraints)
