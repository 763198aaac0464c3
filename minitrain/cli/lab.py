"""Teaching commands: gradcheck, paths, explain, explain-backprop (the lab, minitrain/lab/)."""
from __future__ import annotations


import click

from minitrain.cli import cli
from minitrain.cli._options import (
    ACTIVATIONS, CONVENTIONS, LOSSES, OPTIMIZERS, SCHEDULES, FiniteFloat, RegistryChoice,
    _check_optimizer_flags, _entries, _hidden, _lr_for_entries, _lr_map,
    _need_matplotlib, _optimizer_list, build_schedule, cli_errors, optimizer_options,
    schedule_options, schedule_params)


@cli.command("gradcheck")
@click.option("--dataset", "-d", default="iris", show_default=True, metavar="NAME",
              help="Built-in dataset to draw the batch from (see `minitrain datasets`).")
@click.option("--hidden", callback=_hidden, default="8,8", show_default=True,
              help="Hidden layer sizes, comma-separated.")
@click.option("--activation", type=ACTIVATIONS, default="tanh",
              show_default=True)
@click.option("--loss", type=LOSSES,
              help="Default: softmax_crossentropy for classes, mse for regression.")
@click.option("--samples", type=click.IntRange(min=1), default=16, show_default=True,
              help="Batch size of the check.")
@click.option("--eps", type=FiniteFloat(min=0, min_open=True), default=1e-6,
              show_default=True, help="Finite-difference step.")
