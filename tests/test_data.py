"""Tests for minitrain.data: registry, cache, CSV loading, split, scaling, batches."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minitrain import data
from minitrain.data import DataError, Dataset, Scaler, TargetScaler

ROOT = Path(__file__).resolve().parent.parent

EXPECTED = {  # name: (task, n_samples, n_features, n_classes)
    "iris": ("classification", 150, 4, 3),
    "wine": ("classification", 178, 13, 3),
    "breast_cancer": ("classification", 569, 30, 2),
    "digits": ("classification", 1797, 64, 10),
    "moons": ("classification", 1000, 2, 2),
    "circles": ("classification", 1000, 2, 2),
    "blobs": ("classification", 1000, 2, 3),
    "classification": ("classification", 2000, 20, 3),
    "diabetes": ("regression", 442, 10, 0),
    "friedman1": ("regression", 1000, 10, 0),
    "regression": ("regression", 1000, 20, 0),
}


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Every test gets its own empty cache directory (never the user's home)."""
    path = tmp_path / "cache"
    monkeypatch.setenv("MINITRAIN_CACHE", str(path))
    return path


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------- registry


def test_registry_names_match_the_issue():
    assert data.names() == list(EXPECTED)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_every_dataset_loads_with_expected_shape(name):
    task, n, d, k = EXPECTED[name]
    ds = data.load(name)
    assert (ds.task, len(ds), ds.n_features, ds.n_classes) == (task, n, d, k)
    assert data.DATASETS[name].shape == (n, d, k)  # what `minitrain datasets` shows
    assert ds.X.dtype == np.float64 and ds.X.flags.c_contiguous and ds.X.ndim == 2
    assert len(ds.feature_names) == d
    if task == "classification":
        assert ds.y.dtype == np.int64
        assert set(np.unique(ds.y)) == set(range(k))
        json.dumps(ds.classes)
    else:
        assert ds.y.dtype == np.float64 and ds.classes is None
    assert isinstance(data.describe(name), str) and "\n" not in data.describe(name)


def test_real_dataset_class_labels():
    assert data.load("iris").classes == ["setosa", "versicolor", "virginica"]
    assert data.load("digits").classes == list(range(10))


def test_options_are_honoured():
    ds = data.load("blobs", n_samples=300, n_features=5, n_classes=4, noise=0.5)
    assert (len(ds), ds.n_features, ds.n_classes) == (300, 5, 4)
    ds = data.load("classification", n_samples=500, n_features=7, n_classes=100)
    assert ds.n_features == 7 and ds.n_classes == 100
    ds = data.load("friedman1", n_samples=50, n_features=6, noise=0.0)
    assert ds.X.shape == (50, 6)
    a, b = data.load("moons", noise=0.0), data.load("moons", noise=0.4)
    assert not np.allclose(a.X, b.X)


def test_seed_is_random_state():
    a, b, c = (data.load("moons", seed=s) for s in (1, 1, 2))
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)


def test_options_listing():
    assert data.options("moons") == {"n_samples": 1000, "noise": 0.2}
    assert data.options("iris") == {}
    assert set(data.options("blobs")) == {"n_samples", "noise", "n_features", "n_classes"}


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(DataError, match="unknown dataset 'irsi'.*iris, wine"):
        data.load("irsi")
    with pytest.raises(DataError, match="unknown dataset"):
        data.describe("nope")


@pytest.mark.parametrize("name, option", [
    ("iris", {"n_samples": 10}), ("moons", {"n_classes": 3}),
    ("regression", {"n_classes": 2}), ("circles", {"n_features": 3}),
])
def test_options_not_accepted_are_rejected(name, option):
    (key,) = option
    with pytest.raises(ValueError, match=f"does not accept {key}"):
        data.load(name, **option)


