"""The ``minitrain`` command line.

Each command only parses options, builds objects from the library and prints; the
work lives in importable modules. Heavy imports (NumPy, Numba, scikit-learn) happen
inside the commands so that ``minitrain --help`` is instant.

Errors: a bad option value exits 2 with Click's usage message; bad data or files
exit 1 with one line ``Error: ...``; never a traceback.
"""
from __future__ import annotations


import click

from minitrain import __version__

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="minitrain")
def cli():
    """minitrain: train tiny MLPs on the CPU with exact, fast optimizers and schedules.

    \b
    Start here:
      minitrain fit --dataset digits --optimizer nadam
      minitrain optimizers            # the update rules and their defaults
      minitrain schedules             # the learning-rate schedules
      minitrain compare -d digits -o momentum/onecycle,momentum/constant
      minitrain explain-backprop      # one forward and backward pass, every number
      minitrain gradcheck --dataset iris --hidden 8,8 --activation tanh
    """


# The command modules register their commands on `cli` when imported.
from minitrain.cli import catalog, experiments, lab, run  # noqa: E402,F401


def main():
    """The ``minitrain`` program: :func:`cli`, then a quick exit.

    Tearing down the interpreter after a training run takes about 0.4 s (measured:
    after the exit handlers, i.e. freeing modules and objects, among them Numba's
    compiled code), a quarter of a one-epoch fit. Once the command is done and no
    other thread is running, this runs the exit handlers (``atexit``: joblib's
    workers, temporary folders, ...), flushes stdout and stderr and ends the process
    with the command's exit code, skipping only that teardown.
    """
    import atexit
    import os
    import sys
    import threading
    try:
        cli(prog_name="minitrain")
        code = 0
    except SystemExit as e:
        code = e.code
    if threading.active_count() > 1:      # a thread still working: exit the usual way
        sys.exit(code)
    atexit._run_exitfuncs()
    if not isinstance(code, int):         # sys.exit("message"): print it, exit 1
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
