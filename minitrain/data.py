"""Datasets: a registry of offline datasets, CSV files, splitting, scaling, batches.

Everything the training loop needs to go from a name or a file to arrays::

    ds = load("moons", noise=0.3, seed=0)     # or load_csv("data/spirals.csv", "label")
    train, val, test = split(ds, val=0.2, test=0.2, seed=0)
    scaler = Scaler.fit(train.X)                   # fitted on the training part only
    X = scaler.transform(train.X)
    for idx in batches(len(train), 32, rng):       # one seeded permutation per epoch
        ...

Registry datasets come from scikit-learn (bundled files and seeded generators, never a
download). Importing scikit-learn costs about a second, so a loaded dataset is cached as
an ``.npz`` file (see :func:`cache_dir`); a cache hit does not import scikit-learn.

Problems with the user's data (unknown dataset, missing file or column, bad cells, a
single class) raise :class:`DataError` with a one-line message that names the file,
column and row. Bad parameter values raise ``ValueError``/``TypeError`` as everywhere
else in minitrain.
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from minitrain._validation import check_choice, check_int, check_range

__all__ = [
    "DataError", "Dataset", "DatasetSpec", "DATASETS", "names", "describe", "options",
    "load", "load_csv", "read_features", "split", "Scaler", "TargetScaler", "batches", "cache_dir",
    "MAX_AUTO_CLASSES",
]

TASKS = ("classification", "regression")

#: Bump when the layout of cached ``.npz`` files changes; old files are then ignored.
CACHE_FORMAT = 1

#: ``load_csv(task=None)``: an all-integer numeric target with at most this many
#: distinct values is read as class labels.
MAX_AUTO_CLASSES = 20


class DataError(ValueError):
    """A problem with the user's data: the message is one line, ready to print."""


# ---------------------------------------------------------------------------- Dataset


@dataclass(repr=False)
class Dataset:
    """Features and targets of one dataset (or one part of it).

    Attributes
    ----------
    X : ndarray of float64, shape (n_samples, n_features)
        C-contiguous features.
    y : ndarray, shape (n_samples,)
        ``int64`` class indices ``0..k-1`` for classification, ``float64`` for regression.
    task : {"classification", "regression"}
    name : str
        Registry name, or the file name for a CSV file.
    feature_names : list of str
    classes : list or None
        Original label of each class index (str, int or float; JSON-serialisable),
        ``classes[y[i]]`` is the label of sample ``i``. None for regression.
    """

    X: np.ndarray
    y: np.ndarray
    task: str
    name: str = "data"
    feature_names: list = field(default_factory=list)
    classes: list | None = None

    def __post_init__(self):
        check_choice("task", self.task, TASKS, owner="Dataset")
        self.X = np.ascontiguousarray(self.X, dtype=np.float64)
        ydtype = np.int64 if self.task == "classification" else np.float64
        self.y = np.ascontiguousarray(self.y, dtype=ydtype)
        if self.X.ndim != 2 or self.y.ndim != 1 or len(self.X) != len(self.y):
            raise ValueError(
                f"Dataset: X must be 2-D and y 1-D with the same length, "
                f"got X{self.X.shape} and y{self.y.shape}"
            )
        if not self.feature_names:
            self.feature_names = [f"x{j}" for j in range(self.X.shape[1])]
        if len(self.feature_names) != self.X.shape[1]:
            raise ValueError(
                f"Dataset: {len(self.feature_names)} feature names for "
                f"{self.X.shape[1]} features"
            )
        if self.task == "classification" and self.classes is None:
            self.classes = list(range(int(self.y.max()) + 1 if len(self.y) else 0))
        if self.task == "regression":
            self.classes = None

    @property
    def n_classes(self) -> int:
        """Number of classes (0 for regression)."""
        return len(self.classes) if self.classes is not None else 0

    @property
    def n_features(self) -> int:
        """Number of feature columns."""
        return self.X.shape[1]

    def __len__(self) -> int:
        return len(self.y)

    def take(self, indices) -> "Dataset":
        """Return the rows ``indices`` as a new Dataset (same classes and names)."""
        indices = np.asarray(indices, dtype=np.intp)
        return Dataset(self.X[indices], self.y[indices], self.task, self.name,
                       list(self.feature_names),
                       None if self.classes is None else list(self.classes))

    def __repr__(self):
        extra = f", n_classes={self.n_classes}" if self.task == "classification" else ""
        return (f"Dataset(name={self.name!r}, task={self.task!r}, "
                f"n_samples={len(self)}, n_features={self.n_features}{extra})")