@pytest.mark.parametrize("kwargs, exc", [
    ({"n_samples": 0}, ValueError), ({"noise": -1.0}, ValueError),
    ({"n_samples": 2.5}, TypeError), ({"noise": "x"}, TypeError),
])
def test_option_values_are_validated(kwargs, exc):
    with pytest.raises(exc):
        data.load("moons", **kwargs)


def test_friedman_needs_five_features():
    with pytest.raises(ValueError, match="n_features must be >= 5"):
        data.load("friedman1", n_features=3)


# ---------------------------------------------------------------------------- cache


def test_cache_hit_does_not_import_sklearn(cache):
    first = data.load("iris")
    files = list(cache.glob("iris-*.npz"))
    assert len(files) == 1
    code = ("import sys, minitrain.data as d; ds = d.load('iris'); "
            "assert 'sklearn' not in sys.modules, 'sklearn imported'; "
            "print(len(ds), ds.classes[0])")
    env = {**os.environ, "MINITRAIN_CACHE": str(cache)}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(len(first)), "setosa"]


def test_cache_round_trip_is_exact(cache):
    a = data.load("moons", n_samples=123, noise=0.3, seed=4)
    b = data.load("moons", n_samples=123, noise=0.3, seed=4)  # from the cache
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert (b.classes, b.feature_names, b.name) == (a.classes, a.feature_names, a.name)
    assert len(list(cache.glob("moons-*.npz"))) == 1
    data.load("moons", n_samples=123, noise=0.3, seed=5)  # another seed, another file
    assert len(list(cache.glob("moons-*.npz"))) == 2


@pytest.mark.parametrize("garbage", [b"", b"not a zip file", b"PK\x03\x04broken"])
def test_corrupt_cache_is_ignored_and_rewritten(cache, garbage):
    good = data.load("wine")
    (path,) = cache.glob("wine-*.npz")
    path.write_bytes(garbage)
    again = data.load("wine")
    np.testing.assert_array_equal(good.X, again.X)
    assert path.stat().st_size > 1000  # rewritten
    assert not list(cache.glob(".*.tmp"))


