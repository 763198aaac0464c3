"""Options and helpers shared by the commands (option decorators, parsing, errors)."""
from __future__ import annotations

import contextlib

import click



# schedule_options(f): every schedule parameter as an option (default None = "not given");
# build_schedule(name, options, lr=, total_steps=): the schedule object, or a usage error;
# commands `minitrain schedule NAME ...` (preview) and `minitrain schedules` (list).
# Parameter "lr" comes from the command's own --lr; plateau's eps and base are
# library-only. Option destinations are the snake_case of the option names, so the
# trainer's own --patience (early stopping) never collides with --plateau-patience.


class FiniteFloat(click.ParamType):
    """A float that must be finite (no nan/inf) and optionally within bounds."""

    name = "float"

    def __init__(self, min=None, max=None, min_open=False, max_open=False):
        self.min, self.max, self.min_open, self.max_open = min, max, min_open, max_open

    def convert(self, value, param, ctx):
        import math
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"must be a finite number, got {value!r}", param, ctx)
        lo_bad = self.min is not None and (number < self.min
                                           or (self.min_open and number == self.min))
        hi_bad = self.max is not None and (number > self.max
                                           or (self.max_open and number == self.max))
        if lo_bad or hi_bad:
            lo = "" if self.min is None else f"{'>' if self.min_open else '>='} {self.min:g}"
            hi = "" if self.max is None else f"{'<' if self.max_open else '<='} {self.max:g}"
            self.fail(f"must be {' and '.join(x for x in (lo, hi) if x)}, got {value!r}",
                      param, ctx)
        return number


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
    ("max_lr", "--max-lr", dict(type=FiniteFloat(), help="onecycle: peak lr [default: --lr]")),
    ("total_steps", "--total-steps",
     dict(type=int, help="onecycle, cosine: schedule length in steps [default: the run's]")),
    ("pct_start", "--pct-start",
     dict(type=FiniteFloat(), help="onecycle: fraction of steps going up [0.3]")),
    ("anneal", "--anneal", dict(type=click.Choice(["cos", "linear"]), help="onecycle [cos]")),
    ("div_factor", "--div-factor",
     dict(type=FiniteFloat(), help="onecycle: start lr = max_lr/div_factor [25]")),
    ("final_div_factor", "--final-div-factor",
     dict(type=FiniteFloat(), help="onecycle: final lr = start lr/final_div_factor [1e4]")),
    ("three_phase", "--three-phase/--two-phase",
     dict(default=None, help="onecycle: paper's 3 phases or fastai's 2 [--two-phase]")),
    ("cycle_momentum", "--cycle-momentum/--no-cycle-momentum",
     dict(default=None, help="onecycle: cycle momentum/beta1 inversely to lr [on]")),
    ("base_momentum", "--base-momentum",
     dict(type=FiniteFloat(), help="onecycle: momentum at peak lr [0.85]")),
    ("max_momentum", "--max-momentum",
     dict(type=FiniteFloat(), help="onecycle: momentum at the ends [0.95]")),
    ("steps", "--decay-steps", dict(type=FiniteFloat(), help="power, exponential: time scale in steps")),
    ("power", "--power", dict(type=FiniteFloat(), help="power: exponent [1]")),
    ("rate", "--rate", dict(type=FiniteFloat(), help="exponential: factor per --decay-steps [0.1]")),
    ("staircase", "--staircase", dict(is_flag=True, default=None,
                                      help="exponential: whole factors only (step decay)")),
    ("boundaries", "--boundaries", dict(type=_CommaList(int), help="piecewise: e.g. 100,200")),
    ("values", "--values", dict(type=_CommaList(float), help="piecewise: e.g. 0.1,0.01,0.001")),
    ("boundary_inclusive", "--boundary-inclusive/--boundary-exclusive",
     dict(default=None, help="piecewise: switch at boundary+1, as Keras [exclusive]")),
    ("factor", "--factor", dict(type=FiniteFloat(), help="plateau: lr multiplier per plateau [0.1]")),
    ("patience", "--plateau-patience",
     dict(type=int, help="plateau: bad epochs tolerated before a cut [10]")),
    ("mode", "--plateau-mode", dict(type=click.Choice(["min", "max"]),
                                    help="plateau: metric should go down or up [min]")),
    ("threshold", "--threshold", dict(type=FiniteFloat(), help="plateau: least improvement [1e-4]")),
    ("threshold_mode", "--threshold-mode", dict(type=click.Choice(["rel", "abs"]),
                                                help="plateau [rel]")),
    ("cooldown", "--cooldown", dict(type=int, help="plateau: epochs ignored after a cut [0]")),
    ("min_lr", "--min-lr", dict(type=FiniteFloat(), help="plateau, cosine: lower bound [0]")),
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