# ---------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class DatasetSpec:
    """One registry entry.

    Attributes
    ----------
    name, task, description : str
        ``description`` is one line, shown by ``minitrain datasets``.
    defaults : dict
        Generator options this dataset accepts (subset of ``n_samples``, ``noise``,
        ``n_features``, ``n_classes``) and their defaults; empty for fixed datasets.
    shape : tuple
        ``(n_samples, n_features, n_classes)`` with the defaults (n_classes 0 for
        regression); known without importing scikit-learn.
    make : callable
        ``make(seed, **options) -> (X, y, feature_names, classes)``; imports scikit-learn.
    minimum : dict
        Smallest allowed value of each integer option.
    """

    name: str
    task: str
    description: str
    defaults: dict
    shape: tuple
    make: Callable
    minimum: dict = field(default_factory=dict)


def _sk():
    import sklearn.datasets  # the slow import; only on a cache miss

    return sklearn.datasets


def _bundled(loader_name):
    def make(seed):
        bunch = getattr(_sk(), loader_name)()
        names = [str(n) for n in bunch.feature_names] if hasattr(bunch, "feature_names") \
            else None
        classes = None
        if "target_names" in bunch:
            classes = [_plain(c) for c in bunch.target_names]
        return bunch.data, bunch.target, names, classes

    return make


def _digits(seed):
    bunch = _sk().load_digits()
    return bunch.data, bunch.target, list(bunch.feature_names), list(range(10))


def _moons(seed, n_samples, noise):
    X, y = _sk().make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    return X, y, None, None


def _circles(seed, n_samples, noise):
    X, y = _sk().make_circles(n_samples=n_samples, noise=noise, factor=0.5,
                              random_state=seed)
    return X, y, None, None


def _blobs(seed, n_samples, noise, n_features, n_classes):
    X, y = _sk().make_blobs(n_samples=n_samples, n_features=n_features,
                            centers=n_classes, cluster_std=noise, random_state=seed)
    return X, y, None, None


def _classification(seed, n_samples, n_features, n_classes):
    # 10 informative features as in the teaching default, but never more than there are
    # features and always enough for the classes to fit in the hypercube corners.
    need = max(1, math.ceil(math.log2(n_classes)))
    informative = min(n_features, max(10, need))
    if informative < need:
        raise ValueError(
            f"load: classification with n_classes={n_classes} needs "
            f"n_features >= {need}, got {n_features}"
        )
    clusters = 2 if n_classes * 2 <= 2 ** informative else 1
    redundant = min(2, n_features - informative)
    X, y = _sk().make_classification(
        n_samples=n_samples, n_features=n_features, n_informative=informative,
        n_redundant=redundant, n_repeated=0, n_classes=n_classes,
        n_clusters_per_class=clusters, random_state=seed)
    return X, y, None, None


def _regression(seed, n_samples, n_features, noise):
    X, y = _sk().make_regression(n_samples=n_samples, n_features=n_features,
                                 n_informative=min(10, n_features), noise=noise,
                                 random_state=seed)
    return X, y, None, None


def _friedman1(seed, n_samples, n_features, noise):
    X, y = _sk().make_friedman1(n_samples=n_samples, n_features=n_features, noise=noise,
                                random_state=seed)
    return X, y, None, None


def _spec(name, task, description, shape, make, minimum=None, **defaults):
    return DatasetSpec(name, task, description, defaults, shape, make, minimum or {})


_C, _R = "classification", "regression"