def test_unwritable_cache_falls_back_silently(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    monkeypatch.setenv("MINITRAIN_CACHE", str(blocker / "cache"))  # cannot mkdir
    assert len(data.load("iris")) == 150


def test_cache_dir_respects_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("MINITRAIN_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data.cache_dir() == tmp_path / "minitrain"


# ---------------------------------------------------------------------------- CSV


def test_csv_string_target_is_classification(tmp_path):
    path = write(tmp_path, "a,b,kind\n1,2,dog\n3,4,cat\n5,6,dog\n")
    ds = data.load_csv(path, "kind")
    assert ds.task == "classification" and ds.classes == ["cat", "dog"]
    assert ds.y.tolist() == [1, 0, 1]
    assert ds.feature_names == ["a", "b"] and ds.name == "data"
    np.testing.assert_array_equal(ds.X, [[1, 2], [3, 4], [5, 6]])


def test_csv_numeric_target_is_regression(tmp_path):
    path = write(tmp_path, "y,a\n1.5,2\n3.25,4\n-1,6\n")
    ds = data.load_csv(path, "y")
    assert ds.task == "regression" and ds.classes is None
    np.testing.assert_array_equal(ds.y, [1.5, 3.25, -1.0])
    assert ds.feature_names == ["a"]


def test_csv_task_inference_rule_and_override(tmp_path):
    few_ints = write(tmp_path, "a,y\n" + "".join(f"{i},{i % 3}.0\n" for i in range(30)))
    ds = data.load_csv(few_ints, "y")
    assert ds.task == "classification" and ds.classes == [0, 1, 2]
    assert data.load_csv(few_ints, "y", task="regression").task == "regression"
    many = write(tmp_path, "a,y\n" + "".join(f"{i},{i}\n" for i in range(100)), "many.csv")
    assert data.load_csv(many, "y").task == "regression"  # 100 distinct > 20
    ds = data.load_csv(many, "y", task="classification")
    assert ds.n_classes == 100 and ds.classes == list(range(100))


def test_csv_hardening_cases_that_must_work(tmp_path):
    # constant column, one feature, quoted cells, spaces, a blank line, BOM, no trailing newline
    path = write(tmp_path, '\ufeffc, x ,label\n1, 0.5 ,"b"\n\n1,1.5,a\n1,2.5,b')
    ds = data.load_csv(path, "label")
    assert ds.feature_names == ["c", "x"] and ds.classes == ["a", "b"]
    assert Scaler.fit(ds.X).transform(ds.X)[:, 0].tolist() == [0.0, 0.0, 0.0]
    one = write(tmp_path, "x,y\n1,2.5\n", "one.csv")  # one sample, one feature
    assert len(data.load_csv(one, "y")) == 1
    semi = write(tmp_path, "x;y\n1;a\n2;b\n", "semi.csv")
    assert data.load_csv(semi, "y", delimiter=";").classes == ["a", "b"]
    assert data.load_csv(semi, None, delimiter=";").feature_names == ["x"]  # last column


def test_csv_100k_rows(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100_000, 3))
    lines = ["a,b,c,label"] + [f"{a:.4f},{b:.4f},{c:.4f},k{int(a > 0)}" for a, b, c in X]
    path = write(tmp_path, "\n".join(lines) + "\n")
    ds = data.load_csv(path, "label")
    assert ds.X.shape == (100_000, 3) and ds.classes == ["k0", "k1"]


@pytest.mark.parametrize("text, target, message", [
    ("", "y", r"data\.csv: the file is empty"),
    ("\n\n", "y", "the file is empty"),
    ("x,y\n", "y", "has a header row but no data rows"),
    ("x,y\n1,2\n3\n", "y", "row 3 has 1 fields but the header has 2"),
    ("x,y\n1,2\n3,4,5\n", "y", "row 3 has 3 fields"),
    ("x,y\n1,2\n", "z", "no target column 'z'; columns: x, y"),
    ("x1,x3,y\n1,2,0\n1,2,1\n3,2,1\n4,2,1\n5,6,0\n6,abc,1\n", "y",
     r"^data\.csv: column 'x3' has a non-numeric value 'abc' in row 7$"),
    ("x,y\n1,0\n,1\n", "y", "column 'x' has a missing value in row 3"),
    ("x,y\n1,0\nNA,1\n", "y", "column 'x' has a missing value in row 3"),
    ("x,y\n1,0\nnan,1\n", "y", r"column 'x' has a missing \(NaN\) value 'nan' in row 3"),
    ("x,y\n1,0\n-inf,1\n", "y", "column 'x' has an infinite value '-inf' in row 3"),
    ("x,y\n1,0\n2,\n", "y", "target column 'y' has a missing value in row 3"),
    ("x,y\n1,a\n2,a\n", "y", "target column 'y' has only one class \\('a'\\)"),
    ("x,y\n1,3\n2,3\n", "y", "only one class \\(3\\)"),
    ("x,x,y\n1,2,3\n", "y", "duplicate column name 'x'"),
    ("y\n1\n2\n", "y", "no feature columns"),
])
def test_csv_errors_are_one_line_data_errors(tmp_path, text, target, message):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=message) as info:
        data.load_csv(path, target)
    assert "\n" not in str(info.value)


def test_csv_string_target_with_regression_task(tmp_path):
    path = write(tmp_path, "x,y\n1,2\n2,abc\n")
    with pytest.raises(DataError, match="non-numeric value 'abc' in row 3.*regression"):
        data.load_csv(path, "y", task="regression")


