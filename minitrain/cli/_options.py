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
# ---- schedule options, generated from the schedule registry (minitrain.schedules.spec)
# Every parameter of every schedule is an option named after it, except "lr" (the
# command's --lr), library-only kinds, and what the run fills in itself (the warm-up, an
# option of its own). A few spellings differ where a name would collide with a run
# option or an older spelling is kept:
_SCHEDULE_SPELLING = {
    "patience": ("--plateau-patience",), "mode": ("--mode", "--plateau-mode"),
    "steps": ("--decay-steps",), "threshold_mode": ("--threshold-mode",),
    "three_phase": ("--three-phase/--two-phase",),
    "boundary_inclusive": ("--boundary-inclusive/--boundary-exclusive",),
    "periodic": ("--periodic/--clamped",), "eps": ("--plateau-eps",),
}
_KIND_TYPE = {"float": lambda p: FiniteFloat(), "int": lambda p: click.INT,
              "floats": lambda p: _CommaList(float), "ints": lambda p: _CommaList(int),
              "choice": lambda p: click.Choice(sorted(p)),
              "schedules": lambda p: click.STRING}
_SKIP_KINDS = ("schedule",)


def _schedule_table():
    """{parameter: (declarations, click kwargs)} for every schedule parameter."""
    from minitrain import schedules
    found = {}
    for name in schedules.names():
        for p in schedules.spec(name):
            if p.name == "lr" or p.kind in _SKIP_KINDS or p.from_run in (
                    "warmup_steps", "warmup_start"):
                continue
            entry = found.setdefault(p.name, {"kind": p.kind, "helps": {},
                                              "users": [], "choices": set()})
            entry["users"].append(name)
            entry["helps"].setdefault(p.help, []).append(name)
            entry["choices"].update(p.choices)
    table = {}
    for param, e in found.items():
        decls = _SCHEDULE_SPELLING.get(param, ("--" + param.replace("_", "-"),))
        kw = {"default": None, "help": "; ".join(f"{', '.join(users)}: {text}"
                                                 for text, users in e["helps"].items())}
        if e["kind"] == "bool":
            if "/" not in decls[0]:
                flag = decls[0]
                decls = (f"{flag}/--no-{flag[2:]}",)
        else:
            kw["type"] = _KIND_TYPE[e["kind"]](e["choices"])
        table[param] = (decls, kw)
    return table


SCHEDULE_OPTIONS = _schedule_table()
#: option destination (keyword the command receives) -> schedule parameter
SCHEDULE_DEST = {f"sched_{param}": param for param in SCHEDULE_OPTIONS}
_SCHEDULE_FLAG = {param: decls[0].split("/")[0] for param, (decls, _) in
                  SCHEDULE_OPTIONS.items()}
_SCHEDULE_FLAG["lr"] = "--lr"


def schedule_options(f):
    """Decorator: every schedule parameter as an option, all defaulting to None, plus
    the run's warm-up (--warmup-steps, --warmup-start).

    The command receives them as keyword arguments ``sched_<parameter>``;
    ``pop_schedule_options(kwargs)`` separates them for :func:`schedule_params`.
    """
    for param, (decls, kw) in reversed(SCHEDULE_OPTIONS.items()):
        f = click.option(*decls, f"sched_{param}", **kw)(f)
    f = click.option("--warmup-start", "warmup_start", type=FiniteFloat(min=0),
                     default=None, help="lr at the first warm-up step [0].")(f)
    f = click.option("--warmup-steps", "warmup_steps", type=click.IntRange(min=0),
                     default=None, help="Linear warm-up steps in front of any schedule "
                     "(cosine: its own, as Keras/optax) [0].")(f)
    return f


def pop_schedule_options(kwargs: dict) -> dict:
    """Remove the schedule-parameter keywords from ``kwargs`` and return them."""
    return {dest: kwargs.pop(dest) for dest in SCHEDULE_DEST if dest in kwargs}


def schedule_params(name, given, ctx=None):
    """Schedule options given on the command line -> {parameter: value} for ``name``.

    ``given`` maps destinations to values (None = not given). Usage error for an option
    the schedule does not take, or for options without a schedule.
    """
    given = {d: v for d, v in given.items() if v is not None}
    if not given:
        return {}
    if name is None:
        flags = ", ".join(_SCHEDULE_FLAG.get(SCHEDULE_DEST.get(d), "--" + d.replace("_", "-"))
                          for d in given)
        raise click.UsageError(f"{flags} need(s) --schedule", ctx)
    given = {d: v for d, v in given.items() if d in SCHEDULE_DEST}
    from minitrain import schedules
    accepted = schedules.parameters(name)
    params = {}
    for dest, value in given.items():
        param = SCHEDULE_DEST[dest]
        if param not in accepted:
            valid = " ".join(_SCHEDULE_FLAG[p] for p in accepted if p in _SCHEDULE_FLAG)
            raise click.UsageError(f"{_SCHEDULE_FLAG[param]} is not an option of schedule "
                                   f"{name!r} (its options: {valid})", ctx)
        if param == "steps" and isinstance(value, float) and value.is_integer():
            value = int(value)                       # --decay-steps 100 -> steps=100
        try:
            params[param] = schedules.convert(name, param, value)
        except (TypeError, ValueError) as e:
            raise click.BadParameter(str(e), ctx, param_hint=_SCHEDULE_FLAG[param]) from None
    return params


