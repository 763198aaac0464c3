"""explain-backprop: every printed number recomputed from the printed inputs.

The reference here is independent of minitrain.lab.backprop: the forward and backward
pass are written again below from the textbook equations (activations from their
definitions, derivatives by the product/chain rule), fed only with the numbers parsed
from the printed text (X, y, W, b). The printed dW/db must also equal the MLP's own
compiled gradients, and the finite-difference lines must hold what they say.
"""
import math
import re

import numpy as np
import pytest
from click.testing import CliRunner

import minitrain as mt
from minitrain import lab, nn
from minitrain.cli import cli

HEADER = re.compile(r"^  (\S+)(?: = (.*?))?  \((\d+)(?: x (\d+))?\)$")
FD_ROW = re.compile(r"^  ([Wb]\d+)\[([\d,]+)\]\s+(\S+)\s+(\S+)\s+(\S+)$")


def parse(text):
    """Text -> ({name: array}, {scalar name: value}, [(block, index, backprop, fd, diff)])."""
    arrays, scalars, checks = {}, {}, []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = HEADER.match(line)
        if m:
            name, rows = m.group(1), int(m.group(3))
            cols = m.group(4)
            block = [[float(v) for v in lines[i + 1 + r].split()]
                     for r in range(rows if cols else 1)]
            a = np.array(block)
            arrays[name] = a if cols else a[0]
            i += 1 + (rows if cols else 1)
            continue
        m = FD_ROW.match(line)
        if m:
            index = tuple(int(v) for v in m.group(2).split(","))
            checks.append((m.group(1), index, *(float(m.group(k)) for k in (3, 4, 5))))
        elif line.startswith("  loss = "):
            scalars["loss"] = float(line.rsplit(" = ", 1)[1])
        elif "gives loss" in line:
            scalars["model_loss"] = float(re.search(r"gives loss (\S+)", line).group(1))
            scalars["difference"] = float(re.search(r"difference (\S+)\)", line).group(1))
        i += 1
    return arrays, scalars, checks


# ------------------------------------------------ the independent reference
SCALE, ALPHA = 1.0507009873554805, 1.6732632423543772


def phi(z):                                  # standard normal CDF
    return np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in np.ravel(z)]).reshape(
        np.shape(z))


F = {"relu": lambda z: z * (z > 0),
     "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
     "elu": lambda z: np.where(z > 0, z, np.exp(np.minimum(z, 0)) - 1),
     "selu": lambda z: SCALE * np.where(z > 0, z, ALPHA * (np.exp(np.minimum(z, 0)) - 1)),
     "tanh": lambda z: (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z)),
     "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
     "gelu": lambda z: z * phi(z),
     "identity": lambda z: z}
DF = {"relu": lambda z: (z > 0) * 1.0,
      "leaky_relu": lambda z: np.where(z > 0, 1.0, 0.01),
      "elu": lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0))),
      "selu": lambda z: SCALE * np.where(z > 0, 1.0, ALPHA * np.exp(np.minimum(z, 0))),
      "tanh": lambda z: 4 / (np.exp(z) + np.exp(-z)) ** 2,          # sech^2
      "sigmoid": lambda z: F["sigmoid"](z) * (1 - F["sigmoid"](z)),
      "gelu": lambda z: phi(z) + z * np.exp(-z * z / 2) / math.sqrt(2 * math.pi),
      "identity": lambda z: np.ones_like(z)}


def loss_and_delta(loss, Z, y):
    n = Z.shape[0]
    if loss == "softmax_crossentropy":
        P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
        labels = y[:, 0].astype(int)
        onehot = np.zeros_like(Z)
        onehot[np.arange(n), labels] = 1
        return -np.log(P[np.arange(n), labels]).mean(), (P - onehot) / n, P
    if loss == "binary_crossentropy":                 # mean over every entry (multilabel)
        P = 1 / (1 + np.exp(-Z))
        return -(y * np.log(P) + (1 - y) * np.log(1 - P)).mean(), (P - y) / Z.size, P
    return ((Z - y) ** 2).mean(), 2 * (Z - y) / Z.size, None


def reference(activation, loss, X, y, Ws, bs):
    """Every named quantity of one forward and backward pass, from the equations."""
    out, A = {}, [X]
    L = len(Ws)
    for l in range(1, L + 1):
        out[f"Z{l}"] = A[-1] @ Ws[l - 1] + bs[l - 1]
        A.append(F[activation](out[f"Z{l}"]) if l < L else out[f"Z{l}"])
        if l < L:
            out[f"A{l}"] = A[-1]
    value, delta, P = loss_and_delta(loss, out[f"Z{L}"], y)
    if P is not None:
        out["P"] = P
    for l in range(L, 0, -1):
        if l < L:
            out[f"f'(Z{l})"] = DF[activation](out[f"Z{l}"])
            delta = out[f"dA{l}"] * out[f"f'(Z{l})"]
        out[f"delta{l}"] = delta
        out[f"dW{l}"] = A[l - 1].T @ delta
        out[f"db{l}"] = delta.sum(axis=0)
        if l > 1:
            out[f"dA{l - 1}"] = delta @ Ws[l - 1].T
    return value, out


