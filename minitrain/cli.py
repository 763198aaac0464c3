"""The ``minitrain`` command line.

Each command only parses options, builds objects from the library and prints; the
work lives in importable modules. Heavy imports (NumPy, Numba, scikit-learn) happen
inside the commands so that ``minitrain --help`` is instant.

Errors: a bad option value exits 2 with Click's usage message; bad data or files
exit 1 with one line ``Error: ...``; never a traceback.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

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


# ---- schedules (owner: schedules) -------------------------------------------------------
# schedule_options(f): every schedule parameter as an option (default None = "not given");
# build_schedule(name, options, lr=, total_steps=): the schedule object, or a usage error;
# commands `minitrain schedule NAME ...` (preview) and `minitrain schedules` (list).
# Parameter "lr" comes from the command's own --lr; plateau's eps and base are
# library-only. Option destinations are the snake_case of the option names, so the
# trainer's own --patience (early stopping) never collides with --plateau-patience.


class _CommaList(click.ParamType):
    """``100,200`` -> [100, 200] (ints) or ``0.1,0.01`` -> [0.1, 0.01] (floats)."""

    def __init__(self, kind):
        self.kind = kind
        self.name = f"{kind.__name__},..."

    def convert(self, value, param, ctx):
        if isinstance(value, (list, tuple)):
            return list(value)
        try:
            return [self.kind(v) for v in str(value).split(",") if v.strip()]
        except ValueError:
            self.fail(f"expected comma-separated {self.kind.__name__}s like "
                      f"{'100,200' if self.kind is int else '0.1,0.01'}, got {value!r}",
                      param, ctx)


# (library parameter, option declaration, click keyword arguments); the help names the
# schedules that use the option. tests/test_cli_schedule.py checks this table against
# minitrain.schedules.parameters(), so it cannot drift.
SCHEDULE_OPTIONS = (
    ("max_lr", "--max-lr", dict(type=float, help="onecycle: peak lr [default: --lr]")),
    ("total_steps", "--total-steps",
     dict(type=int, help="onecycle, cosine: schedule length in steps [default: the run's]")),
    ("pct_start", "--pct-start",
     dict(type=float, help="onecycle: fraction of steps going up [0.3]")),
    ("anneal", "--anneal", dict(type=click.Choice(["cos", "linear"]), help="onecycle [cos]")),
    ("div_factor", "--div-factor",
     dict(type=float, help="onecycle: start lr = max_lr/div_factor [25]")),
    ("final_div_factor", "--final-div-factor",
     dict(type=float, help="onecycle: final lr = start lr/final_div_factor [1e4]")),
    ("three_phase", "--three-phase/--two-phase",
     dict(default=None, help="onecycle: paper's 3 phases or fastai's 2 [--two-phase]")),
    ("cycle_momentum", "--cycle-momentum/--no-cycle-momentum",
     dict(default=None, help="onecycle: cycle momentum/beta1 inversely to lr [on]")),
    ("base_momentum", "--base-momentum",
     dict(type=float, help="onecycle: momentum at peak lr [0.85]")),
    ("max_momentum", "--max-momentum",
     dict(type=float, help="onecycle: momentum at the ends [0.95]")),
    ("steps", "--decay-steps", dict(type=float, help="power, exponential: time scale in steps")),
    ("power", "--power", dict(type=float, help="power: exponent [1]")),
    ("rate", "--rate", dict(type=float, help="exponential: factor per --decay-steps [0.1]")),
    ("staircase", "--staircase", dict(is_flag=True, default=None,
                                      help="exponential: whole factors only (step decay)")),
    ("boundaries", "--boundaries", dict(type=_CommaList(int), help="piecewise: e.g. 100,200")),
    ("values", "--values", dict(type=_CommaList(float), help="piecewise: e.g. 0.1,0.01,0.001")),
    ("boundary_inclusive", "--boundary-inclusive/--boundary-exclusive",
     dict(default=None, help="piecewise: switch at boundary+1, as Keras [exclusive]")),
    ("factor", "--factor", dict(type=float, help="plateau: lr multiplier per plateau [0.1]")),
    ("patience", "--plateau-patience",
     dict(type=int, help="plateau: bad epochs tolerated before a cut [10]")),
    ("mode", "--plateau-mode", dict(type=click.Choice(["min", "max"]),
                                    help="plateau: metric should go down or up [min]")),
    ("threshold", "--threshold", dict(type=float, help="plateau: least improvement [1e-4]")),
    ("threshold_mode", "--threshold-mode", dict(type=click.Choice(["rel", "abs"]),
                                                help="plateau [rel]")),
    ("cooldown", "--cooldown", dict(type=int, help="plateau: epochs ignored after a cut [0]")),
    ("min_lr", "--min-lr", dict(type=float, help="plateau, cosine: lower bound [0]")),
    ("warmup_steps", "--warmup-steps", dict(type=int, help="cosine: linear warm-up steps [0]")),
    ("periodic", "--periodic/--clamped",
     dict(default=None, help="cosine: past the end rise again (torch) or hold min_lr "
                             "(Keras) [--clamped]")),
)


def _dest(decl):
    return decl.split("/")[0].lstrip("-").replace("-", "_")


# option destination (the keyword the command receives) -> library parameter, and back
SCHEDULE_DEST = {_dest(decl): param for param, decl, _ in SCHEDULE_OPTIONS}
_SCHEDULE_FLAG = {param: decl.split("/")[0] for param, decl, _ in SCHEDULE_OPTIONS}
_SCHEDULE_FLAG["lr"] = "--lr"


def schedule_options(f):
    """Decorator: add every schedule parameter as an option, all defaulting to None.

    The command receives them as keyword arguments named after the options
    (``max_lr``, ``decay_steps``, ``plateau_patience``, ...); hand them to
    :func:`build_schedule` (``pop_schedule_options(kwargs)`` separates them).
    """
    for param, decl, kw in reversed(SCHEDULE_OPTIONS):
        kw = dict(kw)
        kw.setdefault("default", None)
        f = click.option(decl, _dest(decl), **kw)(f)
    return f


def pop_schedule_options(kwargs: dict) -> dict:
    """Remove the :func:`schedule_options` keywords from ``kwargs`` and return them."""
    return {dest: kwargs.pop(dest) for dest in SCHEDULE_DEST if dest in kwargs}


def build_schedule(name, options, *, lr=None, total_steps=None):
    """The schedule ``name`` built from command-line ``options``; usage errors otherwise.

    ``options`` maps :func:`schedule_options` destinations to values (None = not given;
    other keys are ignored). ``lr`` fills the schedule's ``lr`` (and onecycle's
    ``max_lr`` when --max-lr is absent); ``total_steps`` is the default of
    --total-steps. Raises ``click.UsageError`` for an option the schedule does not use
    or a missing required one, ``click.BadParameter`` for an invalid value.
    """
    from minitrain import schedules

    if name not in schedules.names():
        raise click.BadParameter(f"unknown schedule {name!r}; valid: "
                                 f"{', '.join(schedules.names())}", param_hint="schedule")
    accepted = schedules.parameters(name)
    kw = {}
    for dest, param in SCHEDULE_DEST.items():
        value = options.get(dest)
        if value is None:
            continue
        if param not in accepted:
            valid = " ".join(_SCHEDULE_FLAG[p] for p in accepted if p in _SCHEDULE_FLAG)
            raise click.UsageError(f"{_SCHEDULE_FLAG[param]} is not an option of schedule "
                                   f"{name!r} (its options: {valid})")
        if param == "steps" and isinstance(value, float) and value.is_integer():
            value = int(value)                       # --decay-steps 100 -> steps=100
        kw[param] = value
    if "lr" in accepted and lr is not None:
        kw["lr"] = lr
    if "max_lr" in accepted and "max_lr" not in kw and lr is not None:
        kw["max_lr"] = lr
    if "total_steps" in accepted and "total_steps" not in kw and total_steps is not None:
        kw["total_steps"] = total_steps
    needed = [p for p, d in accepted.items() if d is schedules.REQUIRED and p not in kw]
    if name == "plateau" and "lr" not in kw:
        needed.append("lr")
    if needed:
        flags = ", ".join(_SCHEDULE_FLAG.get(p, p) for p in needed)
        raise click.UsageError(f"schedule {name!r} needs {flags}")
    try:
        return schedules.get(name, **kw)
    except (TypeError, ValueError) as e:
        message = str(e)
        hint = next((_SCHEDULE_FLAG[p] for p in kw
                     if message.startswith((f"{name}: {p} ", f"{name}: {p}["))), None)
        raise click.BadParameter(message, param_hint=hint) from None


def _nice_stride(n, rows=10):
    """The smallest of 1, 2, 5, 10, 20, 50, ... giving at most ``rows`` steps in ``n``."""
    stride = 1
    while n / stride > rows:
        for m in (2, 2.5, 2):
            stride = int(stride * m)
            if n / stride <= rows:
                break
    return stride


def _sparkline(values, encoding=None):
    """One line of block characters (ASCII ramp when the terminal can't show blocks)."""
    ramp = "▁▂▃▄▅▆▇█"
    try:
        ramp.encode(encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):
        ramp = "_.-~=+*#"
    lo, hi = min(values), max(values)
    if not hi > lo:
        return ramp[len(ramp) // 2] * len(values)
    top = len(ramp) - 1
    return "".join(ramp[round((v - lo) / (hi - lo) * top)] for v in values)


@cli.command("schedule")
@click.argument("name")
@click.option("--lr", type=float, default=None,
              help="The schedule's lr (onecycle: --max-lr default).")
@click.option("--steps", "n_steps", type=click.IntRange(min=1), default=None,
              help="Steps to preview [default: --total-steps, else 100].")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Also draw lr and momentum against step into this PNG (needs matplotlib).")
@schedule_options
def schedule_command(name, lr, n_steps, plot, **options):
    """Preview schedule NAME: lr (and momentum) at a few steps, and a sparkline.

    \b
    Examples:
      minitrain schedule onecycle --max-lr 0.01 --steps 1000
      minitrain schedule onecycle --max-lr 0.1 --anneal linear --three-phase --pct-start 0.45
      minitrain schedule piecewise --boundaries 100,200 --values 0.1,0.01,0.001 --steps 300
      minitrain schedule cosine --lr 0.1 --warmup-steps 50 --steps 1000 --plot cosine.png
    """
    n = n_steps or options.get("total_steps") or 100
    sched = build_schedule(name, options, lr=lr, total_steps=n)
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
    encoding = getattr(click.get_text_stream("stdout"), "encoding", None)
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
        fig.savefig(path, dpi=100)
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
                continue          # library-only (plateau's eps, base)
            if default is schedules.REQUIRED or (name, p) == ("plateau", "lr"):
                opts.append(f"{_SCHEDULE_FLAG[p]} (required)")
            elif isinstance(default, bool):
                opts.append(f"{_SCHEDULE_FLAG[p]} [{'on' if default else 'off'}]")
            else:
                opts.append(f"{_SCHEDULE_FLAG[p]} {default}")
        click.echo(" " * (width + 2) + "  ".join(opts))
    click.echo("\nonecycle: --max-lr defaults to --lr and --total-steps to the run's steps.")
    click.echo("plateau: cuts lr by --factor when the validation loss stalls (once per epoch).")

# ---- end schedules ----------------------------------------------------------------------


# ---- fit, evaluate, predict (owner: trainer) ---------------------------------------------
OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamax",
                   "nadam", "adamw")
ACTIVATION_NAMES = ("relu", "leaky_relu", "elu", "selu", "tanh", "sigmoid", "gelu", "identity")
LOSS_NAMES = ("softmax_crossentropy", "binary_crossentropy", "mse")
SCHEDULE_NAMES = ("constant", "power", "exponential", "piecewise", "plateau", "onecycle",
                  "cosine")
# optimizer hyperparameter options of `fit`; one the chosen optimizer lacks is a usage error
OPTIMIZER_FLAGS = ("momentum", "beta1", "beta2", "eps", "rho", "weight_decay", "amsgrad",
                   "centered", "momentum_decay", "initial_accumulator",
                   "decoupled_weight_decay")
RUN_KEYS = ("dataset", "data", "target", "task", "n_samples", "noise", "n_features",
            "n_classes", "hidden", "activation", "loss", "dtype", "optimizer", "lr", "schedule",
            "epochs", "batch_size", "val_split", "test_split", "seed", "early_stopping",
            "patience", "min_delta", "on_diverge", "convention",
            *OPTIMIZER_FLAGS)


@contextlib.contextmanager
def _interruptible(note):
    """Ctrl-C or SIGTERM: print ``note`` (where things stand) and exit 130, no traceback."""
    import signal

    from minitrain.train import Interrupted

    def terminate(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:                        # not the main thread (e.g. inside a test)
        previous = None
    try:
        yield
    except (KeyboardInterrupt, Interrupted):
        click.echo(f"\nInterrupted. {note}", err=True)
        raise SystemExit(130) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def optimizer_options(f):
    """Decorator: the optimizer hyperparameters other than --lr, all defaulting to None.

    A value the chosen optimizer does not take is a usage error
    (:func:`_check_optimizer_flags`).
    """
    options = [
        click.option("--momentum", type=click.FloatRange(0, 1, max_open=True),
                     help="SGD/RMSprop momentum."),
        click.option("--beta1", type=click.FloatRange(0, 1, max_open=True),
                     help="Adam family: first-moment decay."),
        click.option("--beta2", type=click.FloatRange(0, 1, max_open=True),
                     help="Adam family: second-moment decay."),
        click.option("--eps", type=click.FloatRange(min=0, min_open=True)),
        click.option("--rho", type=click.FloatRange(0, 1, max_open=True),
                     help="RMSprop's decay of the squared-gradient average (torch's alpha)."),
        click.option("--weight-decay", type=click.FloatRange(min=0)),
        click.option("--amsgrad/--no-amsgrad", default=None),
        click.option("--centered/--no-centered", default=None),
        click.option("--momentum-decay", type=click.FloatRange(min=0), help="Nadam's psi."),
        click.option("--initial-accumulator", type=click.FloatRange(min=0),
                     help="AdaGrad's starting sum."),
        click.option("--decoupled-weight-decay/--coupled-weight-decay", default=None),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _hidden(ctx, param, value):
    if value is None or isinstance(value, (list, tuple)):
        return value
    try:
        sizes = [int(v) for v in str(value).split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"must be comma-separated layer sizes like 64,64, got "
                                 f"{value!r}") from None
    if any(s < 1 for s in sizes):
        raise click.BadParameter(f"layer sizes must be >= 1, got {value!r}")
    return sizes


def _load_config(ctx, param, value):
    """--config FILE.toml: its keys become defaults; the command line wins."""
    if value is None:
        return None
    from minitrain.runs import RunError, read_toml
    try:
        table = read_toml(value)
    except RunError as e:
        raise click.ClickException(str(e)) from None
    names = {p.name for p in ctx.command.params}
    flat = {}
    for key, v in table.items():
        key = key.replace("-", "_")
        if key == "schedule_params" and isinstance(v, dict):
            for k, sv in v.items():
                flat[_schedule_param_to_option(k)] = sv
            continue
        flat[key] = v
    unknown = sorted(k for k in flat if k not in names or k in ("config", "resume"))
    if unknown:
        raise click.ClickException(f"{value}: unknown key(s) {', '.join(unknown)}")
    params = {p.name: p for p in ctx.command.params}
    for key, v in flat.items():
        if key == "hidden" and isinstance(v, list):
            v = flat[key] = ",".join(map(str, v))
        if isinstance(v, (dict, list)) and key not in ("boundaries", "values"):
            raise click.ClickException(f"{value}: {key} must be a single value, got {v!r}")
        try:
            converted = params[key].type_cast_value(ctx, v)
            if params[key].callback is not None:
                params[key].callback(ctx, params[key], converted)
        except click.BadParameter as e:
            raise click.ClickException(f"{value}: {key}: {e.message}") from None
    ctx.default_map = {**(ctx.default_map or {}), **flat}
    return value


def _schedule_param_to_option(name):
    return {param: dest for dest, param in SCHEDULE_DEST.items()}.get(name, name)


def schedule_params(name, given, ctx):
    """Schedule options given on the command line -> {library parameter: value}."""
    if not given:
        return {}
    if name is None:
        flags = ", ".join(_SCHEDULE_FLAG[SCHEDULE_DEST[d]] for d in given)
        raise click.UsageError(f"{flags} need(s) --schedule", ctx)
    from minitrain import schedules
    accepted = schedules.parameters(name)
    params = {}
    for dest, value in given.items():
        param = SCHEDULE_DEST[dest]
        if param not in accepted:
            valid = " ".join(_SCHEDULE_FLAG[p] for p in accepted if p in _SCHEDULE_FLAG)
            raise click.UsageError(f"{_SCHEDULE_FLAG[param]} is not an option of schedule "
                                   f"{name!r} (its options: {valid})", ctx)
        params[param] = value
    return params


def _check_optimizer_flags(ctx, optimizer, given):
    from minitrain import optim
    valid = set(optim.hyperparameters(optimizer))
    for key in given:
        if key not in valid:
            raise click.UsageError(f"--{key.replace('_', '-')} is not a hyperparameter of "
                                   f"{optimizer} (it takes: "
                                   f"{', '.join('--' + v.replace('_', '-') for v in sorted(valid))})",
                                   ctx)


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
@click.option("--noise", type=click.FloatRange(min=0), help="Noise (generated datasets).")
@click.option("--n-features", type=click.IntRange(min=1), help="Features (generated datasets).")
@click.option("--n-classes", type=click.IntRange(min=2), help="Classes (generated datasets).")
@click.option("--hidden", callback=_hidden,
              help="Hidden layer sizes, comma-separated.  [default: 64,64; 16 for diabetes]")
@click.option("--activation", type=click.Choice(ACTIVATION_NAMES), default="relu",
              show_default=True, help="Hidden-layer activation.")
@click.option("--loss", type=click.Choice(LOSS_NAMES),
              help="Default: softmax_crossentropy for classes, mse for regression.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32",
              show_default=True)
@click.option("--optimizer", "-o", type=click.Choice(OPTIMIZER_NAMES), default="nadam",
              show_default=True, help="The update rule (see `minitrain optimizers`).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True),
              help="Learning rate (default: a per-optimizer value that works here).")
@optimizer_options
@click.option("--convention", type=click.Choice(["torch", "keras"]), default="torch",
              show_default=True, help="Optimizer update rules and defaults: PyTorch's or "
                                      "Keras 3's.")
@click.option("--schedule", "-s", type=click.Choice(SCHEDULE_NAMES),
              help="Learning-rate schedule (see `minitrain schedules`); its options below.")
@schedule_options
@click.option("--epochs", "-e", type=click.IntRange(min=1),
              help="Total epochs (with --resume: the total to reach).  [default: 40; 100 for "
                   "iris, 60 for wine]")
@click.option("--batch-size", "-b", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--val-split", type=click.FloatRange(0, 1, max_open=True), default=0.2,
              show_default=True)
@click.option("--test-split", type=click.FloatRange(0, 1, max_open=True), default=0.2,
              show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seeds the data split, initial weights and shuffling.")
@click.option("--early-stopping/--no-early-stopping", default=False, show_default=True)
@click.option("--patience", type=click.IntRange(min=1), default=10, show_default=True,
              help="Early-stopping patience in epochs.")
@click.option("--min-delta", type=click.FloatRange(min=0), default=0.0, show_default=True)
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

    from minitrain import runs
    from minitrain.checkpoint import CheckpointError
    from minitrain.data import DataError
    from minitrain.train import Interrupted, TrainingDiverged

    user_errors = (runs.RunError, DataError, CheckpointError, OSError)

    source = click.core.ParameterSource
    given = {k for k in opts if ctx.get_parameter_source(k) not in
             (source.DEFAULT, None)}
    quiet, as_json, force = opts.pop("quiet"), opts.pop("as_json"), opts.pop("force")
    resume, out = opts.pop("resume"), opts.pop("out")
    schedule_given = pop_schedule_options(opts)
    try:
        if resume:
            allowed = {"epochs", "resume", "quiet", "as_json"}
            extra = sorted(given - allowed)
            if extra:
                raise click.UsageError("--resume continues a run with its saved options; "
                                       "only --epochs may change (got "
                                       f"{', '.join('--' + e.replace('_', '-') for e in extra)})",
                                       ctx)
            if not Path(resume).is_dir():
                raise runs.RunError(f"{resume}: no such run directory")
            cfg = runs.read_toml(f"{resume}/config.toml")
            if "epochs" in given:
                cfg["epochs"] = opts["epochs"]
            cfg = runs.resolve({k: v for k, v in cfg.items()})
            out = resume
        else:
            if opts["dataset"] is not None:
                from minitrain import data
                if opts["dataset"] not in data.names():
                    raise click.BadParameter(
                        f"unknown dataset {opts['dataset']!r}; valid: "
                        f"{', '.join(data.names())} (or a CSV file with --data)",
                        ctx, param_hint="'--dataset'")
            _check_optimizer_flags(ctx, opts["optimizer"],
                                   [k for k in OPTIMIZER_FLAGS if opts[k] is not None])
            cfg = {k: opts[k] for k in RUN_KEYS}
            cfg["schedule_params"] = schedule_params(
                opts["schedule"], {k: v for k, v in schedule_given.items() if v is not None},
                ctx)
            cfg = runs.resolve(cfg)
            out = out or runs.default_run_dir(cfg)
        summary = runs.fit_run(cfg, out, resume=bool(resume), force=force,
                               progress=not quiet)
    except user_errors as e:
        raise click.ClickException(str(e)) from None
    except TrainingDiverged as e:
        kept = (f"The last good checkpoint is kept at {out}/model.npz." if e.epoch > 1
                else "No epoch finished, so no checkpoint was written.")
        raise click.ClickException(
            f"training diverged at epoch {e.epoch}, step {e.step} (loss={e.loss}). {kept} "
            f"Try a lower --lr (now {e.lr:g}) or standardise the inputs.") from None
    except ValueError as e:           # a bad option value found by the library
        raise click.UsageError(str(e), ctx) from None
    except Interrupted as e:
        click.echo(f"\nInterrupted at epoch {e.epoch}, step {e.step}. State saved in "
                   f"{out}/model.npz; continue with: minitrain fit --resume {out}", err=True)
        ctx.exit(130)
    if not quiet:
        metric = "accuracy" if summary["train"] and "accuracy" in summary["train"] else "r2"
        click.echo(_summary_table(summary, metric))
    if as_json:
        keys = ("train", "val", "test", "epochs", "steps", "seconds", "params_sha256")
        click.echo(_json.dumps({k: summary[k] for k in keys}))

# ---- end fit ----------------------------------------------------------------------------


# ---- evaluate, predict, optimizers, gradcheck (owner: trainer) ---------------------------
def _run_errors():
    from minitrain.checkpoint import CheckpointError
    from minitrain.data import DataError
    from minitrain.runs import RunError
    return RunError, DataError, CheckpointError, OSError


def _run_data(extra, data_path, target):
    """Dataset parts to score: the run's own split, or a CSV file given by the user."""
    from minitrain import data, runs
    cfg = extra["config"]
    if data_path is None:
        train, val, test, *_ = runs.load_data(cfg)
        return {"train": train, "val": val, "test": test}
    ds = data.load_csv(data_path, target if target is not None else cfg.get("target"),
                       task=extra["task"])
    if ds.feature_names != extra["feature_names"]:
        raise data.DataError(f"{data_path}: columns {ds.feature_names} differ from the run's "
                             f"features {extra['feature_names']}")
    return {Path(data_path).name: _encode_like_run(ds, extra)}


def _encode_like_run(ds, extra):
    """Map the CSV's class labels onto the run's class indices."""
    from minitrain import data
    if extra["task"] != "classification":
        return ds
    index = {str(c): i for i, c in enumerate(extra["classes"])}
    labels = [str(ds.classes[k]) for k in ds.y]
    unknown = sorted({lab for lab in labels if lab not in index})
    if unknown:
        raise data.DataError(f"labels {unknown} were not seen in training "
                             f"(classes: {extra['classes']})")
    return data.Dataset(ds.X, [index[lab] for lab in labels], ds.task, ds.name,
                        ds.feature_names, list(extra["classes"]))


def _scalers(extra):
    from minitrain import data
    scaler = data.Scaler.from_dict(extra["scaler"])
    target = extra.get("target_scaler")
    return scaler, data.TargetScaler.from_dict(target) if target else None


@cli.command("evaluate")
@click.option("--run", "run_dir", required=True, type=click.Path(file_okay=False),
              help="A run directory written by `minitrain fit`.")
@click.option("--data", "data_path", type=click.Path(dir_okay=False),
              help="Score this CSV instead of the run's own train/val/test split.")
@click.option("--target", help="Target column of --data (default: the run's).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def evaluate_command(run_dir, data_path, target, as_json):
    """Loss and accuracy (or R^2) of a saved run's model.

    \b
    Examples:
      minitrain evaluate --run runs/digits-nadam-20261129-101500
      minitrain evaluate --run runs/penguins --data new_penguins.csv
    """
    import json as _json

    from minitrain import runs
    try:
        model, extra = runs.load_run(run_dir)
        scaler, target_scaler = _scalers(extra)
        parts = _run_data(extra, data_path, target)
        result = {name: runs.metrics(model, part, scaler, target_scaler)
                  for name, part in parts.items() if part is not None}
    except _run_errors() as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        click.echo(_json.dumps(result))
        return
    metric = "accuracy" if model.is_classifier else "r2"
    click.echo(f"{'':12}{'loss':>10}  {metric:>9}")
    for name, m in result.items():
        click.echo(f"{name:12}{m['loss']:>10.4f}  {m[metric]:>9.4f}")


@cli.command("predict")
@click.option("--run", "run_dir", required=True, type=click.Path(file_okay=False),
              help="A run directory written by `minitrain fit`.")
@click.option("--data", "data_path", required=True, type=click.Path(dir_okay=False),
              help="CSV with the run's feature columns (a target column is ignored).")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Where to write the predictions (CSV).")
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
def predict_command(run_dir, data_path, out, force):
    """Write predictions (and class probabilities) for a CSV file.

    \b
    Example:
      minitrain predict --run runs/penguins --data data/penguins_like.csv --out preds.csv
    """
    import csv
    import os

    from minitrain import data, runs
    if os.path.exists(out) and not force:
        raise click.ClickException(f"{out} exists; add --force to overwrite it")
    try:
        model, extra = runs.load_run(run_dir)
        scaler, target_scaler = _scalers(extra)
        X, names = data.read_features(data_path, extra["feature_names"])
        X = model.check_X(scaler.transform(X))
    except _run_errors() as e:
        raise click.ClickException(str(e)) from None
    except ValueError as e:
        raise click.ClickException(f"{data_path}: {e}") from None
    tmp = f"{out}.tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        if model.is_classifier:
            classes = extra["classes"]
            proba = model.predict_proba(X)
            writer.writerow(["prediction", *[f"p_{c}" for c in classes]])
            for row in proba:
                writer.writerow([classes[int(row.argmax())], *[f"{p:.6g}" for p in row]])
        else:
            values = model.predict(X)
            if target_scaler is not None:
                values = target_scaler.inverse_transform(values)
            writer.writerow(["prediction"])
            writer.writerows([[f"{v:.8g}"] for v in values])
    os.replace(tmp, out)
    click.echo(f"wrote {X.shape[0]} predictions to {out}")


@cli.command("optimizers")
def optimizers_command():
    """List the optimizers: name, PyTorch defaults, this trainer's default lr.

    \b
    Use one with:   minitrain fit --dataset digits --optimizer adam --lr 3e-3
    See one update worked out by hand:   minitrain explain adam
    """
    from minitrain import optim
    from minitrain.runs import DEFAULT_LR
    for name in optim.names():
        defaults = ", ".join(f"{k}={v!r}" for k, v in optim.defaults(name).items())
        description = optim.describe(name).split(": ", 1)[-1]      # without "name: "
        click.echo(f"{name:9}  {description}")
        click.echo(f"{'':9}  defaults: {defaults}; fit's default lr: {DEFAULT_LR[name]:g}")


@cli.command("gradcheck")
@click.option("--dataset", "-d", default="iris", show_default=True, metavar="NAME",
              help="Built-in dataset to draw the batch from.")
@click.option("--hidden", callback=_hidden, default="8,8", show_default=True,
              help="Hidden layer sizes, comma-separated.")
@click.option("--activation", type=click.Choice(ACTIVATION_NAMES), default="tanh",
              show_default=True)
@click.option("--loss", type=click.Choice(LOSS_NAMES),
              help="Default: softmax_crossentropy for classes, mse for regression.")
@click.option("--samples", type=click.IntRange(min=1), default=16, show_default=True,
              help="Batch size of the check.")
@click.option("--eps", type=click.FloatRange(min=0, min_open=True), default=1e-6,
              show_default=True, help="Finite-difference step.")
@click.option("--tol", type=click.FloatRange(min=0, min_open=True), default=1e-6,
              show_default=True, help="Largest relative error that passes.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
def gradcheck_command(dataset, hidden, activation, loss, samples, eps, tol, seed):
    """Check backprop against central finite differences, layer by layer.

    For every parameter the numerical derivative (L(p+eps) - L(p-eps)) / (2 eps) is
    computed in float64 and compared with the gradient backprop wrote into the flat
    grads array. The relative error of a block is max |backprop - numeric| divided by
    the largest gradient in that block. Exit code 1 when any block exceeds --tol.

    \b
    Example:
      minitrain gradcheck --dataset iris --hidden 8,8 --activation tanh
    """
    import numpy as np

    import minitrain as mt
    from minitrain import data
    from minitrain.gradient_check import format_table, gradcheck
    try:
        ds = data.load(dataset, seed=seed)
    except data.DataError as e:
        raise click.BadParameter(str(e), param_hint="--dataset") from None
    loss = loss or ("softmax_crossentropy" if ds.task == "classification" else "mse")
    if loss != "mse" and ds.task == "regression":
        raise click.UsageError(f"--loss {loss} needs class labels; {dataset} is regression")
    if loss == "binary_crossentropy" and ds.n_classes != 2:
        raise click.UsageError(f"--loss binary_crossentropy needs 2 classes; {dataset} has "
                               f"{ds.n_classes}")
    if loss == "mse" and ds.task == "classification":
        raise click.UsageError(f"--loss mse needs a regression target; {dataset} has classes")
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(ds), size=min(samples, len(ds)), replace=False)
    X = data.Scaler.fit(ds.X).transform(ds.X)[idx]
    y = ds.y[idx]
    if loss == "mse":
        y = data.TargetScaler.fit(ds.y).transform(y)
    n_out = {"softmax_crossentropy": ds.n_classes, "binary_crossentropy": 1, "mse": 1}[loss]
    model = mt.MLP([ds.n_features, *hidden, n_out], activation=activation, loss=loss,
                   dtype="float64", seed=seed)
    rows = gradcheck(model, X, y, eps=eps)
    worst = max(r.rel_error for r in rows)
    click.echo(f"{model} on {len(idx)} samples of {dataset}, eps={eps:g}\n")
    click.echo(format_table(rows, tol))
    verdict = "PASS" if worst <= tol else "FAIL"
    click.echo(f"\n{verdict}: largest relative error {worst:.2e} (tolerance {tol:g})")
    if worst > tol:
        raise SystemExit(1)

# ---- end evaluate, predict, optimizers, gradcheck ----------------------------------------


# ---- paths, explain (owner: lab) ----------------------------------------------------------
# `minitrain paths`: optimizers on 2-D test functions (minitrain/lab.py), table and plot;
# `minitrain explain OPTIMIZER`: the update rule, then a few real updates as numbers.
# FUNCTION_NAMES mirrors minitrain.lab.names() (tests/test_lab.py checks it) so that this
# module stays import-light.
FUNCTION_NAMES = ("bowl", "rosenbrock", "beale", "himmelblau", "saddle", "rastrigin")
PATHS_OPTIMIZERS = "sgd,momentum,nesterov,adagrad,rmsprop,adam"


CONVENTION_NAMES = ("torch", "keras")      # minitrain.optim.CONVENTIONS


def _optimizer_list(ctx, param, value):
    """``adam,adam@keras`` -> the specs; a name's convention is resolved by
    :func:`_entries` once ``--convention`` is known."""
    names = [v.strip() for v in str(value).split(",") if v.strip()]
    if not names:
        raise click.BadParameter(f"must name at least one optimizer, got {value!r}")
    for spec in names:
        name, at, convention = spec.partition("@")
        if name.strip() not in OPTIMIZER_NAMES:
            raise click.BadParameter(f"unknown optimizer {name.strip()!r}; valid: "
                                     f"{', '.join(OPTIMIZER_NAMES)}")
        if at and convention.strip() not in CONVENTION_NAMES:
            raise click.BadParameter(f"unknown convention {convention.strip()!r} in "
                                     f"{spec!r}; valid: {', '.join(CONVENTION_NAMES)}")
    return names


def _entries(ctx, specs, convention):
    """Specs -> [(label, name, convention)] (minitrain.lab.entries); usage error on a
    repeat such as ``adam,adam@torch``."""
    from minitrain.lab import entries
    found = entries(specs, convention)
    labels = [label for label, _, _ in found]
    if len(set(labels)) < len(labels):
        raise click.BadParameter(f"names an optimizer twice: {','.join(specs)!r}", ctx,
                                 param_hint="--optimizers")
    return found


def _lr_for_entries(ctx, lr, found):
    """``--lr`` map (labels, plain names, ``*``) -> {label: lr} for the given entries."""
    known = {label for label, _, _ in found} | {name for _, name, _ in found}
    stray = sorted(set(lr) - known - {"*"})
    if stray:
        raise click.BadParameter(f"{stray[0]} is not among --optimizers "
                                 f"{','.join(label for label, _, _ in found)}", ctx,
                                 param_hint="--lr")
    out = {label: lr.get(label, lr.get(name, lr.get("*"))) for label, name, _ in found}
    return {k: v for k, v in out.items() if v is not None}


def _convention_option(f):
    return click.option(
        "--convention", type=click.Choice(CONVENTION_NAMES), default="torch",
        show_default=True, help="Update rules and defaults of the optimizers named without "
        "@CONVENTION: PyTorch's or Keras 3's.")(f)


def _lr_map(ctx, param, value):
    """``0.05`` (every optimizer) or ``adam=0.1,sgd=0.01`` (and a bare value for the rest)."""
    if value is None:
        return None
    lrs, example = {}, "like adam=0.1,sgd=0.01 or 0.05"
    for item in str(value).split(","):
        name, eq, number = item.strip().rpartition("=")
        name = name.strip() if eq else "*"
        try:
            lr = float(number)
        except ValueError:
            raise click.BadParameter(f"expected NAME=VALUE,... {example}, got {value!r}")
        if not lr > 0 or lr == float("inf"):
            raise click.BadParameter(f"learning rates must be > 0, got {item.strip()!r}")
        if name in lrs:
            raise click.BadParameter(f"{'a bare VALUE' if name == '*' else name} given twice "
                                     f"in {value!r}")
        lrs[name] = lr
    return lrs


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


def _need_matplotlib(what):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        click.echo(f"{what} needs matplotlib (pip install 'minitrain[plot]'); skipped.",
                   err=True)
        return False
    return True


@cli.command("paths")
@click.option("--function", "-f", "function_name", type=click.Choice(FUNCTION_NAMES),
              default="bowl", show_default=True, help="The 2-D test function.")
@click.option("--optimizers", "-o", callback=_optimizer_list, default=PATHS_OPTIMIZERS,
              show_default=True, help="Comma-separated optimizer names, each optionally "
              "NAME@keras or NAME@torch.")
@_convention_option
@click.option("--steps", type=click.IntRange(min=1),
              help="Updates per optimizer.  [default: 200; rosenbrock 1000, beale 500, "
                   "rastrigin 300]")
@click.option("--lr", callback=_lr_map, metavar="NAME=VALUE,...",
              help="Learning rates, e.g. adam=0.1,sgd=0.01; a bare 0.05 sets all the others. "
                   "[default: per function and optimizer, shown in the table]")
@click.option("--start", callback=_point, metavar="X,Y",
              help="Starting point, e.g. --start -4,1.5.  [default: the function's]")
@click.option("--condition", type=click.FloatRange(min=0, min_open=True),
              help="bowl: condition number, f = (x^2 + condition*y^2)/2.  [default: 10]")
@click.option("--tol", type=click.FloatRange(min=0, min_open=True), default=1e-3,
              show_default=True, help="Distance to a minimum that counts as reached.")
@click.option("--schedule", "-s", type=click.Choice(SCHEDULE_NAMES),
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

    \b
    Functions (minima; default start):
      bowl        (x^2 + condition*y^2)/2, elongated (0, 0); (-4, 1.5)
      rosenbrock  (1-x)^2 + 100 (y-x^2)^2, a curved valley  (1, 1); (-1.5, 2)
      beale       plateaus and ridges                      (3, 0.5); (1, 1.5)
      himmelblau  four minima                              (3, 2) and 3 more; (0, 0)
      saddle      x^2/2 + y^4/4 - y^2/2, saddle at (0, 0)   (0, +-1); (-2, 0.001)
      rastrigin   a local minimum at every integer point   (0, 0); (-2.2, 3.3)

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
    found = _entries(ctx, optimizers, convention)
    if lr is not None:
        lr = _lr_for_entries(ctx, lr, found)
    fn = lab.function(function_name, **({} if condition is None else
                                        {"condition": condition}))
    n_steps = steps or fn.steps
    make = None
    if schedule is not None:
        first = (lr or {}).get(found[0][0], fn.default_lr(found[0][1]))
        build_schedule(schedule, options, lr=first, total_steps=n_steps)   # usage errors now

        def make(rate):
            return build_schedule(schedule, options, lr=rate, total_steps=n_steps)
        make.label = schedule
    try:
        result = lab.paths(fn, optimizers, steps=n_steps, lr=lr, start=start,
                           schedule=make, tol=tol, convention=convention)
    except (TypeError, ValueError) as e:
        raise click.UsageError(str(e), ctx) from None
    click.echo(result.table())
    adagrad = any(name == "adagrad" for _, name, _ in found)
    if schedule is not None and adagrad and make(1.0).momentum(0) is not None:
        click.echo("note: adagrad has no momentum; the schedule's momentum cycling skips it.")
    for path, draw in ((plot, result.plot), (gif, result.gif)):
        if path and _need_matplotlib(f"--{'plot' if path == plot else 'gif'}"):
            try:
                draw(path)
            except OSError as e:
                raise click.ClickException(f"cannot write {path}: {e.strerror or e}")
            click.echo(f"wrote {path}")


@cli.command("explain")
@click.argument("optimizer", type=click.Choice(OPTIMIZER_NAMES))
@click.option("--lr", type=click.FloatRange(min=0), help="Learning rate [the optimizer's].")
@optimizer_options
@click.option("--steps", type=click.IntRange(1, 100), default=3, show_default=True,
              help="Updates to show.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Chooses the curvatures a and the start p0 of the example.")
@click.option("--digits", type=click.IntRange(4, 17), default=8, show_default=True,
              help="Significant digits per number.")
@click.option("--convention", type=click.Choice(CONVENTION_NAMES), default="torch",
              show_default=True, help="Explain PyTorch's update rule or Keras 3's (its "
              "equations, defaults and numbers).")
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

# ---- end paths, explain -----------------------------------------------------------------


# ---- compare, lr-find, sweep (owner: experiments) -----------------------------------------
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
        click.option("--noise", type=click.FloatRange(min=0)),
        click.option("--n-features", type=click.IntRange(min=1)),
        click.option("--n-classes", type=click.IntRange(min=2)),
        click.option("--hidden", callback=_hidden,
                     help="Hidden layer sizes.  [default: 64,64; 16 for diabetes]"),
        click.option("--activation", type=click.Choice(ACTIVATION_NAMES),
                     help="[default: relu]"),
        click.option("--loss", type=click.Choice(LOSS_NAMES)),
        click.option("--dtype", type=click.Choice(["float32", "float64"]),
                     help="[default: float32]"),
        click.option("--batch-size", "-b", type=click.IntRange(min=1), help="[default: 32]"),
        click.option("--val-split", type=click.FloatRange(0, 1, max_open=True),
                     help="[default: 0.2]"),
        click.option("--test-split", type=click.FloatRange(0, 1, max_open=True),
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
    from minitrain.comparison import CompareError
    from minitrain.data import DataError
    from minitrain.runs import RunError
    from minitrain.sweeps import SweepError
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
              default=",".join(OPTIMIZER_NAMES), help="Comma-separated optimizer names, "
              "each optionally NAME@keras or NAME@torch (adam,adam@keras runs both side by "
              "side).  [default: all nine]")
@_convention_option
@click.option("--lr", "lr_spec", callback=_lr_map, metavar="NAME=VALUE,...",
              help="Learning rates, e.g. adam=3e-3,sgd=0.05,adam@keras=1e-3; a bare 0.01 "
                   "sets all the others; a plain name covers NAME@keras too. "
                   "[default: each optimizer's default of `minitrain fit`]")
@click.option("--schedule", "-s", type=click.Choice(SCHEDULE_NAMES),
              help="A schedule for every run; its lr (onecycle: max lr) is each optimizer's.")
@schedule_options
@click.option("--epochs", "-e", type=click.IntRange(min=1),
              help="[default: 40; 100 for iris, 60 for wine]")
@click.option("--seeds", callback=_seed_list, default="0", show_default=True,
              help="Comma-separated seeds; each seeds the split, the weights and the batches.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes (timings get noisier when runs share the cores).")
@click.option("--out", type=click.Path(file_okay=False),
              help="Output directory.  [default: runs/compare-DATASET-TIME]")
@click.option("--force", is_flag=True, help="Overwrite the tables in an existing --out.")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines.")
@click.pass_context
def compare_command(ctx, optimizers, convention, lr_spec, schedule, epochs, seeds, jobs, out,
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
    from minitrain.comparison import compare
    _check_source(ctx, options)
    given = {k: v for k, v in pop_schedule_options(options).items() if v is not None}
    params = schedule_params(schedule, given, ctx)
    if schedule:                                 # bad values: usage errors before training
        build_schedule(schedule, given, lr=0.01, total_steps=1000)
    found = _entries(ctx, optimizers, convention)
    lrs = _lr_for_entries(ctx, lr_spec, found) if lr_spec else None
    out = Path(out) if out else _stamp_dir(f"compare-{_source_name(options)}")
    if (out / "summary.csv").exists() and not force:
        raise click.ClickException(f"{out} already holds a comparison; choose another --out "
                                   "or add --force")
    try:
        with _interruptible(f"Nothing was written to {out}; run the command again to "
                            "start the comparison over."):
            result = compare(optimizers=optimizers, convention=convention, lr=lrs,
                             schedule=schedule,
                             schedule_params=params, epochs=epochs, seeds=seeds, jobs=jobs,
                             out=out, progress=not quiet,
                             **{k: options[k] for k in _DATA_KEYS})
    except _experiment_errors() as e:
        raise click.ClickException(str(e)) from None
    except (TypeError, ValueError) as e:          # a bad option value found by the library
        raise click.UsageError(str(e), ctx) from None
    click.echo(result.table())
    plotted = (out / "curves.png").exists()
    click.echo(f"\nwrote {out / 'summary.csv'}, {out / 'curves.csv'}"
               + (f", {out / 'curves.png'}" if plotted else ""))
    if not plotted:
        click.echo("matplotlib is not installed, so no curves.png "
                   "(pip install 'minitrain[plot]')")


@cli.command("lr-find")
@_experiment_data_options
@click.option("--optimizer", "-o", type=click.Choice(OPTIMIZER_NAMES), default="nadam",
              show_default=True)
@click.option("--start", type=click.FloatRange(min=0, min_open=True), default=1e-7,
              show_default=True, help="First learning rate.")
@click.option("--end", type=click.FloatRange(min=0, min_open=True), default=10.0,
              show_default=True, help="Last learning rate.")
@click.option("--steps", type=click.IntRange(min=3), default=100, show_default=True,
              help="Minibatches over which the lr grows exponentially.")
@click.option("--smoothing", type=click.FloatRange(0, 1, max_open=True), default=0.98,
              show_default=True, help="beta of the bias-corrected moving average of the loss.")
@click.option("--diverge", type=click.FloatRange(min=1, min_open=True), default=4.0,
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
    from minitrain import runs
    from minitrain.lrfind import lr_find
    _check_source(ctx, options)
    if not end > start:
        raise click.BadParameter(f"must be greater than --start ({start:g}), got {end:g}",
                                 param_hint="--end")
    out = Path(out) if out else _stamp_dir(f"lr-find-{_source_name(options)}-{optimizer}")
    if (out / "lr_find.csv").exists() and not force:
        raise click.ClickException(f"{out} already holds lr_find.csv; choose another --out "
                                   "or add --force")
    try:
        cfg = runs.resolve({**{k: options[k] for k in _DATA_KEYS}, "optimizer": optimizer,
                            "seed": seed})
        train, _, _, scaler, target_scaler, ds = runs.load_data(cfg)
        model, opt, _ = runs.build(cfg, ds, 1)
        with _interruptible(f"Nothing was written to {out}; the range test starts over "
                            "when run again."):
            result = lr_find(model, opt, runs.arrays(train, scaler, target_scaler),
                             start=start, end=end, steps=steps,
                             batch_size=cfg["batch_size"], seed=seed, beta=smoothing,
                             diverge=diverge)
        out.mkdir(parents=True, exist_ok=True)
        result.to_csv(out / "lr_find.csv")
        title = (f"{optimizer} on {_source_name(options)}, hidden "
                 f"{','.join(map(str, cfg['hidden']))}, batch {cfg['batch_size']}")
        plotted = result.plot(out / "lr_find.png", title=title)
    except _experiment_errors() as e:
        raise click.ClickException(str(e)) from None
    except (TypeError, ValueError) as e:
        raise click.UsageError(str(e), ctx) from None
    reason = {"end": "reached --end", "diverged": f"smoothed loss > {diverge:g}x its best",
              "nan": "the loss was not finite"}[result.stopped]
    click.echo(f"lr range test: {title}")
    click.echo(f"{len(result.lrs)} steps, lr {result.lrs[0]:.3g} .. {result.lrs[-1]:.3g} "
               f"(stopped: {reason})")
    if len(result.smoothed) > 1:
        encoding = getattr(click.get_text_stream("stdout"), "encoding", None)
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
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30,
              show_default=True, help="Seconds to wait for the Dask scheduler and workers.")
@click.option("--quiet", "-q", is_flag=True, help="No progress line.")
def sweep_command(grid, jobs, address, out, dry_run, top, timeout, quiet):
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
    from minitrain.sweeps import format_best, sweep
    from minitrain.train import Interrupted
    try:
        result = sweep(grid, out, jobs=jobs, address=address, dry_run=dry_run,
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

# ---- end compare, lr-find, sweep ----------------------------------------------------------
