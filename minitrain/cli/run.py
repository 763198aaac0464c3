"""Commands for one run: fit, evaluate, predict."""
from __future__ import annotations

from pathlib import Path

import click

from minitrain.cli import cli
from minitrain.cli._options import (CONVENTIONS, threads_option, FiniteFloat, SCHEDULE_DEST, cli_errors, ACTIVATIONS, LOSSES, OPTIMIZERS, run_options, SCHEDULES, _check_optimizer_flags, _hidden, _load_config, _run_errors, optimizer_options, pop_schedule_options, schedule_options, schedule_params)


def _summary_table(summary, metric):
    lines = [f"{'':8}{'loss':>10}  {metric:>9}"]
    for part in ("train", "val", "test"):
        m = summary[part]
        if m:
            lines.append(f"{part:8}{m['loss']:>10.4f}  {m[metric]:>9.4f}")
    sps = summary["steps_per_second"]
    lines.append(f"{summary['epochs']} epochs, {summary['steps']} steps in "
                 f"{summary['seconds']:.2f} s ({sps:,.0f} steps/s)" if sps else
                 f"{summary['epochs']} epochs, {summary['steps']} steps")
    lines.append(f"params sha256 {summary['params_sha256']}")
    lines.append(f"run directory {summary['run']}")
    return "\n".join(lines)
@cli.command("fit")
@click.option("--config", type=click.Path(dir_okay=False), callback=_load_config,
              is_eager=True, expose_value=False,
              help="TOML file with these option names (e.g. optimizer = \"adam\"); "
                   "the command line wins.")
@click.option("--dataset", "-d", metavar="NAME",
              help="A built-in dataset (see `minitrain datasets`), e.g. digits, moons.")
@click.option("--data", type=click.Path(dir_okay=False), help="A CSV file with a header row.")
@click.option("--target", help="The CSV column to predict (default: the last column).")
@click.option("--task", type=click.Choice(["classification", "regression"]),
              help="Override the CSV task inference.")
@click.option("--n-samples", type=click.IntRange(min=1), help="Samples (generated datasets).")
@click.option("--noise", type=FiniteFloat(min=0), help="Noise (generated datasets).")
@click.option("--n-features", type=click.IntRange(min=1), help="Features (generated datasets).")
@click.option("--n-classes", type=click.IntRange(min=2), help="Classes (generated datasets).")
@click.option("--hidden", callback=_hidden,
              help="Hidden layer sizes, comma-separated.  [default: 64,64; 16 for diabetes]")
@click.option("--activation", type=ACTIVATIONS, default="relu",
              show_default=True, help="Hidden-layer activation.")
@click.option("--loss", type=LOSSES,
              help="Default: softmax_crossentropy for classes, mse for regression.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32",
              show_default=True)
@click.option("--optimizer", "-o", type=OPTIMIZERS, default="nadam",
              show_default=True, help="The update rule (see `minitrain optimizers`).")
@click.option("--lr", type=FiniteFloat(min=0, min_open=True),
              help="Learning rate (default: a per-optimizer value that works here).")
@optimizer_options
@click.option("--bias-decay/--no-bias-decay", default=True, show_default=True,
              help="Apply --weight-decay to the biases too (--no-bias-decay: weights only, "
                   "as usual with AdamW).")
@click.option("--convention", type=CONVENTIONS, default=None,
              help="PyTorch's or Keras 3's update rules and defaults.  [default: the "
                   "optimizer's own: torch; keras for lion]")
@click.option("--schedule", "-s", type=SCHEDULES,
              help="Learning-rate schedule (see `minitrain schedules`); its options below.")
@schedule_options
@click.option("--epochs", "-e", type=click.IntRange(min=1),
              help="Total epochs (with --resume: the total to reach).  [default: 40; 100 for "
                   "iris, 60 for wine]")
@click.option("--batch-size", "-b", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--val-split", type=FiniteFloat(0, 1, max_open=True), default=0.2,
              show_default=True)
