"""Commands that run many trainings: compare, lr-find, sweep."""
from __future__ import annotations

import sys

from pathlib import Path

import click

from minitrain.cli import cli
from minitrain.cli._options import (threads_option, cli_errors, FiniteFloat, ACTIVATIONS, LOSSES, OPTIMIZERS, SCHEDULES, _convention_option, _hidden, _interruptible, _lr_for_entries, _lr_map, _optimizer_list, _sparkline, build_schedule, pop_schedule_options, schedule_options, schedule_params)


# `minitrain compare`: optimizers side by side from the same weights and minibatches
# (minitrain/comparison.py); `minitrain lr-find`: the lr range test (minitrain/lrfind.py);
# `minitrain sweep GRID.toml`: every combination of a grid, on joblib workers or a Dask
# cluster (minitrain/sweeps.py). Reuses _optimizer_list and _lr_map from the lab section.


def _experiment_data_options(f):
    """The data and model options shared by compare and lr-find (None = runs' default)."""
    options = (
        click.option("--dataset", "-d", metavar="NAME",
                     help="A built-in dataset (see `minitrain datasets`), e.g. digits."),
        click.option("--data", type=click.Path(dir_okay=False),
                     help="A CSV file with a header row."),
        click.option("--target", help="The CSV column to predict (default: the last)."),
        click.option("--task", type=click.Choice(["classification", "regression"])),
        click.option("--n-samples", type=click.IntRange(min=1),
                     help="Samples (generated datasets)."),
        click.option("--noise", type=FiniteFloat(min=0)),
        click.option("--n-features", type=click.IntRange(min=1)),
        click.option("--n-classes", type=click.IntRange(min=2)),
        click.option("--hidden", callback=_hidden,
                     help="Hidden layer sizes.  [default: 64,64; 16 for diabetes]"),
        click.option("--activation", type=ACTIVATIONS,
                     help="[default: relu]"),
        click.option("--loss", type=LOSSES),
        click.option("--dtype", type=click.Choice(["float32", "float64"]),
                     help="[default: float32]"),
        click.option("--batch-size", "-b", type=click.IntRange(min=1), help="[default: 32]"),
        click.option("--val-split", type=FiniteFloat(0, 1, max_open=True),
                     help="[default: 0.2]"),
        click.option("--test-split", type=FiniteFloat(0, 1, max_open=True),
                     help="[default: 0.2]"),
    )
    for option in reversed(options):
        f = option(f)
    return f
_DATA_KEYS = ("dataset", "data", "target", "task", "n_samples", "noise", "n_features",
              "n_classes", "hidden", "activation", "loss", "dtype", "batch_size", "val_split",
              "test_split")
def _seed_list(ctx, param, value):
    try:
        seeds = [int(v) for v in str(value).split(",") if v.strip()]
    except ValueError:
        seeds = []
    if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) < len(seeds):
        raise click.BadParameter(f"must be distinct integers >= 0 like 0,1,2, got {value!r}")
    return seeds
def _experiment_errors():
    from minitrain.checkpoint import CheckpointError
    from minitrain.experiments.compare import CompareError
    from minitrain.data import DataError
    from minitrain.experiments.runs import RunError
    from minitrain.experiments.sweep import SweepError
    return RunError, DataError, CheckpointError, CompareError, SweepError, OSError
def _source_name(options):
    return options["dataset"] or Path(options["data"] or "data").stem
def _stamp_dir(prefix):
    import time
    base = Path("runs") / f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, i = base, 1
    while path.exists():
        i += 1
        path = Path(f"{base}-{i}")
    return path
def _check_source(ctx, options):
    if (options["dataset"] is None) == (options["data"] is None):
        raise click.UsageError("give exactly one of --dataset NAME or --data FILE.csv", ctx)
@cli.command("compare")
@_experiment_data_options
@click.option("--optimizers", "-o", callback=_optimizer_list,
              help="Comma-separated optimizer names, each optionally NAME@keras or "
              "NAME@torch (adam,adam@keras runs both side by side).  [default: every "
              "optimizer of `minitrain optimizers`]")
@_convention_option
@click.option("--lr", "lr_spec", callback=_lr_map, metavar="NAME=VALUE,...",
              help="Learning rates, e.g. adam=3e-3,sgd=0.05,adam@keras=1e-3; a bare 0.01 "
                   "sets all the others; a plain name covers NAME@keras too. "
                   "[default: each optimizer's default of `minitrain fit`]")