def test_csv_file_problems(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        data.load_csv(tmp_path / "missing.csv", "y")
    with pytest.raises(DataError, match="is a directory"):
        data.load_csv(tmp_path, "y")
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"x,y\n\xff\xfe\x00,1\n")
    with pytest.raises(DataError, match="not a UTF-8 text file"):
        data.load_csv(binary, "y")
    with pytest.raises(ValueError, match="task must be one of"):
        data.load_csv(tmp_path / "missing.csv", "y", task="clustering")


def test_example_csv_files():
    penguins = data.load_csv(ROOT / "data" / "penguins_like.csv", "species")
    assert penguins.classes == ["Adelie", "Chinstrap", "Gentoo"] and penguins.n_features == 4
    houses = data.load_csv(ROOT / "data" / "houses_like.csv", "price_k")
    assert houses.task == "regression" and houses.n_features == 5
    spirals = data.load_csv(ROOT / "data" / "spirals.csv", "label")
    assert spirals.task == "classification" and spirals.classes == [0, 1]
    total = sum(p.stat().st_size for p in (ROOT / "data").iterdir())
    assert total < 200_000


# ---------------------------------------------------------------------------- split


def make_classes(counts):
    y = np.repeat(np.arange(len(counts)), counts)
    return Dataset(np.arange(len(y), dtype=float)[:, None], y, "classification")


def test_split_is_stratified_disjoint_complete_and_deterministic():
    counts = [500, 300, 120, 50, 30]
    ds = make_classes(counts)
    train, val, test = data.split(ds, val=0.15, test=0.25, seed=3)
    ids = [part.X[:, 0].astype(int) for part in (train, val, test)]
    joined = np.concatenate(ids)
    assert len(joined) == len(ds) and len(np.unique(joined)) == len(ds)  # disjoint, covers
    assert (len(val), len(test)) == (round(0.15 * 1000), round(0.25 * 1000))
    for part, frac in ((val, 0.15), (test, 0.25), (train, 0.6)):
        got = np.bincount(part.y, minlength=len(counts))
        assert np.all(np.abs(got - np.array(counts) * frac) <= 1 + 1e-9), (got, frac)
        assert part.classes == ds.classes
    again = data.split(ds, val=0.15, test=0.25, seed=3)
    for a, b in zip((train, val, test), again):
        np.testing.assert_array_equal(a.X, b.X)
    other = data.split(ds, val=0.15, test=0.25, seed=4)
    assert not np.array_equal(other[2].X, test.X)


def test_stratified_counts_are_floor_or_ceiling_of_the_exact_share():
    rng = np.random.default_rng(0)
    for _ in range(300):
        sizes = rng.integers(1, rng.choice([3, 20, 300]), size=rng.integers(1, 40))
        n = int(sizes.sum())
        n_test = int(rng.integers(0, n))
        n_val = int(rng.integers(0, n - n_test + 1))
        totals = np.array([n_test, n_val, n - n_test - n_val])
        counts = data._stratify(sizes, totals, rng)
        exact = np.outer(sizes, totals) / n
        assert (counts.sum(axis=1) == sizes).all() and (counts.sum(axis=0) == totals).all()
        assert (counts >= np.floor(exact)).all() and (counts <= np.ceil(exact)).all()


def test_split_regression_and_zero_fractions():
    ds = data.load("regression", n_samples=101)
    train, val, test = data.split(ds, val=0.0, test=0.3, seed=0)
    assert val is None and (len(train), len(test)) == (71, 30)
    train, val, test = data.split(ds, val=0, test=0, seed=0)
    assert val is None and test is None and len(train) == 101


def test_split_tiny_classes_never_crash():
    ds = make_classes([40, 1, 2, 3])
    train, val, test = data.split(ds, val=0.2, test=0.2, seed=0)
    assert set(train.y.tolist()) == {0, 1, 2, 3}  # every class stays in training
    assert len(train) + len(val) + len(test) == 46
    one = Dataset(np.zeros((1, 1)), [0.5], "regression")
    train, val, test = data.split(one, seed=0)
    assert len(train) == 1 and val is None and test is None
    two = make_classes([1, 1])
    train, val, test = data.split(two, val=0.4, test=0.4, seed=0)
    assert len(train) >= 1 and len(train) + sum(len(p) for p in (val, test) if p) == 2


