"""Checkpoints: one ``.npz`` file, written atomically, read without pickle.

A checkpoint holds any nest of dicts and lists whose leaves are NumPy arrays or
JSON values (numbers, strings, booleans, None). Arrays are stored as ``.npz``
members; everything else goes into one JSON document stored as the member
``__meta__`` (a 0-d unicode array), with ``{"__array__": "name"}`` where an array
was. The trainer stores params, optimizer state, schedule state, RNG position,
epoch, step, architecture and data scaler this way.

Writing goes through :func:`minitrain.files.write_atomic` (a unique temporary file,
flushed, then ``os.replace``-d over the target): a crash or kill mid-write leaves the
previous checkpoint intact. Reading treats the file as untrusted: known members only,
sizes checked before decompressing, ``allow_pickle=False``.
"""
from __future__ import annotations

import io
import json
import os
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
    """Write the nest ``state`` to ``path`` atomically (:func:`minitrain.files.write_atomic`)."""
    from minitrain.files import write_atomic
    arrays = {}
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "state": _split(state, arrays, "")}
    arrays["__meta__"] = np.array(json.dumps(meta, allow_nan=True))

    def writer(f):
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        f.write(buffer.getbuffer())
    write_atomic(path, writer=writer)


#: Largest metadata document read from a checkpoint (bytes).
MAX_META_BYTES = 16 * 2**20


def load(path):
    """Read a checkpoint written by :func:`save`; raise CheckpointError if it is not one.

    The file is untrusted input: only the members its metadata names are read, each
    member's size is checked against the file's before anything is decompressed (a
    small file cannot expand into gigabytes), and arrays are read without pickle.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such checkpoint file")
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":         # every .npz is a zip archive
            raise CheckpointError(f"{path}: not a readable .npz checkpoint (not a zip file)")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = {i.filename: i for i in archive.infolist()}
            for info in infos.values():
                if info.file_size > size + 2**20:
                    raise CheckpointError(
                        f"{path}: member {info.filename} would expand to {info.file_size} "
                        f"bytes from a {size}-byte file; refused (not written by minitrain)")
            meta = _read_meta(path, archive, infos)
            wanted = set(_placeholders(meta["state"]))
            stray = sorted(n[:-4] for n in infos if n[:-4] not in wanted | {"__meta__"})
            if stray:
                raise CheckpointError(f"{path}: unknown member(s) {', '.join(stray[:3])}; "
                                      "refused (not written by minitrain)")
            arrays = {}
            for name in wanted:
                info = infos.get(name + ".npy")
                if info is None:
                    raise CheckpointError(f"{path}: corrupt checkpoint (missing array {name})")
                with archive.open(info) as f:
                    arrays[name] = np.lib.format.read_array(f, allow_pickle=False)
    except CheckpointError:
        raise
    except ValueError as e:
        if "pickle" in str(e):
            raise CheckpointError(f"{path}: holds pickled objects; refused "
                                  "(minitrain never loads pickles)") from None
        raise CheckpointError(f"{path}: not a minitrain checkpoint ({e})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, RuntimeError) as e:
        raise CheckpointError(f"{path}: not a readable .npz checkpoint "
                              f"({type(e).__name__}: {e})") from None
    return _join(meta["state"], arrays)


def _read_meta(path, archive, infos):
    info = infos.get("__meta__.npy")
    if info is None:
        if any(_is_pickled(archive, i) for i in infos.values()):
            raise CheckpointError(f"{path}: holds pickled objects; refused "
                                  "(minitrain never loads pickles)")
        raise CheckpointError(f"{path}: not a minitrain checkpoint (no __meta__ entry)")
    if info.file_size > MAX_META_BYTES:
        raise CheckpointError(f"{path}: metadata of {info.file_size} bytes; refused")
    with archive.open(info) as f:
        text = np.lib.format.read_array(f, allow_pickle=False)
    try:
        meta = json.loads(str(text))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: corrupt metadata ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a minitrain checkpoint")
    if meta.get("version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {meta.get('version')!r} "
                              f"is not supported (this minitrain reads {FORMAT_VERSION})")
    if "state" not in meta:
        raise CheckpointError(f"{path}: corrupt checkpoint (no state)")
    return meta


def _is_pickled(archive, info):
    """True when a member's .npy header declares an object array (read: header only)."""
    try:
        with archive.open(info) as f:
            major, _ = np.lib.format.read_magic(f)
            read = (np.lib.format.read_array_header_1_0 if major == 1
                    else np.lib.format.read_array_header_2_0)
            _, _, dtype = read(f)
        return dtype.hasobject
    except (ValueError, OSError, EOFError, SyntaxError):
        return False


def _placeholders(obj):
    """The array names a metadata nest refers to."""
    if isinstance(obj, dict):
        if set(obj) == {"__array__"} and isinstance(obj["__array__"], str):
            yield obj["__array__"]
        else:
            for v in obj.values():
                yield from _placeholders(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _placeholders(v)