@click.option("--test-split", type=FiniteFloat(0, 1, max_open=True), default=0.2,
              show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seeds the data split, initial weights and shuffling.")
@click.option("--early-stopping/--no-early-stopping", default=False, show_default=True)
@click.option("--patience", type=click.IntRange(min=1), default=10, show_default=True,
              help="Early-stopping patience in epochs.")
@click.option("--min-delta", type=FiniteFloat(min=0), default=0.0, show_default=True)
@click.option("--on-diverge", type=click.Choice(["stop", "rollback"]),
              help="On a NaN/inf loss: stop (exit 1, last good checkpoint kept), or roll back "
                   "to the last epoch, halve the lr and go on (at most 3 times).  "
                   "[default: stop]")
@click.option("--out", type=click.Path(file_okay=False),
              help="Run directory (default: runs/DATASET-OPTIMIZER-TIME).")
@click.option("--force", is_flag=True, help="Overwrite an existing run directory.")
@click.option("--resume", type=click.Path(file_okay=False),
              help="Continue the run in this directory up to --epochs in total.")
@click.option("--quiet", "-q", is_flag=True, help="No progress and no table.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the summary as one JSON object on the last line.")
@threads_option
@click.option("--plot/--no-plot", default=True, show_default=True,
              help="Draw curves.png (loss, metric, lr per epoch) into the run folder "
                   "when matplotlib is installed.")
@click.pass_context
def fit_command(ctx, **opts):
    """Train an MLP on a dataset or CSV file and save the run.

    \b
    Examples:
      minitrain fit --dataset digits --optimizer nadam
      minitrain fit -d moons -o momentum --lr 0.05 --schedule onecycle --max-lr 0.5
      minitrain fit --data data/penguins_like.csv --target species --epochs 60
      minitrain fit --resume runs/digits-nadam-20261129-101500 --epochs 80

    The run directory gets config.toml, history.csv, model.npz (checkpoint, written
    every epoch and on Ctrl-C) and summary.json; `minitrain evaluate` and
    `minitrain predict` read it.
    """
    import json as _json

    from minitrain.experiments import runs
    from minitrain.train import Interrupted, TrainingDiverged

    source = click.core.ParameterSource
    given = {k for k in opts if ctx.get_parameter_source(k) not in
             (source.DEFAULT, None)}
    quiet, as_json, force = opts.pop("quiet"), opts.pop("as_json"), opts.pop("force")
    plot, threads = opts.pop("plot"), opts.pop("threads")
    resume, out = opts.pop("resume"), opts.pop("out")
    schedule_given = {k: v for k, v in pop_schedule_options(opts).items() if v is not None}
    if resume:
        with cli_errors(ctx, source=f"{resume}/config.toml"):
            if not Path(resume).is_dir():
                raise runs.RunError(f"{resume}: no such run directory")
            cfg = runs.resolve(runs.read_toml(f"{resume}/config.toml"))
        _check_repeated_options(ctx, cfg, opts, given - {"epochs"}, schedule_given)
        if "epochs" in given:
            cfg["epochs"] = opts["epochs"]
        out = resume
    else:
        with cli_errors(ctx):
            cfg = run_options(opts)
            cfg["schedule_params"] = schedule_params(opts["schedule"], schedule_given, ctx)
            cfg = runs.resolve(cfg)
        out = out or runs.default_run_dir(cfg)
    try:
        with cli_errors(ctx):
            summary = runs.fit_run(cfg, out, resume=bool(resume), force=force,
                                   progress=not quiet, plot=plot, threads=threads)
    except TrainingDiverged as e:
        kept = (f"The last good checkpoint is kept at {out}/model.npz." if e.epoch > 1
                else "No epoch finished, so no checkpoint was written.")
        raise click.ClickException(
            f"training diverged at epoch {e.epoch}, step {e.step} (loss={e.loss}). {kept} "
            f"Try a lower --lr (now {e.lr:g}) or standardise the inputs.") from None
    except (Interrupted, KeyboardInterrupt) as e:
        where = f" at epoch {e.epoch}, step {e.step}" if isinstance(e, Interrupted) else ""
        saved = Path(out, "model.npz").exists()
        click.echo(f"\nInterrupted{where}. " + (
            f"State saved in {out}/model.npz; continue with: minitrain fit --resume {out}"
            if saved else "No epoch had finished, so nothing was saved."), err=True)
        ctx.exit(130)
    if not quiet:
        metric = "accuracy" if summary["train"] and "accuracy" in summary["train"] else "r2"
        click.echo(_summary_table(summary, metric))
    if as_json:
        keys = ("train", "val", "test", "epochs", "steps", "seconds", "params_sha256")
        click.echo(_json.dumps({k: summary[k] for k in keys}))
def _check_repeated_options(ctx, cfg, opts, given, schedule_given):
    """``fit --resume RUN`` with options repeated: equal to the saved ones is fine,
    a different one is a usage error naming it."""
    differ = []
    for key in sorted(given):
        if key in cfg and opts[key] != cfg[key] and not (
                isinstance(cfg[key], float) and opts[key] is not None
                and float(opts[key]) == cfg[key]):
            differ.append(f"--{key.replace('_', '-')} {opts[key]!r} (the run has "
                          f"{cfg[key]!r})")
    for key, value in schedule_given.items():
        param = SCHEDULE_DEST.get(key, key)
        if cfg["schedule_params"].get(param) != value:
            differ.append(f"--{key.replace('_', '-')} {value!r}")
    if differ:
        raise click.UsageError("--resume continues a run with its saved options; only "
                               f"--epochs may change, but {'; '.join(differ)}", ctx)


@cli.command("evaluate")
@click.argument("run_arg", required=False, metavar="[RUN]", type=click.Path(file_okay=False))
@click.option("--run", "run_dir", type=click.Path(file_okay=False),
              help="A run directory written by `minitrain fit` (or give it as RUN).")
@click.option("--data", "data_path", type=click.Path(dir_okay=False),
              help="Score this CSV instead of the run's own train/val/test split.")
@click.option("--target", help="Target column of --data (default: the run's).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.pass_context
def evaluate_command(ctx, run_arg, run_dir, data_path, target, as_json):
    """Loss and accuracy (or R^2) of a saved run's model.

    \b
    Examples:
      minitrain evaluate runs/digits-nadam-20261129-101500
      minitrain evaluate --run runs/penguins --data new_penguins.csv
    """
    import json as _json

    from minitrain.experiments import runs
    run_dir = _one_run(ctx, run_arg, run_dir)
    with cli_errors(ctx):
        saved = runs.load_run(run_dir)
        scaler, target_scaler = saved.scalers()
        parts = saved.parts(data_path, target)
        result = {name: runs.metrics(saved.model, part, scaler, target_scaler)
                  for name, part in parts.items() if part is not None}
    if as_json:
        click.echo(_json.dumps(result))
        return
    metric = "accuracy" if saved.model.is_classifier else "r2"
    click.echo(f"{'':12}{'loss':>10}  {metric:>9}")
    for name, m in result.items():
        click.echo(f"{name:12}{m['loss']:>10.4f}  {m[metric]:>9.4f}")
    if saved.model.is_classifier:
        name, part = list(parts.items())[-1]            # the test part, or the given CSV
        if part is not None and len(part):
            click.echo(f"\n{name}: per class")
            click.echo(runs.class_report(saved, part))


def _one_run(ctx, run_arg, run_dir):
    if (run_arg is None) == (run_dir is None):
        raise click.UsageError("give the run folder once, as RUN or --run RUN", ctx)
    return run_arg or run_dir


@cli.command("predict")
@click.option("--run", "run_dir", required=True, type=click.Path(file_okay=False),
              help="A run directory written by `minitrain fit`.")
@click.option("--data", "data_path", required=True, type=click.Path(dir_okay=False),
              help="CSV with the run's feature columns (a target column is ignored).")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Where to write the predictions (CSV).")
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
@click.pass_context
def predict_command(ctx, run_dir, data_path, out, force):
    """Write predictions (and class probabilities) for a CSV file.

    \b
    Example:
      minitrain predict --run runs/penguins --data data/penguins_like.csv --out preds.csv
    """
    import os

    from minitrain import data, files
    from minitrain.experiments import runs
    if os.path.lexists(out) and not force:
        raise click.ClickException(f"{out} exists; add --force to overwrite it")
    if os.path.isdir(out):
        raise click.ClickException(f"{out} is a folder; --out must name a file")
    with cli_errors(ctx):
        saved = runs.load_run(run_dir)
        scaler, target_scaler = saved.scalers()
        X, _ = data.read_features(data_path, saved.extra["feature_names"])
        X = saved.model.check_X(scaler.transform(X))
    model = saved.model
    if model.is_classifier:
        classes = saved.extra["classes"]
        proba = model.predict_proba(X)
        rows = [{"prediction": classes[int(p.argmax())],
                 **{f"p_{c}": f"{v:.6g}" for c, v in zip(classes, p)}} for p in proba]
        columns = ["prediction", *[f"p_{c}" for c in classes]]
    else:
        values = model.predict(X)
        if target_scaler is not None:
            values = target_scaler.inverse_transform(values)
        rows = [{"prediction": f"{v:.8g}"} for v in values]
        columns = ["prediction"]
    with cli_errors(ctx):
        files.write_csv(out, columns, rows)
    click.echo(f"wrote {X.shape[0]} predictions to {out}")