@click.option("--schedule", "-s", type=SCHEDULES,
              help="A schedule for every run; its lr (onecycle: max lr) is each optimizer's.")
@schedule_options
@click.option("--epochs", "-e", type=click.IntRange(min=1),
              help="[default: 40; 100 for iris, 60 for wine]")
@click.option("--seeds", callback=_seed_list, default="0", show_default=True,
              help="Comma-separated seeds; each seeds the split, the weights and the batches.")
@threads_option
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes (timings get noisier when runs share the cores).")
@click.option("--out", type=click.Path(file_okay=False),
              help="Output directory.  [default: runs/compare-DATASET-TIME]")
@click.option("--force", is_flag=True, help="Overwrite the tables in an existing --out.")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines.")
@click.pass_context
def compare_command(ctx, optimizers, convention, lr_spec, schedule, epochs, seeds, threads,
                    jobs, out,
                    force, quiet, **options):
    """Train several optimizers from the same start and rank them.

    Within a seed every optimizer starts from the same initial weights and sees the
    same minibatches in the same order, so only the update rule differs. Prints a
    table ranked by final validation loss (mean ± std over seeds) and writes
    summary.csv, curves.csv (optimizer, seed, epoch, step, lr, train_loss, val_loss,
    metric) and, with matplotlib, curves.png.

    \b
    Examples:
      minitrain compare -d digits --epochs 30 --seeds 0,1,2
      minitrain compare -d moons -o sgd,momentum,adam --lr sgd=0.1,0.01 --seeds 0,1
      minitrain compare -d digits -o adam,nadam --schedule onecycle --pct-start 0.25
      minitrain compare -d digits -o adam,adam@keras,rmsprop,rmsprop@keras --seeds 0,1
    """
    from minitrain.experiments.compare import CompareError, compare, parse_run_specs
    _check_source(ctx, options)
    given = {k: v for k, v in pop_schedule_options(options).items() if v is not None}
    params = schedule_params(schedule, given, ctx)
    if schedule:                                 # bad values: usage errors before training
        build_schedule(schedule, given, lr=0.01, total_steps=1000)
    if optimizers is None:
        from minitrain import optim
        optimizers = list(optim.names())
    try:
        found = [entry[:3] for entry in parse_run_specs(optimizers, convention)]
    except CompareError as e:
        raise click.BadParameter(str(e).removeprefix("compare: "), ctx,
                                 param_hint="--optimizers") from None
    if len({label for label, *_ in found}) < len(found):
        raise click.BadParameter(f"names a run twice: {','.join(optimizers)!r}", ctx,
                                 param_hint="--optimizers")
    lrs = _lr_for_entries(ctx, lr_spec, found) if lr_spec else None
    out = Path(out) if out else _stamp_dir(f"compare-{_source_name(options)}")
    with cli_errors(ctx), _interruptible(f"Nothing was written to {out}; run the command "
                                         "again to start the comparison over."):
        result = compare(optimizers=optimizers, convention=convention, lr=lrs,
                         schedule=schedule, schedule_params=params, epochs=epochs,
                         seeds=seeds, jobs=jobs, out=out, progress=not quiet, force=force,
                         threads=threads,
                         **{k: options[k] for k in _DATA_KEYS})
    click.echo(result.table())
    plotted = (out / "curves.png").exists()
    click.echo(f"\nwrote {out / 'summary.csv'}, {out / 'curves.csv'}"
               + (f", {out / 'curves.png'}" if plotted else ""))
    if not plotted:
        click.echo("matplotlib is not installed, so no curves.png "
                   "(pip install 'minitrain[plot]')")
@cli.command("lr-find")
@_experiment_data_options
@click.option("--optimizer", "-o", type=OPTIMIZERS, default="nadam",
              show_default=True)
@click.option("--start", type=FiniteFloat(min=0, min_open=True), default=1e-7,
              show_default=True, help="First learning rate.")
@click.option("--end", type=FiniteFloat(min=0, min_open=True), default=10.0,
              show_default=True, help="Last learning rate.")
@click.option("--steps", type=click.IntRange(min=3), default=100, show_default=True,
              help="Minibatches over which the lr grows exponentially.")