def build_schedule(name, options, *, lr=None, total_steps=None, warmup=(0, 0.0), ctx=None):
    """The schedule ``name`` built from command-line ``options`` (destinations to
    values) through the run builder; usage errors otherwise."""
    from minitrain import schedules
    from minitrain.experiments.runs import OptionError
    from minitrain.experiments.runs import build_schedule as build
    if name not in schedules.names():
        raise click.BadParameter(f"unknown schedule {name!r}; valid: "
                                 f"{', '.join(schedules.names())}", ctx, param_hint="schedule")
    params = schedule_params(name, {k: v for k, v in options.items() if k in SCHEDULE_DEST},
                             ctx)
    if name == "plateau" and lr is None and "lr" not in params:
        raise click.UsageError("schedule 'plateau' needs --lr", ctx)
    try:
        return build(name, params, lr=lr, total_steps=total_steps, warmup=warmup)
    except OptionError as e:
        message = str(e)
        missing = message.partition("missing required parameter(s) ")[2]
        if missing:
            flags = ", ".join(_SCHEDULE_FLAG.get(p.strip(), p) for p in missing.split(","))
            raise click.UsageError(f"schedule {name!r} needs {flags}", ctx) from None
        hint = next((_SCHEDULE_FLAG[p] for p in params
                     if message.startswith((f"{name}: {p} ", f"{name}: {p}["))), None)
        raise click.BadParameter(message, ctx, param_hint=hint) from None


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


def run_options(opts):
    """The run options (names of the run builder's table) among a command's keywords."""
    from minitrain.experiments.runs import RUN_OPTIONS, optimizer_options
    keys = [k for k in RUN_OPTIONS if k != "schedule_params"] + list(optimizer_options())
    return {k: opts[k] for k in keys if k in opts}
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
    """Decorator: every optimizer hyperparameter but --lr, generated from the optimizer
    registry (:func:`minitrain.optim.options`), all defaulting to None ("not given").

    A value the chosen optimizer does not take is a usage error (the run builder's
    check); ranges are checked by the optimizer itself.
    """
    from minitrain import optim
    for name, info in reversed(optim.options().items()):
        flag = "--" + name.replace("_", "-")
        who = ", ".join(info["optimizers"]) if len(info["optimizers"]) < len(
            optim.names()) else "every optimizer"
        text = f"{info['help']} [{who}]"
        if info["type"] is bool:
            f = click.option(f"{flag}/--no-{flag[2:]}", name, default=None, help=text)(f)
        else:
            kind = FiniteFloat() if info["type"] is float else click.INT
            f = click.option(flag, name, type=kind, default=None, help=text)(f)
    return f


def _threads(ctx, param, value):
    from minitrain.threads import resolve
    try:
        resolve(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    return value


def threads_option(f):
    """--threads N|auto: OpenBLAS and Numba threads for the training, set for its
    duration only (minitrain.threads)."""
    return click.option(
        "--threads", default="auto", show_default=True, callback=_threads, metavar="N|auto",
        help="Threads for the matrix products and optimizer kernels; auto: one for small "
             "networks or a busy machine, else one per core.")(f)


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
    """``adam,adam@keras,sgd/cosine:min_lr=0,warmup_steps=5`` -> the specs (a piece
    that is a schedule's ``key=value`` belongs to the spec before it); a name's
    convention is resolved by :func:`_entries` once ``--convention`` is known; None when
    not given."""
    if value is None:
        return None
    names = []
    for piece in (v.strip() for v in str(value).split(",") if v.strip()):
        head = piece.partition("/")[0].partition("@")[0]
        if names and "/" in names[-1] and "=" in piece and head not in OPTIMIZERS.choices:
            names[-1] += "," + piece
        else:
            names.append(piece)
    if not names:
        raise click.BadParameter(f"must name at least one optimizer, got {value!r}")
    for spec in names:
        name, at, convention = spec.partition("/")[0].partition("@")
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
        "--convention", type=CONVENTIONS, default=None,
        help="Update rules and defaults of the optimizers named without @CONVENTION: "
        "PyTorch's or Keras 3's.  [default: each optimizer's own: torch, lion keras]")(f)
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
            raise click.BadParameter(f"learning rates must be finite numbers > 0, got "
                                     f"{item.strip()!r}")
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
