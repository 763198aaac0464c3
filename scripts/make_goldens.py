"""Regenerate every PyTorch golden file: runs each ``scripts/goldens_*.py``'s ``main(outdir)``.

Needs torch (CPU) installed; minitrain's tests never import it.

    python scripts/make_goldens.py            # writes into tests/goldens/
    python scripts/make_goldens.py OUTDIR
"""
from __future__ import annotations

import importlib.util
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent


def main(outdir: pathlib.Path):
    for path in sorted(HERE.glob("goldens_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"{path.name}:", flush=True)
        module.main(pathlib.Path(outdir))


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent / "tests" / "goldens")