@click.option("--smoothing", type=FiniteFloat(0, 1, max_open=True), default=0.98,
              show_default=True, help="beta of the bias-corrected moving average of the loss.")
@click.option("--diverge", type=FiniteFloat(min=1, min_open=True), default=4.0,
              show_default=True, help="Stop when the smoothed loss exceeds this times its best.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--out", type=click.Path(file_okay=False),
              help="Output directory.  [default: runs/lr-find-DATASET-OPTIMIZER-TIME]")
@click.option("--force", is_flag=True, help="Overwrite lr_find.csv/.png in an existing --out.")
@click.pass_context
def lr_find_command(ctx, optimizer, start, end, steps, smoothing, diverge, seed, out, force,
                    **options):
    """Leslie Smith's learning-rate range test: grow the lr, watch the loss.

    The lr grows exponentially from --start to --end over --steps minibatches of the
    training split; the loss is smoothed (bias-corrected moving average) and the test
    stops when it exceeds --diverge times its best. Two suggestions: the lr of the
    steepest descent of the smoothed loss, and the lr of its minimum divided by 10.
    Writes lr_find.csv (step, lr, loss, smoothed_loss) and, with matplotlib,
    lr_find.png with both suggestions marked.

    \b
    Examples:
      minitrain lr-find --dataset digits --optimizer adam
      minitrain lr-find -d moons -o momentum --start 1e-5 --end 1 --steps 200
    """
    from minitrain import files
    from minitrain.experiments import runs
    from minitrain.experiments.lrfind import lr_find
    _check_source(ctx, options)
    if not end > start:
        raise click.BadParameter(f"must be greater than --start ({start:g}), got {end:g}",
                                 param_hint="--end")
    out = Path(out) if out else _stamp_dir(f"lr-find-{_source_name(options)}-{optimizer}")
    with cli_errors(ctx):
        cfg = runs.resolve({**{k: options[k] for k in _DATA_KEYS}, "optimizer": optimizer,
                            "seed": seed})
        run = runs.build_run(cfg)
        with _interruptible(f"Nothing was written to {out}; the range test starts over "
                            "when run again."):
            result = lr_find(run.model, run.optimizer, run.data.arrays("train"),
                             start=start, end=end, steps=steps,
                             batch_size=cfg["batch_size"], seed=seed, beta=smoothing,
                             diverge=diverge)
        files.claim_folder(out, "lr-find", ("lr_find.csv", "lr_find.png"), force=force)
        result.to_csv(out / "lr_find.csv")
        title = (f"{optimizer} on {_source_name(options)}, hidden "
                 f"{','.join(map(str, cfg['hidden']))}, batch {cfg['batch_size']}")
        plotted = result.plot(out / "lr_find.png", title=title)
    reason = {"end": "reached --end", "diverged": f"smoothed loss > {diverge:g}x its best",
              "nan": "the loss was not finite"}[result.stopped]
    click.echo(f"lr range test: {title}")
    click.echo(f"{len(result.lrs)} steps, lr {result.lrs[0]:.3g} .. {result.lrs[-1]:.3g} "
               f"(stopped: {reason})")
    if len(result.smoothed) > 1:
        encoding = getattr(sys.stdout, "encoding", None)
        sample = result.smoothed[:: max(1, len(result.smoothed) // 60)]
        cap = sample[: int(sample.argmin()) + 1].max()        # the blow-up would flatten it
        click.echo(f"smoothed loss {_sparkline(list(sample.clip(max=cap)), encoding)}")
    if result.steepest is None:
        click.echo("too few steps for a suggestion; lower --start or raise --diverge")
    else:
        low = result.smoothed.min()
        click.echo(f"suggested lr:  steepest descent  {result.steepest:.3g}")
        click.echo(f"               minimum / 10      {result.min_div10:.3g}   (lowest "
                   f"smoothed loss {low:.4g} at lr {result.minimum:.3g})")
        click.echo(f"try: minitrain fit -d {cfg['dataset'] or '...'} -o {optimizer} "
                   f"--lr {result.steepest:.2g}")
    click.echo(f"wrote {out / 'lr_find.csv'}" + (f", {out / 'lr_find.png'}" if plotted else ""))
    if not plotted:
        click.echo("matplotlib is not installed, so no plot (pip install 'minitrain[plot]')")
@cli.command("sweep")
@click.argument("grid", type=click.Path(dir_okay=False))
@click.option("--jobs", "-j", type=click.IntRange(min=1),
              help="Runs at a time.  [default: every core; with --address every Dask worker]")
@click.option("--address", metavar="tcp://HOST:PORT",
              help="Run on this Dask scheduler (needs pip install 'minitrain[dist]').")
@click.option("--out", type=click.Path(file_okay=False), default="runs/sweep",
              show_default=True, help="Directory of the results (one HASH.json per config).")
@click.option("--dry-run", is_flag=True, help="List the configs and which are done; run none.")
@click.option("--top", type=click.IntRange(min=0), default=10, show_default=True,
              help="Rows of the final table (best validation loss first).")
@click.option("--timeout", type=FiniteFloat(min=0, min_open=True), default=30,
              show_default=True, help="Seconds to wait for the Dask scheduler and workers.")
@click.option("--quiet", "-q", is_flag=True, help="No progress line.")
@click.option("--force", is_flag=True,
              help="Write into an --out folder minitrain did not create.")
def sweep_command(grid, jobs, address, out, dry_run, top, timeout, quiet, force):
    """Train every combination of the options in GRID (a TOML file).

    Lists are crossed, scalars are fixed; keys are the options of `minitrain fit`
    with underscores, and schedule parameters go in a [schedule_params] table:

    \b
      dataset = "digits"
      epochs = 20
      optimizer = ["sgd", "momentum", "adam"]
      lr = [0.01, 0.1]
      schedule = ["none", "onecycle"]
      seed = [0, 1]
      [schedule_params]
      pct_start = [0.25, 0.4]

    Each run's result goes to OUT/HASH.json (HASH of its full config) as soon as it
    finishes; finished configs are skipped, so running the command again resumes a
    stopped sweep (and retries failed configs). OUT/summary.csv has one row per
    config, OUT/curves.csv one row per config and epoch. Local runs use joblib worker
    processes with one BLAS and one Numba thread each; --address sends them to a
    Dask cluster (start workers with --nthreads 1). Exit code 1 when a config failed.

    \b
    Examples:
      minitrain sweep scripts/grid_example.toml --dry-run
      minitrain sweep scripts/grid_example.toml --jobs 2 --out runs/sweep
      minitrain sweep grid.toml --address tcp://10.0.0.5:8786 --out runs/sweep
    """
    from minitrain.experiments.sweep import format_best, sweep
    from minitrain.train import Interrupted
    try:
        result = sweep(grid, out, jobs=jobs, address=address, dry_run=dry_run, force=force,
                       progress=not quiet, timeout=timeout)
    except _experiment_errors() as e:
        raise click.ClickException(str(e)) from None
    except (KeyboardInterrupt, Interrupted):
        click.echo(f"\nInterrupted. Finished runs are kept in {out}; run the same command "
                   "again to resume.", err=True)
        raise SystemExit(130) from None
    except (TypeError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    n, varied = len(result.configs), result.varied
    if dry_run:
        todo = sum(r is None for r in result.results)
        click.echo(f"{n} configs in {grid}: {n - todo} finished in {out}, {todo} to run")
        if not varied:
            varied = ["optimizer"]
        rows = [[c["hash"], "done" if r else "todo",
                 *(str(_csv(c.get(k))) for k in varied)]
                for c, r in zip(result.rows(), result.results)]
        head = ["hash", "status", *varied]
        widths = [max(len(x) for x in col) for col in zip(head, *rows)]
        for line in [head, *rows]:
            click.echo("  ".join(x.ljust(w) for x, w in zip(line, widths)).rstrip())
        return
    click.echo(f"{n} configs: {result.ran} run now, {result.skipped} already finished; "
               f"results in {out}/summary.csv and curves.csv")
    if top:
        click.echo(format_best(result, top))
    failed = result.failed
    if failed:
        first = failed[0]
        raise click.ClickException(
            f"{len(failed)} of {n} configs failed (first: {first['hash']}: {first['error']}); "
            "see the error column of summary.csv; run the command again to retry them")
def _csv(value):
    return ",".join(map(str, value)) if isinstance(value, list) else ("" if value is None
                                                                       else value)