@click.option("--tol", type=FiniteFloat(min=0, min_open=True), default=1e-6,
              show_default=True, help="Largest relative error that passes.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.pass_context
def gradcheck_command(ctx, dataset, hidden, activation, loss, samples, eps, tol, seed):
    """Check backprop against central finite differences, layer by layer.

    For every parameter the numerical derivative (L(p+eps) - L(p-eps)) / (2 eps) is
    computed in float64 and compared with the gradient backprop wrote into the flat
    grads array. The relative error of a block is max |backprop - numeric| divided by
    the largest gradient in that block. Exit code 1 when any block exceeds --tol.
    The model and the data come from the run builder, as for `minitrain fit`. To
    follow one backward pass number by number, see `minitrain explain-backprop`.

    \b
    Example:
      minitrain gradcheck --dataset iris --hidden 8,8 --activation tanh
    """
    import numpy as np

    from minitrain.experiments.runs import build_run, resolve
    from minitrain.lab import format_table, gradcheck
    with cli_errors(ctx):
        run = build_run(resolve({"dataset": dataset, "hidden": hidden,
                                 "activation": activation, "loss": loss,
                                 "dtype": "float64", "seed": seed}))
        X, y = run.data.arrays("train")
        idx = np.random.default_rng(seed).choice(len(X), size=min(samples, len(X)),
                                                 replace=False)
        rows = gradcheck(run.model, X[idx], y[idx], eps=eps)
    worst = max(r.rel_error for r in rows)
    click.echo(f"{run.model} on {len(idx)} samples of {dataset}, eps={eps:g}\n")
    click.echo(format_table(rows, tol))
    verdict = "PASS" if worst <= tol else "FAIL"
    click.echo(f"\n{verdict}: largest relative error {worst:.2e} (tolerance {tol:g})")
    if worst > tol:
        raise SystemExit(1)


# `minitrain paths`: optimizers on 2-D test functions (minitrain/lab/trajectories.py),
# table and plot; `minitrain explain OPTIMIZER`: the update rule, then a few real
# updates as numbers (minitrain/lab/explanation.py).
FUNCTIONS = RegistryChoice("minitrain.lab:names")


def _point(ctx, param, value):
    if value is None:
        return None
    try:
        xy = tuple(float(v) for v in str(value).split(","))
    except ValueError:
        xy = ()
    if len(xy) != 2 or not all(abs(v) < float("inf") for v in xy):
        raise click.BadParameter(f"must be two numbers X,Y like -4,1.5, got {value!r}")
    return xy


class _PathsCommand(click.Command):
    """``paths --help`` ends with the test functions, read from the lab's registry."""

    def format_epilog(self, ctx, formatter):
        from minitrain import lab
        with formatter.section("Functions (--function)"):
            rows = []
            for name in lab.names():
                fn = lab.function(name)
                rows.append((name, f"{fn.description}; start ({fn.start[0]:g}, "
                                   f"{fn.start[1]:g}), {fn.steps} steps"))
            formatter.write_dl(rows)
        super().format_epilog(ctx, formatter)


@cli.command("paths", cls=_PathsCommand)
@click.option("--function", "-f", "function_name", type=FUNCTIONS,
              default="bowl", show_default=True, help="The 2-D test function.")
@click.option("--optimizers", "-o", callback=_optimizer_list, default=None,
              show_default=True, help="Comma-separated optimizer names, each optionally "
              "NAME@keras or NAME@torch.")
@click.option("--convention", type=CONVENTIONS, default=None,
              help="Update rules and defaults of the optimizers named without @CONVENTION: "
                   "PyTorch's or Keras 3's.  [default: each optimizer's own: torch, except "
                   "Keras-only ones such as lion]")
@click.option("--steps", type=click.IntRange(min=1),
              help="Updates per optimizer.  [default: the function's, listed below]")
@click.option("--lr", callback=_lr_map, metavar="NAME=VALUE,...",
              help="Learning rates, e.g. adam=0.1,sgd=0.01; a bare 0.05 sets all the others. "
                   "[default: per function and optimizer, shown in the table]")
@click.option("--start", callback=_point, metavar="X,Y",
              help="Starting point, e.g. --start -4,1.5.  [default: the function's]")
@click.option("--condition", type=FiniteFloat(min=0, min_open=True),
              help="bowl: condition number, f = (x^2 + condition*y^2)/2.  [default: 10]")
@click.option("--tol", type=FiniteFloat(min=0, min_open=True), default=1e-3,
              show_default=True, help="Distance to a minimum that counts as reached.")
@click.option("--schedule", "-s", type=SCHEDULES,
              help="A learning-rate schedule per optimizer, peaking at (or starting from) its "
                   "lr; schedule options below.")
@schedule_options
@click.option("--plot", type=click.Path(dir_okay=False),
              help="Draw contours + paths and value-vs-step into this PNG (needs matplotlib).")
@click.option("--gif", type=click.Path(dir_okay=False),
              help="Animate the paths into this GIF (needs matplotlib and Pillow).")
@click.pass_context
def paths_command(ctx, function_name, optimizers, convention, steps, lr, start, condition,
                  tol, schedule, plot, gif, **options):
    """Race optimizers on a 2-D test function: table of steps to the minimum, and a plot.

    The paths come from the same optimizer objects and Numba kernels that train the
    networks, stepping a 2-element parameter array with the function's analytic gradient.

    What to look for on the default bowl: SGD creeps along the valley; momentum
    overshoots the minimum; Nesterov brakes earlier and arrives sooner; AdaGrad's
    steps shrink until it stalls; RMSProp and Adam move every coordinate by about
    the lr at first (diagonally, not down the gradient), then RMSProp settles onto
    the valley floor while Adam swings across it with shrinking swings.

    \b
    Examples:
      minitrain paths --function bowl --plot paths.png
      minitrain paths -o sgd,momentum,nesterov --lr 0.02 --condition 50
      minitrain paths -f rosenbrock -o adam,nadam --lr adam=0.05 --schedule onecycle
      minitrain paths -f saddle --start=-2,0.01 --gif saddle.gif
      minitrain paths -o momentum,momentum@keras --schedule cosine
    """
    from minitrain import lab

    given = {k: v for k, v in options.items() if v is not None}
    if schedule is None and given:
        schedule_params(None, given, ctx)                 # usage error: needs --schedule
    if condition is not None and function_name != "bowl":
        raise click.UsageError(f"--condition applies to --function bowl only, not "
                               f"{function_name}", ctx)
    if optimizers is None:
        optimizers = list(lab.default_optimizers())
    found = _entries(ctx, optimizers, convention)
    if lr is not None:
        lr = _lr_for_entries(ctx, lr, found)
    fn = lab.function(function_name, **({} if condition is None else
                                        {"condition": condition}))
    n_steps = steps or fn.steps
    params = None
    if schedule is not None:
        first = (lr or {}).get(found[0][0], fn.default_lr(found[0][1]))
        build_schedule(schedule, options, lr=first, total_steps=n_steps)   # usage errors now
        params = schedule_params(schedule, given, ctx)
    with cli_errors(ctx):
        result = lab.paths(fn, optimizers, steps=n_steps, lr=lr, start=start,
                           schedule=schedule, schedule_params=params, tol=tol,
                           convention=convention)
    click.echo(result.table())
    for path, draw in ((plot, result.plot), (gif, result.gif)):
        if path and _need_matplotlib(f"--{'plot' if path == plot else 'gif'}"):
            try:
                draw(path)
            except OSError as e:
                raise click.ClickException(f"cannot write {path}: {e.strerror or e}")
            click.echo(f"wrote {path}")


@cli.command("explain")
@click.argument("optimizer", type=OPTIMIZERS)
@click.option("--lr", type=FiniteFloat(min=0), help="Learning rate [the optimizer's].")
@optimizer_options
@click.option("--steps", type=click.IntRange(1, 100), default=3, show_default=True,
              help="Updates to show.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Chooses the curvatures a and the start p0 of the example.")
@click.option("--digits", type=click.IntRange(4, 17), default=8, show_default=True,
              help="Significant digits per number.")
@click.option("--convention", type=CONVENTIONS, default=None,
              help="Explain PyTorch's update rule or Keras 3's (its equations, defaults "
              "and numbers).  [default: the optimizer's own: torch, except Keras-only "
              "ones]")
@click.pass_context
def explain_command(ctx, optimizer, steps, seed, digits, convention, **hp):
    """Print OPTIMIZER's update rule, then a few real updates worked out as numbers.

    The example minimises f(p) = 0.5 * sum(a * p**2) over three parameters (gradient
    g = a * p). Every number comes from the real kernel: p, g, every state buffer after
    the step, the step's scalars (bias corrections, step sizes), the step p_new - p, the
    effective per-parameter lr and p_new, so the arithmetic can be redone by hand.

    \b
    Examples:
      minitrain explain adam --lr 0.1
      minitrain explain nesterov --lr 0.1 --momentum 0.9 --steps 2
      minitrain explain adamw --weight-decay 0.1 --amsgrad
      minitrain explain adam --convention keras --lr 0.1
    """
    from minitrain import lab

    given = {k: v for k, v in hp.items() if v is not None}
    _check_optimizer_flags(ctx, optimizer, [k for k in given if k != "lr"])
    try:
        result = lab.explain(optimizer, steps=steps, seed=seed, convention=convention,
                             **given)
    except (TypeError, ValueError) as e:
        raise click.UsageError(str(e), ctx) from None
    click.echo(result.text(digits=digits))


# `minitrain explain-backprop`: one forward and backward pass of a tiny MLP in numbers
# (minitrain/lab/backprop.py); choices come from that module's activation/loss tables.
def _sizes(ctx, param, value):
    if value is None:
        return None
    try:
        sizes = [int(v) for v in str(value).split(",")]
    except ValueError:
        sizes = []
    if len(sizes) < 2:
        raise click.BadParameter(f"must be at least two comma-separated layer sizes like "
                                 f"2,3,2, got {value!r}")
    return sizes


@cli.command("explain-backprop")
@click.option("--sizes", callback=_sizes, metavar="N,...,N",
              help="Layer sizes from input to output, each 1..6.  [default: 2,3,2; 2,3,1 "
                   "with --loss binary_crossentropy]")
@click.option("--activation", "-a", type=RegistryChoice("minitrain.lab.backprop:ACTIVATIONS"),
              default="tanh", show_default=True, help="Activation of the hidden layers.")
@click.option("--loss", "-l", type=RegistryChoice("minitrain.lab.backprop:LOSSES"),
              default="softmax_crossentropy", show_default=True)
@click.option("--samples", "-n", type=click.IntRange(1, 8), default=1, show_default=True,
              help="Batch size: 1 shows one sample; more shows how the batch sums up.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Draws the weights, X and y.")
@click.option("--digits", type=click.IntRange(3, 6), default=5, show_default=True,
              help="Significant digits of the computed numbers.")
@click.option("--eps", type=FiniteFloat(0, 1e-2, min_open=True), default=1e-6,
              show_default=True, help="Step of the finite-difference check.")
def explain_backprop_command(sizes, activation, loss, samples, seed, digits, eps):
    """Walk through one forward and backward pass of a tiny MLP, every number shown.

    For each layer: the chain-rule equation and the numbers Z, A (forward), then
    delta = dloss/dZ, dW, db and the delta handed down (backward). The inputs are
    rounded (X to 1 decimal, weights and biases to 2) so every step can be redone by hand.
    Two checks end it: the MLP's own compiled backprop (MLP.loss_and_grad) gives the
    same dW and db, and central finite differences agree for the largest entries.

    \b
    Equations (A_0 = X; the output layer is linear):
      Z_l      = A_(l-1) W_l + b_l        A_l = f(Z_l)
      delta_L  = dloss/dZ_L              e.g. (softmax(Z_L) - onehot(y)) / n
      dW_l     = A_(l-1)^T delta_l       db_l = delta_l summed over samples
      delta_(l-1) = (delta_l W_l^T) * f'(Z_(l-1))

    \b
    Examples:
      minitrain explain-backprop
      minitrain explain-backprop --activation relu --samples 3
      minitrain explain-backprop --sizes 3,4,1 --loss binary_crossentropy
      minitrain explain-backprop --sizes 2,2,2,1 --loss mse --activation sigmoid
    """
    from minitrain import lab

    if sizes is None:
        sizes = [2, 3, 1 if loss == "binary_crossentropy" else 2]
    try:
        result = lab.explain_backprop(sizes, activation=activation, loss=loss,
                                      samples=samples, seed=seed, digits=digits, eps=eps)
    except (TypeError, ValueError) as e:
        raise click.UsageError(str(e)) from None
    click.echo(result.text())