@pytest.mark.parametrize("kwargs", [{"val": 0.5, "test": 0.5}, {"val": -0.1}, {"test": 1.0}])
def test_split_rejects_bad_fractions(kwargs):
    with pytest.raises(ValueError):
        data.split(make_classes([5, 5]), **kwargs)


# ---------------------------------------------------------------------------- scaling


def test_scaler_fitted_on_train_only_and_constant_column_safe():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(5, 3, 200), np.full(200, 7.0), rng.normal(-2, 0.1, 200)])
    s = Scaler.fit(X[:100])
    Z = s.transform(X[:100])
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), [1, 0, 1], atol=1e-12)
    assert s.scale[1] == 1.0 and np.all(np.isfinite(s.transform(X)))
    np.testing.assert_allclose(s.mean, X[:100].mean(axis=0))  # not the full data
    np.testing.assert_allclose(s.inverse_transform(Z), X[:100])


def test_scaler_dtype_and_round_trip():
    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    s = Scaler.fit(X)
    assert s.transform(X.astype(np.float32)).dtype == np.float32
    assert s.transform(X.astype(np.int64)).dtype == np.float64
    d = json.loads(json.dumps(s.to_dict()))
    s2 = Scaler.from_dict(d)
    np.testing.assert_array_equal(s2.transform(X), s.transform(X))
    with pytest.raises(ValueError, match="4 features, the scaler was fitted on 3"):
        s.transform(np.zeros((2, 4)))
    with pytest.raises(ValueError):
        Scaler.from_dict({"mean": [0.0]})
    with pytest.raises(ValueError):
        Scaler.fit(np.array([[np.nan]]))


def test_scaler_single_sample():
    s = Scaler.fit(np.array([[3.0, -1.0]]))
    np.testing.assert_array_equal(s.transform(np.array([[3.0, -1.0]])), [[0.0, 0.0]])


def test_target_scaler():
    y = data.load("diabetes").y
    t = TargetScaler.fit(y)
    z = t.transform(y)
    assert abs(z.mean()) < 1e-12 and abs(z.std() - 1) < 1e-12
    np.testing.assert_allclose(t.inverse_transform(z), y)
    t2 = TargetScaler.from_dict(json.loads(json.dumps(t.to_dict())))
    assert (t2.mean, t2.scale) == (t.mean, t.scale)
    assert TargetScaler.fit([4.0, 4.0]).scale == 1.0
    assert t.transform(np.float32([1.0])).dtype == np.float32


# ---------------------------------------------------------------------------- batches


def test_batches_cover_each_epoch_and_are_seeded():
    rng = np.random.default_rng(0)
    epoch1 = list(data.batches(10, 4, rng))
    epoch2 = list(data.batches(10, 4, rng))
    assert [len(b) for b in epoch1] == [4, 4, 2]
    assert sorted(np.concatenate(epoch1).tolist()) == list(range(10))
    assert not np.array_equal(np.concatenate(epoch1), np.concatenate(epoch2))
    again = list(data.batches(10, 4, np.random.default_rng(0)))
    np.testing.assert_array_equal(np.concatenate(again), np.concatenate(epoch1))
    assert list(data.batches(0, 4, rng)) == []


# ---------------------------------------------------------------------------- CLI


def test_datasets_command_lists_everything(cache):
    from click.testing import CliRunner

    from minitrain.cli import cli

    result = CliRunner().invoke(cli, ["datasets"])
    assert result.exit_code == 0, result.output
    out = result.output
    for name in EXPECTED:
        assert f"\n{name} " in out
    assert "1797 x 64" in out and "options: --n-samples 1000 --noise 0.2" in out
    assert str(cache) in out
