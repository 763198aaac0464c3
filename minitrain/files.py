"""The one place minitrain writes files: atomically, into folders it owns.

Every file minitrain writes goes through :func:`write_atomic`: the bytes go to a
temporary file in the same folder whose name is unique to this process and call
(``.NAME.<pid>.<random>.tmp``), are flushed to disk, and then ``os.replace`` the target.
A crash, a full disk or Ctrl-C leaves either the old file or the new one, never half a
file, and the temporary file is removed on any failure. No file is opened for writing
anywhere else in the package.

Output folders (run folders, ``compare``/``sweep``/``lr-find`` outputs) belong to
minitrain once it has created them, which it records with a marker file
(:data:`MARKER`). :func:`claim_folder` refuses a folder that already holds files
minitrain did not write unless ``force`` is given, and even then only the files
minitrain names are replaced; nothing else is ever deleted. :class:`FolderLock` keeps
a second process out of a folder while one writes it.
"""
from __future__ import annotations

import csv
import io
import json
import os
import secrets
from pathlib import Path

#: Marks a folder as minitrain's own (created by it); holds what wrote it.
MARKER = ".minitrain"


class FileError(ValueError):
    """A file or folder minitrain cannot or must not write (exit 1 on the command line)."""


def write_atomic(path, data: bytes | str | None = None, *, writer=None):
    """Write ``data`` (bytes or text) or call ``writer(binary_file)`` into ``path``
    atomically; the temporary file is removed on any failure (including Ctrl-C)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:
            if writer is not None:
                writer(f)
            else:
                f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_json(path, obj):
    """``obj`` as indented JSON (NaN and inf written as null), atomically."""
    write_atomic(path, json.dumps(_finite_or_none(obj), indent=2) + "\n")


def write_csv(path, columns, rows):
    """Rows (dicts by column, or sequences) as CSV with a header; None as an empty
    cell; atomically."""
    buffer = io.StringIO()
    w = csv.writer(buffer, lineterminator="\n")
    w.writerow(columns)
    for row in rows:
        cells = [row.get(c) for c in columns] if isinstance(row, dict) else row
        w.writerow(["" if v is None else v for v in cells])
    write_atomic(path, buffer.getvalue())


def save_figure(fig, path, tight=True):
    """A matplotlib figure saved atomically (format from the file name); ``tight``
    crops it to its contents (which draws it twice)."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    crop = {"bbox_inches": "tight"} if tight else {}
    write_atomic(path, writer=lambda f: fig.savefig(f, format=fmt, dpi=120, **crop))


def _finite_or_none(obj):
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_none(v) for v in obj]
    return obj


# ------------------------------------------------------------------ folders we own


def is_ours(folder) -> bool:
    """True when minitrain created ``folder`` (it holds the marker file)."""
    return (Path(folder) / MARKER).is_file()


def claim_folder(folder, kind, names, *, force=False):
    """Make ``folder`` an output folder of ``kind`` ("run", "compare", ...) and return it.

    A missing folder is created (with its parents) and marked as minitrain's. An
    existing one is accepted when it is empty, or when it is minitrain's and holds
    none of ``names`` (the files this command writes); otherwise ``force`` is needed,
    and then only ``names`` are replaced. Raises :class:`FileError` otherwise.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise FileError(f"{folder}: exists and is not a folder")
    if not folder.exists():
        try:
            folder.mkdir(parents=True)
        except FileExistsError:           # another process made it just now
            pass
        except OSError as e:
            raise FileError(f"{folder}: cannot create the folder ({e.strerror})") from None
    present = sorted(p.name for p in folder.iterdir() if p.name != MARKER
                     and not p.name.startswith("."))
    if present and not force:
        clashes = sorted(set(present) & set(names))
        if not is_ours(folder):
            raise FileError(f"{folder} already exists and holds files minitrain did not write "
                            f"({', '.join(present[:3])}{', ...' if len(present) > 3 else ''}); "
                            "choose another --out, or add --force to write "
                            f"{', '.join(names)} there")
        if clashes:
            resume = ", or --resume it" if kind == "run" else ""
            raise FileError(f"{folder} already exists and holds a {kind} "
                            f"({', '.join(clashes)}); choose another --out, add --force to "
                            f"replace it{resume}")
    if not is_ours(folder):
        write_atomic(folder / MARKER, json.dumps({"kind": kind}) + "\n")
    return folder


def remove_if_only_ours(folder):
    """Delete ``folder`` when it holds nothing but minitrain's marker (a run that
    failed before writing anything); never touches anything else."""
    folder = Path(folder)
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    if all(p.name == MARKER for p in entries):
        for p in entries:
            p.unlink()
        try:
            folder.rmdir()
        except OSError:
            pass


class FolderLock:
    """An exclusive lock on an output folder while one process writes it.

    ``with FolderLock(folder):`` holds an ``flock`` on the folder itself (no lock file
    is left behind); a second minitrain process gets :class:`FileError` at once
    instead of mixing two runs' files.
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        self._fd = None

    def __enter__(self):
        import fcntl
        self._fd = os.open(self.folder, os.O_RDONLY)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd = None
            raise FileError(f"{self.folder} is being written by another minitrain process; "
                            "wait for it or choose another --out") from None
        return self

    def __exit__(self, *exc):
        if self._fd is not None:
            os.close(self._fd)            # closing releases the lock
            self._fd = None