def close(printed, exact, digits):
    """Printed with ``digits`` significant digits: within one unit of the last digit."""
    exact = np.asarray(exact, float)
    return np.allclose(printed, exact, rtol=10.0 ** (1 - digits), atol=1e-15)


CASES = [((2, 3, 2), "tanh", "softmax_crossentropy", 1, 0),
         ((2, 3, 2), "relu", "softmax_crossentropy", 4, 1),
         ((3, 4, 1), "sigmoid", "binary_crossentropy", 3, 2),
         ((2, 2, 2, 1), "gelu", "mse", 2, 3),
         ((4, 5, 3), "selu", "mse", 5, 4),
         ((3, 3, 3, 3), "elu", "softmax_crossentropy", 8, 5),
         ((2, 6, 6, 2), "leaky_relu", "softmax_crossentropy", 2, 6),
         ((1, 1), "identity", "mse", 1, 7)]


def _multilabel():
    """True when the MLP takes binary_crossentropy with several outputs (multilabel)."""
    try:
        mt.MLP([2, 2], loss="binary_crossentropy")
    except ValueError:
        return False
    return True


if _multilabel():
    CASES.append(((3, 4, 2), "tanh", "binary_crossentropy", 4, 8))


@pytest.mark.parametrize("sizes,activation,loss,samples,seed", CASES)
@pytest.mark.parametrize("digits", [5, 3])
def test_every_printed_number_follows_from_the_printed_inputs(sizes, activation, loss,
                                                              samples, seed, digits):
    text = lab.explain_backprop(sizes, activation=activation, loss=loss, samples=samples,
                                seed=seed, digits=digits).text()
    arrays, scalars, checks = parse(text)
    L = len(sizes) - 1
    X, y = arrays["X"], arrays["y"]
    Ws = [arrays[f"W{l}"] for l in range(1, L + 1)]
    bs = [arrays[f"b{l}"] for l in range(1, L + 1)]
    assert X.shape == (samples, sizes[0]) and [W.shape for W in Ws] == list(
        zip(sizes[:-1], sizes[1:]))
    # the inputs are exact: 1 decimal for X, 2 for the weights
    assert np.array_equal(X, X.round(1)) and all(np.array_equal(W, W.round(2)) for W in Ws)
    value, want = reference(activation, loss, X, y, Ws, bs)
    computed = set(arrays) - {"X", "y"} - {f"{p}{l}" for p in "Wb" for l in range(1, L + 1)}
    assert computed == set(want)                  # every quantity printed, nothing else
    for name in want:
        assert close(arrays[name], want[name], digits), name
    assert close(scalars["loss"], value, digits)
    assert close(scalars["model_loss"], value, digits)
    # the finite-difference lines: one per W and b, at its largest gradient entry
    assert [c[0] for c in checks] == [f"{p}{l}" for l in range(1, L + 1) for p in "Wb"]
    for block, index, analytic, numeric, diff in checks:
        grad = want["d" + block]
        assert close(analytic, grad[index], digits)
        assert abs(grad[index]) == pytest.approx(np.abs(grad).max(), rel=1e-12)
        assert close(numeric, grad[index], digits) and diff < 1e-6
    assert scalars["difference"] < 1e-12


@pytest.mark.parametrize("sizes,activation,loss,samples,seed", CASES)
def test_printed_gradients_are_the_mlps_own(sizes, activation, loss, samples, seed):
    result = lab.explain_backprop(sizes, activation=activation, loss=loss, samples=samples,
                                  seed=seed)
    arrays, _, _ = parse(result.text())
    model = mt.MLP(list(sizes), activation=activation, loss=loss, dtype="float64", seed=seed)
    L = len(sizes) - 1
    flat = np.concatenate([np.concatenate([arrays[f"W{l}"].ravel(), arrays[f"b{l}"]])
                           for l in range(1, L + 1)])
    model.params[:] = flat                                  # the printed weights
    y = arrays["y"] if arrays["y"].shape[1] > 1 or loss == "mse" else arrays["y"][:, 0]
    loss_value = model.loss_and_grad(arrays["X"], y)
    assert result.model_loss == pytest.approx(loss_value, rel=1e-14)
    assert result.agrees and "and the same dW, db" in result.text()
    np.testing.assert_allclose(result.grads, model.grads, rtol=1e-12, atol=1e-15)
    printed = np.concatenate([np.concatenate([arrays[f"dW{l}"].ravel(), arrays[f"db{l}"]])
                              for l in range(1, L + 1)])
    assert close(printed, model.grads, result.digits)


