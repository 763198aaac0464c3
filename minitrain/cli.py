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
      minitrain optimizers            # the nine update rules and their defaults
      minitrain schedules             # the learning-rate schedules
      minitrain gradcheck --dataset iris --hidden 8,8 --activation tanh
    """


# ---- commands are added below, one section per command ------------------------------


# ---- datasets (owner: data) -------------------------------------------------------------


@cli.command("datasets")
def datasets_command():
    """List the built-in datasets: task, size (samples x features), classes, options.

    \b
    Use one with:   minitrain fit --dataset moons --noise 0.3 --n-samples 500
    or any CSV:     minitrain fit --data file.csv --target COLUMN
    A CSV target is classification if it holds text, or integers with at most
    20 distinct values; regression otherwise (override with --task).
    """
    from minitrain import data

    rows = []
    for name in data.names():
        spec = data.DATASETS[name]
        n, d, k = spec.shape
        opts = " ".join(f"--{o.replace('_', '-')} {v}" for o, v in spec.defaults.items())
        rows.append((name, spec.task, f"{n} x {d}", str(k) if k else "-",
                     spec.description, opts))
    head = ("name", "task", "size", "classes", "description")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]

    def line(cells):
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)) + "  " + cells[4]

    click.echo(line(head))
    for row in rows:
        click.echo(line(row))
        if row[5]:
            click.echo(" " * (widths[0] + 2) + "options: " + row[5])
    click.echo(f"\nGenerated datasets use --seed. Cache: {data.cache_dir()}")
    click.echo("Any CSV file: --data FILE --target COLUMN (header row, numeric features).")

# ---- end datasets -----------------------------------------------------------------------