#: name -> :class:`DatasetSpec`, in the order ``minitrain datasets`` lists them.
DATASETS: dict[str, DatasetSpec] = {s.name: s for s in [
    _spec("iris", _C, "iris flowers: 4 measurements, 3 species",
          (150, 4, 3), _bundled("load_iris")),
    _spec("wine", _C, "chemical analysis of wines from 3 cultivars",
          (178, 13, 3), _bundled("load_wine")),
    _spec("breast_cancer", _C, "breast tumours: malignant or benign",
          (569, 30, 2), _bundled("load_breast_cancer")),
    _spec("digits", _C, "8x8 images of handwritten digits 0-9",
          (1797, 64, 10), _digits),
    _spec("moons", _C, "two interleaving half circles (make_moons)",
          (1000, 2, 2), _moons, {"n_samples": 2}, n_samples=1000, noise=0.2),
    _spec("circles", _C, "a circle inside a circle twice its size",
          (1000, 2, 2), _circles, {"n_samples": 2}, n_samples=1000, noise=0.1),
    _spec("blobs", _C, "Gaussian blobs, one per class; noise = std",
          (1000, 2, 3), _blobs, {"n_samples": 2, "n_features": 1, "n_classes": 2},
          n_samples=1000, noise=1.0, n_features=2, n_classes=3),
    _spec("classification", _C, "clusters on hypercube corners, 10 informative",
          (2000, 20, 3), _classification,
          {"n_samples": 2, "n_features": 1, "n_classes": 2},
          n_samples=2000, n_features=20, n_classes=3),
    _spec("diabetes", _R, "disease progression from 10 baseline values",
          (442, 10, 0), _bundled("load_diabetes")),
    _spec("friedman1", _R, "10sin(pi x0 x1) + 20(x2-.5)^2 + 10x3 + 5x4",
          (1000, 10, 0), _friedman1, {"n_samples": 1, "n_features": 5},
          n_samples=1000, n_features=10, noise=1.0),
    _spec("regression", _R, "random linear model, 10 informative features",
          (1000, 20, 0), _regression, {"n_samples": 1, "n_features": 1},
          n_samples=1000, n_features=20, noise=10.0),
]}

OPTION_NAMES = ("n_samples", "noise", "n_features", "n_classes")


def names() -> list[str]:
    """Names of the registry datasets, in listing order."""
    return list(DATASETS)


def _get_spec(name) -> DatasetSpec:
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise DataError(
            f"unknown dataset {name!r}; valid datasets: {', '.join(DATASETS)} "
            f"(or a CSV file with --data FILE --target COLUMN)"
        ) from None


def describe(name: str) -> str:
    """One-line description of the registry dataset ``name``."""
    return _get_spec(name).description


def options(name: str) -> dict:
    """Generator options dataset ``name`` accepts, with their defaults (a new dict)."""
    return dict(_get_spec(name).defaults)


def _resolve_options(spec, given):
    """Check the options the caller set and fill the rest from the defaults."""
    resolved = dict(spec.defaults)
    for key, value in given.items():
        if value is None:
            continue
        if key not in spec.defaults:
            accepted = ", ".join(spec.defaults) or "no options"
            raise ValueError(
                f"load: dataset {spec.name!r} does not accept {key} "
                f"(it accepts {accepted}), got {key}={value!r}"
            )
        if key == "noise":
            resolved[key] = check_range(key, value, 0.0, owner="load")
        else:
            resolved[key] = check_int(key, value, spec.minimum.get(key, 1), owner="load")
    return resolved


def _plain(label):
    """A label as a JSON-serialisable Python scalar (int, float or str)."""
    if isinstance(label, (np.generic,)):
        label = label.item()
    if isinstance(label, float) and label.is_integer():
        return int(label)
    if isinstance(label, (int, float, str)) and not isinstance(label, bool):
        return label
    return str(label)


def load(name: str, *, n_samples: int | None = None, noise: float | None = None,
         n_features: int | None = None, n_classes: int | None = None, seed: int = 0,
         cache: bool = True) -> Dataset:
    """Load the registry dataset ``name``.

    Parameters
    ----------
    name : str
        One of :func:`names`.
    n_samples, noise, n_features, n_classes : optional
        Generator options; None means the dataset's default (:func:`options`). Setting
        one the dataset does not accept raises ``ValueError`` naming it.
    seed : int
        ``random_state`` of the generators (ignored by the bundled datasets).
    cache : bool
        Read and write the ``.npz`` cache (see :func:`cache_dir`).

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        Unknown name (the message lists the valid ones), or a generated dataset with a
        single class.
    ValueError, TypeError
        An option the dataset does not accept or an out-of-range value.
    """
    spec = _get_spec(name)
    opts = _resolve_options(spec, {"n_samples": n_samples, "noise": noise,
                                   "n_features": n_features, "n_classes": n_classes})
    seed = check_int("seed", seed, 0, owner="load")
    key = _cache_key(spec, opts, seed)
    if cache:
        ds = _read_cache(key, spec)
        if ds is not None:
            return ds
    X, y, feature_names, classes = spec.make(seed, **opts)
    if spec.task == "classification":
        present, y = np.unique(y, return_inverse=True)
        if classes is None:
            classes = [_plain(c) for c in present]
        else:
            classes = [classes[int(c)] for c in present]
        if len(classes) < 2:
            raise DataError(f"dataset {name!r} with {opts} has only one class")
    ds = Dataset(X, y, spec.task, name, feature_names or [], classes)
    if cache:
        _write_cache(key, ds)
    return ds