class RegistryChoice(click.Choice):
    """A ``click.Choice`` whose values come from a library registry, read when first
    needed (so ``minitrain --help`` imports nothing heavy, and no list is copied here).

    ``source`` is ``"module:attribute"``; a callable attribute is called.
    """

    def __init__(self, source):
        self._source, self._choices = source, None
        super().__init__((), case_sensitive=True)

    @property
    def choices(self):
        if self._choices is None:
            from importlib import import_module
            module, _, attr = self._source.partition(":")
            value = getattr(import_module(module), attr)
            self._choices = tuple(value() if callable(value) else value)
        return self._choices

    @choices.setter
    def choices(self, value):          # click.Choice.__init__ assigns (); the registry wins
        pass


OPTIMIZERS = RegistryChoice("minitrain.optim:names")
SCHEDULES = RegistryChoice("minitrain.schedules:names")
ACTIVATIONS = RegistryChoice("minitrain.nn:ACTIVATIONS")
LOSSES = RegistryChoice("minitrain.nn:LOSSES")
CONVENTIONS = RegistryChoice("minitrain.optim:CONVENTIONS")
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
        click.option("--momentum", type=FiniteFloat(0, 1, max_open=True),
                     help="SGD/RMSprop momentum."),
        click.option("--beta1", type=FiniteFloat(0, 1, max_open=True),
                     help="Adam family: first-moment decay."),
        click.option("--beta2", type=FiniteFloat(0, 1, max_open=True),
                     help="Adam family: second-moment decay."),
        click.option("--eps", type=FiniteFloat(min=0, min_open=True)),
        click.option("--rho", type=FiniteFloat(0, 1, max_open=True),
                     help="RMSprop's decay of the squared-gradient average (torch's alpha)."),
        click.option("--weight-decay", type=FiniteFloat(min=0)),
        click.option("--amsgrad/--no-amsgrad", default=None),
        click.option("--centered/--no-centered", default=None),
        click.option("--momentum-decay", type=FiniteFloat(min=0), help="Nadam's psi."),
        click.option("--initial-accumulator", type=FiniteFloat(min=0),
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
    from minitrain.experiments.runs import RunError, read_toml
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
    from minitrain.experiments.runs import OptionError, check_hyperparameter_names
    try:
        check_hyperparameter_names(optimizer, given)
    except OptionError as e:
        raise click.UsageError(str(e), ctx) from None


def _run_errors():
    from minitrain.checkpoint import CheckpointError
    from minitrain.data import DataError
    from minitrain.experiments.runs import RunError
    return RunError, DataError, CheckpointError, OSError
def _optimizer_list(ctx, param, value):
    """``adam,adam@keras`` -> the specs; a name's convention is resolved by
    :func:`_entries` once ``--convention`` is known; None when not given."""
    if value is None:
        return None
    names = [v.strip() for v in str(value).split(",") if v.strip()]
    if not names:
        raise click.BadParameter(f"must name at least one optimizer, got {value!r}")
    for spec in names:
        name, at, convention = spec.partition("@")
        if name.strip() not in OPTIMIZERS.choices:
            raise click.BadParameter(f"unknown optimizer {name.strip()!r}; valid: "
                                     f"{', '.join(OPTIMIZERS.choices)}")
        if at and convention.strip() not in CONVENTIONS.choices:
            raise click.BadParameter(f"unknown convention {convention.strip()!r} in "
                                     f"{spec!r}; valid: {', '.join(CONVENTIONS.choices)}")
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
        "--convention", type=CONVENTIONS, default="torch",
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
def _need_matplotlib(what):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        click.echo(f"{what} needs matplotlib (pip install 'minitrain[plot]'); skipped.",
                   err=True)
        return False
    return True

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


@contextlib.contextmanager
def cli_errors(ctx, source=None):
    """Library errors to exit codes, one line each, never a traceback.

    Options that do not fit (``OptionError``) are a usage error (exit 2) when they came
    from the command line, and a file error (exit 1, ``Error: FILE: ...``) when they
    came from ``source`` (a config file). Bad data, files, checkpoints and other
    library ``ValueError``s exit 1.
    """
    from minitrain.experiments.runs import OptionError
    try:
        yield
    except OptionError as e:
        if source is not None:
            raise click.ClickException(f"{source}: {e}") from None
        raise click.UsageError(str(e), ctx) from None
    except (ValueError, TypeError) as e:
        raise click.ClickException(" ".join(str(e).split())) from None
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        raise click.ClickException(f"{where}{e.strerror or e}") from None
    except MemoryError:
        raise click.ClickException("out of memory; use a smaller model or dataset") from None