def test_a_wrong_gradient_is_reported_not_hidden(monkeypatch):
    real = mt.MLP.loss_and_grad

    def off(self, X, y):                      # the compiled backprop, 1 % off
        value = real(self, X, y)
        self.grads *= 1.01
        return value

    monkeypatch.setattr(mt.MLP, "loss_and_grad", off)
    result = lab.explain_backprop()
    assert not result.agrees and "and DIFFERENT dW, db" in result.text()


def test_every_line_fits_80_columns():
    for activation in lab.backprop.ACTIVATIONS:
        text = lab.explain_backprop([6, 6, 6, 6], activation=activation, loss="mse",
                                    samples=8, digits=6, seed=3).text()
        assert max(map(len, text.splitlines())) <= 80, activation


def test_tables_cover_the_mlps_activations_and_losses():
    assert set(lab.backprop.ACTIVATIONS) == set(nn.ACTIVATIONS)
    assert set(lab.backprop.LOSSES) == set(nn.LOSSES)


def test_same_seed_same_text_and_the_defaults():
    first = str(mt.explain_backprop())
    assert first == str(lab.explain_backprop((2, 3, 2), seed=0))
    assert first.startswith("Backprop in numbers: MLP 2 -> 3 -> 2, tanh, "
                            "softmax_crossentropy, 1 sample\n")
    assert str(mt.explain_backprop(seed=1)) != first


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(sizes=[2]), ValueError, "sizes must list at least an input and an output size"),
    (dict(sizes=[2, 7, 2]), ValueError, "sizes entry must be in [1, 6], got 7"),
    (dict(sizes=[2, 0, 2]), ValueError, "sizes entry must be in [1, 6], got 0"),
    (dict(sizes=[2, 2.5, 2]), TypeError, "sizes entry must be an integer"),
    (dict(activation="swish"), ValueError, "activation must be one of relu"),
    (dict(loss="hinge"), ValueError, "loss must be one of softmax_crossentropy"),
    (dict(loss="softmax_crossentropy", sizes=[2, 1]), ValueError,
     "softmax_crossentropy needs >= 2 output units, got 1"),
    (dict(samples=9), ValueError, "samples must be in [1, 8], got 9"),
    (dict(digits=7), ValueError, "digits must be in [3, 6], got 7"),
    (dict(eps=0.0), ValueError, "eps must be in (0.0, 0.01], got 0.0"),
])
def test_errors_name_the_parameter(kwargs, error, message):
    with pytest.raises(error) as info:
        lab.explain_backprop(**kwargs)
    assert str(info.value).startswith("explain_backprop: ")
    assert message in str(info.value) and "\n" not in str(info.value)


# ------------------------------------------------------------------ command line
def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_cli_prints_the_library_text():
    result = run("explain-backprop", "--sizes", "3,4,2", "-a", "relu", "-n", "3",
                 "--seed", "2", "--digits", "4")
    assert result.exit_code == 0, result.output
    assert result.output.rstrip("\n") == lab.explain_backprop(
        [3, 4, 2], activation="relu", samples=3, seed=2, digits=4).text()


def test_cli_binary_default_has_one_output():
    result = run("explain-backprop", "--loss", "binary_crossentropy")
    assert result.exit_code == 0, result.output
    assert "MLP 2 -> 3 -> 1, tanh, binary_crossentropy" in result.output


def test_cli_choices_come_from_the_tables():
    help_text = run("explain-backprop", "--help").output
    assert all(name in help_text for name in lab.backprop.ACTIVATIONS)
    assert all(name in help_text for name in lab.backprop.LOSSES)


@pytest.mark.parametrize("args,message", [
    (["--sizes", "2,7,2"], "sizes entry must be in [1, 6], got 7"),
    (["--sizes", "x"], "at least two comma-separated layer sizes"),
    (["--sizes", "3"], "at least two comma-separated layer sizes"),
    (["--sizes", "2,3,1"], "softmax_crossentropy needs >= 2 output units, got 1"),
    (["--activation", "swish"], "'swish' is not one of"),
    (["--samples", "0"], "--samples"),
    (["--digits", "9"], "--digits"),
])
def test_cli_usage_errors_exit_2_in_one_line(args, message):
    result = run("explain-backprop", *args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(error_lines) == 1