# ---------------------------------------------------------------------------- cache


def cache_dir() -> Path:
    """Directory of the dataset cache.

    ``$MINITRAIN_CACHE`` if set; else ``$XDG_CACHE_HOME/minitrain``; else the platform's
    user cache directory: ``%LOCALAPPDATA%\\minitrain\\Cache`` on Windows,
    ``~/Library/Caches/minitrain`` on macOS, ``~/.cache/minitrain`` elsewhere.
    """
    if os.environ.get("MINITRAIN_CACHE"):
        return Path(os.environ["MINITRAIN_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "minitrain"
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "minitrain" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "minitrain"
    return Path.home() / ".cache" / "minitrain"


def _cache_key(spec, opts, seed):
    # Bundled datasets do not depend on the seed: one file serves every seed.
    payload = {"name": spec.name, "options": opts, "format": CACHE_FORMAT,
               "seed": seed if spec.defaults else None}
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return f"{spec.name}-v{CACHE_FORMAT}-{digest[:16]}.npz"


def _read_cache(key, spec):
    """The cached Dataset, or None when missing, unreadable or inconsistent."""
    path = cache_dir() / key
    try:
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            X, y = f["X"], f["y"]
        if (meta.get("format") != CACHE_FORMAT or meta.get("task") != spec.task
                or X.ndim != 2 or y.ndim != 1 or len(X) != len(y)
                or len(meta["feature_names"]) != X.shape[1]):
            return None
        return Dataset(X, y, spec.task, spec.name, meta["feature_names"], meta["classes"])
    except Exception:  # missing, truncated, corrupt: load from scikit-learn again
        return None


def _write_cache(key, ds):
    """Write atomically (:func:`minitrain.files.write_atomic`); any OS problem means no
    caching."""
    from minitrain.files import write_atomic
    meta = json.dumps({"format": CACHE_FORMAT, "task": ds.task,
                       "feature_names": ds.feature_names, "classes": ds.classes})
    try:
        directory = cache_dir()
        directory.mkdir(parents=True, exist_ok=True)
        write_atomic(directory / key, writer=lambda f: np.savez(
            f, X=ds.X, y=ds.y, meta=np.array(meta)))
    except OSError:
        pass


# ---------------------------------------------------------------------------- CSV

_MISSING = {"", "na", "n/a", "nan", "null", "none", "?"}


def _cells_to_float(cells, column, rows, where):
    """Parse one column of strings to float64; DataError names the first bad cell."""
    try:
        values = np.array(cells, dtype=np.float64)
    except ValueError:
        values = None
    if values is None:
        for cell, row in zip(cells, rows):
            if cell.strip().lower() in _MISSING:
                raise DataError(f"{where}: column {column!r} has a missing value in row {row}")
            try:
                float(cell)
            except ValueError:
                raise DataError(
                    f"{where}: column {column!r} has a non-numeric value {cell!r} in row {row}"
                ) from None
        values = np.array([float(c) for c in cells], dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        kind = "a missing (NaN)" if np.isnan(values[i]) else "an infinite"
        raise DataError(
            f"{where}: column {column!r} has {kind} value {cells[i]!r} in row {rows[i]}"
        )
    return values


def _read_table(path, delimiter):
    """(header, rows, line numbers, short name) of a CSV file; DataError on any problem."""
    path = Path(path)
    where = path.name
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=delimiter)
            header, rows, lines = None, [], []
            for cells in reader:
                if not any(c.strip() for c in cells):
                    continue  # blank line
                if header is None:
                    header = [c.strip() for c in cells]
                    continue
                rows.append(cells)
                lines.append(reader.line_num)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not a CSV file") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file") from None
    except csv.Error as e:
        raise DataError(f"{where}: not a valid CSV file ({e})") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read the file ({e.strerror or e})") from None

    if header is None:
        raise DataError(f"{where}: the file is empty (expected a header row and data rows)")
    if not rows:
        raise DataError(f"{where}: the file has a header row but no data rows")
    header = [h if h else f"column{j + 1}" for j, h in enumerate(header)]
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise DataError(f"{where}: duplicate column name {duplicated[0]!r} in the header")
    width = len(header)
    for cells, line in zip(rows, lines):
        if len(cells) != width:
            raise DataError(
                f"{where}: row {line} has {len(cells)} fields but the header has {width}"
            )
    return header, rows, lines, where


def load_csv(path, target: str | None, *, delimiter: str = ",",
             task: str | None = None) -> Dataset:
    """Load a CSV file with a header row: numeric features and one target column.

    Parameters
    ----------
    path : str or Path
    target : str or None
        Name of the target column (None: the last column). Every other column is a
        feature and must hold numbers.
    delimiter : str
        Field separator.
    task : {"classification", "regression", None}
        None infers it with one rule: **classification if the target column holds any
        non-numeric value, or if all its values are integers (``3`` or ``3.0``) with at
        most 20 distinct values; regression otherwise.** Pass ``task`` to override
        (e.g. 100 integer classes, or an integer-valued quantity to regress).

    Returns
    -------
    Dataset
        Named after the file's stem. Classes are the sorted distinct labels: strings
        sort as text, numbers numerically (integer-valued labels become ``int``).

    Raises
    ------
    DataError
        One line naming the file (and the column and row where relevant) for: a missing
        or unreadable file, an empty file, only a header, ragged rows, a missing target
        column (the message lists the columns), a non-numeric, missing, NaN or infinite
        feature cell, a missing target, a non-numeric target with ``task="regression"``,
        and a classification target with only one class. Rows are numbered as lines of
        the file, the header being row 1 (as a spreadsheet shows them).
    """
    if task is not None:
        check_choice("task", task, TASKS, owner="load_csv")
    header, rows, lines, where = _read_table(path, delimiter)
    width = len(header)
    path = Path(path)
    if target is None:
        target = header[-1]
    if target not in header:
        raise DataError(
            f"{where}: no target column {target!r}; columns: {', '.join(header)}"
        )
    if width < 2:
        raise DataError(f"{where}: no feature columns besides the target {target!r}")

    columns = list(zip(*rows))
    t = header.index(target)
    feature_names = [h for j, h in enumerate(header) if j != t]
    X = np.empty((len(rows), width - 1), dtype=np.float64)
    for k, j in enumerate(j for j in range(width) if j != t):
        X[:, k] = _cells_to_float(columns[j], header[j], lines, where)

    y, classes, task = _parse_target(columns[t], target, lines, where, task)
    return Dataset(X, y, task, path.stem, feature_names, classes)


def read_features(path, feature_names, *, delimiter: str = ","):
    """The columns ``feature_names`` of a CSV file as a float64 matrix (for prediction).

    Other columns (a target, ids) are ignored; a missing feature column or a bad cell
    raises :class:`DataError` naming it.
    """
    header, rows, lines, where = _read_table(path, delimiter)
    missing = [name for name in feature_names if name not in header]
    if missing:
        raise DataError(f"{where}: missing feature column(s) {', '.join(missing)}; "
                        f"columns: {', '.join(header)}")
    columns = list(zip(*rows))
    X = np.empty((len(rows), len(feature_names)), dtype=np.float64)
    for k, name in enumerate(feature_names):
        j = header.index(name)
        X[:, k] = _cells_to_float(columns[j], name, lines, where)
    return X, list(feature_names)


def _parse_target(cells, column, lines, where, task):
    """Turn the target strings into (y, classes, task) by the rule of :func:`load_csv`."""
    cells = [c.strip() for c in cells]
    for cell, line in zip(cells, lines):
        if cell.lower() in _MISSING:
            raise DataError(
                f"{where}: target column {column!r} has a missing value in row {line}"
            )
    try:
        values = np.array(cells, dtype=np.float64)
        numeric = True
    except ValueError:
        numeric = False

    if numeric:
        bad = ~np.isfinite(values)
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(
                f"{where}: target column {column!r} has an infinite value {cells[i]!r} "
                f"in row {lines[i]}"
            )
        integral = bool(np.all(values == np.round(values)))
        if task is None:
            few = len(np.unique(values)) <= MAX_AUTO_CLASSES
            task = "classification" if integral and few else "regression"
        if task == "regression":
            return values, None, task
        labels, y = np.unique(values, return_inverse=True)
        classes = [int(v) if integral else float(v) for v in labels]
    else:
        if task == "regression":
            for cell, line in zip(cells, lines):
                try:
                    float(cell)
                except ValueError:
                    raise DataError(
                        f"{where}: target column {column!r} has a non-numeric value "
                        f"{cell!r} in row {line}, but the task is regression"
                    ) from None
        task = "classification"
        labels, y = np.unique(np.array(cells, dtype=str), return_inverse=True)
        classes = [str(v) for v in labels]
    if len(classes) < 2:
        raise DataError(
            f"{where}: target column {column!r} has only one class ({classes[0]!r}); "
            f"classification needs at least two"
        )
    return y, classes, task


# ---------------------------------------------------------------------------- split


def _round(x):
    return int(math.floor(x + 0.5))


def _stratify(sizes, totals, rng):
    """Integer table ``counts[c, p]``: how many of class ``c``'s samples go to part ``p``.

    Row sums are ``sizes``, column sums ``totals`` (both add up to n), and every cell is
    the floor or the ceiling of its exact share ``sizes[c] * totals[p] / n``. Such a
    rounding always exists (it is an integer flow problem). Start from the floors and
    hand out each missing unit along an augmenting path, visiting the classes in random
    order and trying the parts with the largest remainders first.
    """
    n = int(sizes.sum())
    share = np.outer(sizes, totals)
    counts = share // n                      # exact integer floors
    open_ = share % n > 0                    # cells that may be rounded up
    up = np.zeros(counts.shape, dtype=bool)  # cells rounded up so far
    col_need = totals - counts.sum(axis=0)
    prefer = np.argsort(-(share % n), axis=1, kind="stable")
    for c in rng.permutation(len(sizes)):
        for _ in range(int(sizes[c] - counts[c].sum())):
            if not _augment(c, open_, up, col_need, prefer):
                raise RuntimeError("split: stratification failed (please report this)")
    return counts + up


def _augment(start, open_, up, col_need, prefer):
    """Round up one more cell in row ``start``, re-routing other rows if needed (BFS)."""
    reached_col = {}           # column -> row it was reached from
    reached_row = {start: None}  # row -> column it was reached through
    queue = [start]
    for r in queue:
        for p in prefer[r]:
            if not open_[r, p] or up[r, p] or p in reached_col:
                continue
            reached_col[p] = r
            if col_need[p] > 0:  # found: flip the cells along the path
                col_need[p] -= 1
                while True:  # r takes p and gives up the column it was reached through
                    up[r, p] = True
                    p = reached_row[r]
                    if p is None:
                        return True
                    up[r, p] = False
                    r = reached_col[p]
            for r2 in np.flatnonzero(up[:, p]):  # r2 could give up p for another part
                if r2 not in reached_row:
                    reached_row[r2] = p
                    queue.append(r2)
    return False


def split(ds: Dataset, *, val: float = 0.2, test: float = 0.2, seed=0):
    """Split a dataset at random into train, validation and test parts.

    Parameters
    ----------
    ds : Dataset
    val, test : float
        Fractions of the samples, each in [0, 1) with ``val + test < 1``. A part's size
        is ``round(fraction * n)``.
    seed : int or numpy.random.Generator

    Returns
    -------
    (train, val, test) : tuple of Dataset
        ``val``/``test`` are None when their fraction is 0 or rounds to 0 samples. Rows
        keep their original order within each part. The same seed gives the same split.

    Notes
    -----
    Classification splits are stratified: every class count in every part is the floor
    or the ceiling of its exact share ``n_c * part_size / n`` (so within one sample of
    it), and the part sizes are exact. Classes too small to reach every part are kept
    in training first: if rounding leaves a class with no training sample, one of its
    validation/test samples moves to training (the part sizes then change by one per
    such class). A class with a single sample therefore appears only in training. The
    training part always has at least one sample.
    """
    if not isinstance(ds, Dataset):
        raise TypeError(f"split: ds must be a Dataset, got {type(ds).__name__}")
    val = check_range("val", val, 0.0, 1.0, owner="split", hi_open=True)
    test = check_range("test", test, 0.0, 1.0, owner="split", hi_open=True)
    if val + test >= 1.0:
        raise ValueError(f"split: val + test must be < 1, got {val} + {test} = {val + test}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n = len(ds)
    if n == 0:
        raise DataError(f"{ds.name}: cannot split a dataset with no samples")
    n_test = _round(test * n)
    n_val = _round(val * n)
    n_test = min(n_test, n - 1)  # keep at least one training sample
    n_val = min(n_val, n - 1 - n_test)

    if ds.task == "classification":
        groups = [np.flatnonzero(ds.y == c) for c in range(ds.n_classes)]
    else:
        groups = [np.arange(n)]
    groups = [rng.permutation(g) for g in groups]
    sizes = np.array([len(g) for g in groups], dtype=np.int64)
    totals = np.array([n_test, n_val, n - n_test - n_val], dtype=np.int64)
    counts = _stratify(sizes, totals, rng)
    for c in np.flatnonzero((counts[:, 2] == 0) & (sizes > 0)):  # keep one in training
        counts[c, np.argmax(counts[c, :2])] -= 1
        counts[c, 2] += 1
    t, v = counts[:, 0], counts[:, 1]

    parts = ([], [], [])
    for g, tc, vc in zip(groups, t, v):
        parts[2].append(g[:tc])
        parts[1].append(g[tc:tc + vc])
        parts[0].append(g[tc + vc:])
    idx = [np.sort(np.concatenate(p)) if p else np.empty(0, np.intp) for p in parts]
    train = ds.take(idx[0])
    val_ds = ds.take(idx[1]) if len(idx[1]) else None
    test_ds = ds.take(idx[2]) if len(idx[2]) else None
    return train, val_ds, test_ds


# ---------------------------------------------------------------------------- scaling


def _as_float_2d(X, owner):
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{owner}: X must be 2-D, got shape {X.shape}")
    return X


class Scaler:
    """Standardise features: ``(X - mean) / scale``, fitted on the training part only.

    ``scale`` is the standard deviation of each column, except that a constant column
    (standard deviation 0, or within rounding of the column's own magnitude) gets scale 1, so it becomes all
    zeros instead of a division by zero.

    >>> s = Scaler.fit(np.array([[1.0, 5.0], [3.0, 5.0]]))
    >>> s.transform(np.array([[2.0, 5.0]]))
    array([[0., 0.]])
    """

    def __init__(self, mean, scale):
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        self.scale = np.asarray(scale, dtype=np.float64).reshape(-1)
        if self.mean.shape != self.scale.shape:
            raise ValueError(f"Scaler: mean has {self.mean.size} values but scale "
                             f"has {self.scale.size}")
        if not (np.all(np.isfinite(self.mean)) and np.all(np.isfinite(self.scale))
                and np.all(self.scale > 0)):
            raise ValueError("Scaler: mean must be finite and scale finite and > 0")

    @classmethod
    def fit(cls, X) -> "Scaler":
        """Return a Scaler with the column means and standard deviations of ``X``."""
        X = _as_float_2d(X, "Scaler.fit").astype(np.float64, copy=False)
        if len(X) == 0:
            raise ValueError("Scaler.fit: X has no rows")
        if not np.all(np.isfinite(X)):
            raise ValueError("Scaler.fit: X contains NaN or infinite values")
        mean = X.mean(axis=0)
        std = X.std(axis=0)
        # constant = within rounding of the column's OWN magnitude (data measured at
        # 1e-15 is not constant; an absolute threshold would call it so)
        tiny = 16 * np.finfo(np.float64).eps * np.abs(X).max(axis=0)
        return cls(mean, np.where(std > tiny, std, 1.0))

    @property
    def n_features(self) -> int:
        return self.mean.size

    def transform(self, X) -> np.ndarray:
        """Return standardised ``X`` as a new C-contiguous array.

        The result keeps ``X``'s dtype when it is a floating type (float32 stays
        float32; the arithmetic is done in float64), and is float64 otherwise.
        """
        X = _as_float_2d(X, "Scaler.transform")
        if X.shape[1] != self.n_features:
            raise ValueError(f"Scaler.transform: X has {X.shape[1]} features, "
                             f"the scaler was fitted on {self.n_features}")
        dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64
        out = (X.astype(np.float64, copy=False) - self.mean) / self.scale
        return np.ascontiguousarray(out, dtype=dtype)

    def inverse_transform(self, X) -> np.ndarray:
        """Undo :meth:`transform` (same dtype rule)."""
        X = _as_float_2d(X, "Scaler.inverse_transform")
        dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64
        return np.ascontiguousarray(X.astype(np.float64) * self.scale + self.mean, dtype=dtype)

    def to_dict(self) -> dict:
        """JSON-serialisable form for checkpoints: ``{"mean": [...], "scale": [...]}``."""
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, d) -> "Scaler":
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(d["mean"], d["scale"])
        except (KeyError, TypeError):
            raise ValueError("Scaler.from_dict: expected a dict with 'mean' and 'scale' "
                             f"lists, got {d!r:.80}") from None

    def __repr__(self):
        return f"Scaler(n_features={self.n_features})"


class TargetScaler:
    """Standardise a regression target: ``(y - mean) / scale`` with scalar mean and std.

    Lets default learning rates work on targets in the hundreds (``diabetes``).
    A constant target gets scale 1.
    """

    def __init__(self, mean: float, scale: float):
        self.mean = float(mean)
        self.scale = float(scale)
        if not (math.isfinite(self.mean) and math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"TargetScaler: mean must be finite and scale finite and > 0, "
                             f"got mean={mean!r}, scale={scale!r}")

    @classmethod
    def fit(cls, y) -> "TargetScaler":
        """Return a TargetScaler with the mean and standard deviation of ``y``."""
        y = np.asarray(y, dtype=np.float64)
        if y.size == 0 or not np.all(np.isfinite(y)):
            raise ValueError("TargetScaler.fit: y must be non-empty and finite")
        mean, std = float(y.mean()), float(y.std())
        tiny = 16 * np.finfo(np.float64).eps * float(np.abs(y).max())
        return cls(mean, std if std > tiny else 1.0)

    def transform(self, y) -> np.ndarray:
        """Standardised ``y`` (keeps a floating dtype, else float64)."""
        y = np.asarray(y)
        dtype = y.dtype if np.issubdtype(y.dtype, np.floating) else np.float64
        return ((y.astype(np.float64) - self.mean) / self.scale).astype(dtype)

    def inverse_transform(self, y) -> np.ndarray:
        """Back to the original units (keeps a floating dtype, else float64)."""
        y = np.asarray(y)
        dtype = y.dtype if np.issubdtype(y.dtype, np.floating) else np.float64
        return (y.astype(np.float64) * self.scale + self.mean).astype(dtype)

    def to_dict(self) -> dict:
        """JSON-serialisable form: ``{"mean": float, "scale": float}``."""
        return {"mean": self.mean, "scale": self.scale}

    @classmethod
    def from_dict(cls, d) -> "TargetScaler":
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(d["mean"], d["scale"])
        except (KeyError, TypeError):
            raise ValueError("TargetScaler.from_dict: expected a dict with 'mean' and "
                             f"'scale', got {d!r:.80}") from None

    def __repr__(self):
        return f"TargetScaler(mean={self.mean:.6g}, scale={self.scale:.6g})"


# ---------------------------------------------------------------------------- batches


def batches(n: int, batch_size: int, rng) -> Iterator[np.ndarray]:
    """Yield the index arrays of one epoch: a seeded permutation cut into batches.

    Parameters
    ----------
    n : int
        Number of samples.
    batch_size : int
        Samples per batch; the last batch holds the rest (it is kept, not dropped).
    rng : numpy.random.Generator or int
        Draws the permutation; pass the same Generator every epoch so that each epoch
        gets a new order and the whole run is reproducible from its seed.
    """
    n = check_int("n", n, 0, owner="batches")
    batch_size = check_int("batch_size", batch_size, 1, owner="batches")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]
