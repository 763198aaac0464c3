"""Checkpoints: one ``.npz`` file, written atomically, read without pickle.

A checkpoint holds any nest of dicts and lists whose leaves are NumPy arrays or
JSON values (numbers, strings, booleans, None). Arrays are stored as ``.npz``
members; everything else goes into one JSON document stored as the member
``__meta__`` (a 0-d unicode array), with ``{"__array__": "name"}`` where an array
was. The trainer stores params, optimizer state, schedule state, RNG position,
epoch, step, architecture and data scaler this way.

Writing goes to a temporary file in the same folder, is flushed to disk, then
``os.replace``-d over the target: a crash or kill mid-write leaves the previous
checkpoint intact. Reading uses ``allow_pickle=False``: a file holding pickled
objects is refused, never loaded.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile

import numpy as np

FORMAT = "minitrain-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, from another version or mismatched."""


def _split(obj, arrays, prefix):
    """Replace arrays in a nest of dicts/lists by placeholders, collecting them."""
    if isinstance(obj, np.ndarray):
        key = prefix or "array"
        arrays[key] = obj
        return {"__array__": key}
    if isinstance(obj, dict):
        return {str(k): _split(v, arrays, f"{prefix}.{k}" if prefix else str(k))
                for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_split(v, arrays, f"{prefix}.{i}") for i, v in enumerate(obj)]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _join(obj, arrays):
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            return arrays[obj["__array__"]]
        return {k: _join(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_join(v, arrays) for v in obj]
    return obj


def save(path, state):
    """Write the nest ``state`` to ``path`` atomically (temp file + ``os.replace``)."""
    arrays = {}
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "state": _split(state, arrays, "")}
    arrays["__meta__"] = np.array(json.dumps(meta, allow_nan=True))
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            buffer = io.BytesIO()
            np.savez(buffer, **arrays)
            f.write(buffer.getbuffer())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path):
    """Read a checkpoint written by :func:`save`; raise CheckpointError if it is not one."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such checkpoint file")
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":         # every .npz is a zip archive
            raise CheckpointError(f"{path}: not a readable .npz checkpoint (not a zip file)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except ValueError as e:
        if "pickle" in str(e):
            raise CheckpointError(f"{path}: holds pickled objects; refused "
                                  "(minitrain never loads pickles)") from None
        raise CheckpointError(f"{path}: not a minitrain checkpoint ({e})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise CheckpointError(f"{path}: not a readable .npz checkpoint "
                              f"({type(e).__name__}: {e})") from None
    if "__meta__" not in arrays:
        raise CheckpointError(f"{path}: not a minitrain checkpoint (no __meta__ entry)")
    try:
        meta = json.loads(str(arrays.pop("__meta__")))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: corrupt metadata ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a minitrain checkpoint")
    if meta.get("version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {meta.get('version')!r} "
                              f"is not supported (this minitrain reads {FORMAT_VERSION})")
    try:
        return _join(meta["state"], arrays)
    except KeyError as e:
        raise CheckpointError(f"{path}: corrupt checkpoint (missing array {e})") from None
