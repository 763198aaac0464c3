"""Commands that list what there is: datasets, optimizers, schedules, schedule previews."""
from __future__ import annotations

import sys


import click

from minitrain.cli import cli
from minitrain.cli._options import (FiniteFloat, _SCHEDULE_FLAG, _sparkline, build_schedule, schedule_options)


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
def _nice_stride(n, rows=10):
    """The smallest of 1, 2, 5, 10, 20, 50, ... giving at most ``rows`` steps in ``n``."""
    stride = 1
    while n / stride > rows:
        for m in (2, 2.5, 2):
            stride = int(stride * m)
            if n / stride <= rows:
                break
    return stride
@cli.command("schedule")
@click.argument("name")
@click.option("--lr", type=FiniteFloat(), default=None,
              help="The schedule's lr (onecycle: --max-lr default).")
@click.option("--steps", "n_steps", type=click.IntRange(min=1), default=None,
              help="Steps to preview [default: --total-steps, else 100].")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Also draw lr and momentum against step into this PNG (needs matplotlib).")
@schedule_options
@click.pass_context
def schedule_command(ctx, name, lr, n_steps, plot, warmup_steps, warmup_start, **options):
    """Preview schedule NAME: lr (and momentum) at a few steps, and a sparkline.

    \b
    Examples:
      minitrain schedule onecycle --max-lr 0.01 --steps 1000
      minitrain schedule onecycle --max-lr 0.1 --anneal linear --three-phase --pct-start 0.45
      minitrain schedule piecewise --boundaries 100,200 --values 0.1,0.01,0.001 --steps 300
      minitrain schedule cosine --lr 0.1 --warmup-steps 50 --steps 1000 --plot cosine.png
    """
    n = n_steps or options.get("sched_total_steps") or 100
    sched = build_schedule(name, options, lr=lr, total_steps=n,
                           warmup=(warmup_steps or 0, warmup_start or 0.0), ctx=ctx)
    stride = _nice_stride(n)
    steps = set(range(0, n, stride)) | {n - 1}
    steps |= {s for s in sched.key_steps(n) if 0 <= s < n}
    has_momentum = sched.momentum(0) is not None

    click.echo(repr(sched))
    click.echo(f"{'step':>8}  {'lr':>12}" + (f"  {'momentum':>10}" if has_momentum else ""))
    shown = []
    for s in sorted(steps):
        shown.append(sched.lr(s))
        row = f"{s:>8}  {shown[-1]:>12.6g}"
        if has_momentum:
            row += f"  {sched.momentum(s):>10.6g}"
        click.echo(row)
    width = min(n, 60)
    sample = [round(i * (n - 1) / (width - 1)) if width > 1 else 0 for i in range(width)]
    lrs = [sched.lr(s) for s in sample]
    encoding = getattr(sys.stdout, "encoding", None)
    click.echo(f"lr {_sparkline(lrs, encoding)}  {min(lrs + shown):.3g} .. "
               f"{max(lrs + shown):.3g} over steps 0..{n - 1}")
    if name == "plateau":
        click.echo("plateau changes lr only when observe(metric) is called once per epoch; "
                   "the preview shows the starting lr.")
    if plot:
        _plot_schedule(sched, n, plot, has_momentum)
        click.echo(f"wrote {plot}")
def _plot_schedule(sched, n, path, has_momentum):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise click.ClickException("--plot needs matplotlib: pip install 'minitrain[plot]'")
    import textwrap

    import numpy as np

    steps = np.unique(np.linspace(0, n - 1, min(n, 4000)).round().astype(int))
    rows = 2 if has_momentum else 1
    fig, axes = plt.subplots(rows, 1, sharex=True, figsize=(7, 2.6 * rows), squeeze=False)
    axes[0, 0].plot(steps, [sched.lr(int(s)) for s in steps], color="C0")
    axes[0, 0].set_ylabel("lr")
    axes[0, 0].set_title(textwrap.fill(repr(sched), 110), fontsize=7)
    if has_momentum:
        axes[1, 0].plot(steps, [sched.momentum(int(s)) for s in steps], color="C1")
        axes[1, 0].set_ylabel("momentum / beta1")
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout()
    try:
        from minitrain.files import save_figure
        save_figure(fig, path)
    except OSError as e:
        raise click.ClickException(f"cannot write {path}: {e.strerror or e}")
    finally:
        plt.close(fig)
@cli.command("schedules")
def schedules_command():
    """List the learning-rate schedules, their options and defaults.

    \b
    Preview one:  minitrain schedule onecycle --max-lr 0.01 --steps 1000
    Use one:      minitrain fit ... --schedule cosine --warmup-steps 100
    """
    from minitrain import schedules

    width = max(map(len, schedules.names()))
    for name in schedules.names():
        click.echo(f"{name:<{width}}  {schedules.describe(name)}")
        opts = []
        for p, default in schedules.parameters(name).items():
            if p not in _SCHEDULE_FLAG:
                continue          # library-only (plateau's base) or the run's warm-up
            if default is schedules.REQUIRED or (name, p) == ("plateau", "lr"):
                opts.append(f"{_SCHEDULE_FLAG[p]} (required)")
            elif isinstance(default, bool):
                opts.append(f"{_SCHEDULE_FLAG[p]} [{'on' if default else 'off'}]")
            else:
                opts.append(f"{_SCHEDULE_FLAG[p]} {default}")
        click.echo(" " * (width + 2) + "  ".join(opts))
    click.echo("\nIn a run, --lr fills lr/max_lr and the run's length fills --total-steps; "
               "--warmup-steps N puts a linear warm-up in front of any schedule.")
    click.echo("plateau: cuts lr by --factor when the validation loss stalls (once per epoch).")
@cli.command("optimizers")
def optimizers_command():
    """List the optimizers: name, PyTorch defaults, this trainer's default lr.

    \b
    Use one with:   minitrain fit --dataset digits --optimizer adam --lr 3e-3
    See one update worked out by hand:   minitrain explain adam
    """
    from minitrain import optim
    for name in optim.names():
        defaults = ", ".join(f"{k}={v!r}" for k, v in optim.defaults(name).items())
        description = optim.describe(name).split(": ", 1)[-1]      # without "name: "
        click.echo(f"{name:9}  {description}")
        click.echo(f"{'':9}  defaults: {defaults}; fit's default lr: {optim.default_lr(name):g}")
