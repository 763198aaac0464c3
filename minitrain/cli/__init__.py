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
