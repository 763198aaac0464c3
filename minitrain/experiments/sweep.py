"""Sweeps: train every combination of a grid of options, locally or on a Dask cluster.

A grid is a TOML file (or a dict) with the option names of ``minitrain fit``
(:data:`minitrain.experiments.runs.DEFAULTS` and the optimizer hyperparameters). Lists are
crossed, scalars are fixed::

    dataset = "digits"
    epochs = 10
    optimizer = ["adam", "nadam", "momentum"]
    lr = [1e-3, 3e-3]
    schedule = ["none", "onecycle"]        # "none": a constant lr
    seed = [0, 1]

    [schedule_params]                      # each applies to the schedules that take it
    pct_start = [0.25, 0.4]

gives 3 optimizers x 2 lrs x (none + onecycle with 2 pct_start) x 2 seeds = 36 runs.
``hidden``, ``boundaries`` and ``values`` are lists themselves: ``hidden = [64, 64]``
is one architecture; a list of lists (or of strings) is crossed:
``hidden = [[32], [64, 64], "128,128"]``. Combinations that end up identical (a
schedule parameter of a schedule that is not used) are run once.

Each run is a pure function of its resolved config, :func:`run_config`: the seed,
the data split, the initial weights and the minibatches all come from the config,
never from the worker. Its result (config, per-epoch history, summary, or the error)
goes to ``OUT/<hash>.json``, where the hash is the SHA-256 of the canonical JSON of
the resolved config; the file is written atomically by the process that launched the
sweep, as soon as the run comes back. Files already there are skipped, so an
interrupted sweep resumes where it stopped; failed configs are run again. At the
end ``OUT/summary.csv`` (one row per config of the grid) and ``OUT/curves.csv``
(one row per config and epoch) merge the results.

Where runs execute:

* ``jobs=1``: one after another in this process.
* ``jobs=N``: joblib's loky worker processes. Each run is limited to one BLAS
  thread (threadpoolctl) and one Numba thread (``numba.set_num_threads``), and the
  workers start with ``OMP_NUM_THREADS=1``, ``OPENBLAS_NUM_THREADS=1``,
  ``MKL_NUM_THREADS=1``, ``NUMBA_NUM_THREADS=1``, ... (joblib's
  ``inner_max_num_threads=1``), so N runs use N cores without oversubscription.
* ``address="tcp://HOST:8786"``: a Dask distributed cluster through joblib's
  ``dask`` backend (``pip install 'minitrain[dist]'``). Start the workers with one
  thread each (``dask worker tcp://HOST:8786 --nworkers 4 --nthreads 1``); they
  need minitrain installed and, for ``data = "file.csv"``, the file at the same path.

Because every run limits itself to one thread, a run gives bit-identical results in
this process, in a loky worker and on a Dask worker (same machine type and
library versions).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import sys
import time
from pathlib import Path

from minitrain import files
from minitrain import threads as _threads
from minitrain.experiments import runs

__all__ = ["sweep", "expand", "load_grid", "config_hash", "run_config", "execute",
           "SweepResult", "SweepError", "SUMMARY_COLUMNS"]

# keys whose single value is itself a list: a list of lists (or strings) is crossed
LIST_VALUED = ("hidden", "boundaries", "values")
# keys stored as floats in the resolved config, so that lr = 1 and lr = 1.0 hash alike
FLOAT_KEYS = ("lr", "noise", "val_split", "test_split", "min_delta", "momentum", "beta1",
              "beta2", "eps", "rho", "weight_decay", "momentum_decay",
              "initial_accumulator")
STATUSES = ("ok", "diverged", "failed")   # "ok" and "diverged" are finished results

SUMMARY_COLUMNS = ("train_loss", "val_loss", "val_metric", "best_val_loss", "best_epoch",
                   "best_val_metric", "test_loss", "test_metric", "metric", "epochs_done",
                   "steps", "seconds", "steps_per_second", "params_sha256")
CURVE_COLUMNS = ("hash", "epoch", "step", "lr", "momentum", "train_loss", "val_loss",
                 "val_metric", "seconds")


class SweepError(ValueError):
    """A problem with the grid, the output directory or the cluster (exit 1 in the CLI)."""


# ------------------------------------------------------------------ the grid


def load_grid(path):
    """Read a grid TOML file into a dict (``SweepError`` when missing or invalid)."""
    try:
        return runs.read_toml(path)
    except runs.RunError as e:
        raise SweepError(str(e)) from None


def _choices(key, value):
    """The list of values ``key`` takes in the grid."""
    if key in LIST_VALUED:
        if isinstance(value, list) and value and all(isinstance(v, (list, str)) for v in value):
            return [_list_value(key, v) for v in value]
        return [_list_value(key, value)]
    if isinstance(value, list):
        if not value:
            raise SweepError(f"grid: {key} is an empty list; give at least one value")
        return list(value)
    return [value]


def _list_value(key, value):
    if isinstance(value, str):               # "64,64" as on the command line
        try:
            return [int(v) if key != "values" else float(v)
                    for v in value.split(",") if v.strip()]
        except ValueError:
            raise SweepError(f"grid: {key} must be comma-separated numbers like "
                             f"'64,64', got {value!r}") from None
    if not isinstance(value, list):
        raise SweepError(f"grid: {key} must be a list like [64, 64], got {value!r}")
    return list(value)


def expand(grid):
    """All resolved configs of a grid, in grid order, without duplicates.

    Parameters
    ----------
    grid : dict
        Option names of :func:`minitrain.experiments.runs.resolve` (dashes allowed) mapped to a
        value or a list of values; ``schedule_params`` is a table of schedule
        parameters, each applied to the schedules of the grid that accept it.

    Returns
    -------
    list of dict
        Resolved configs (see :func:`minitrain.experiments.runs.resolve`).

    Raises
    ------
    SweepError
        Unknown keys, unknown optimizer or schedule names, a schedule parameter no
        schedule of the grid takes.
    """
    from minitrain import optim, schedules
    grid = {str(k).replace("-", "_"): v for k, v in grid.items()}
    sched_grid = grid.pop("schedule_params", None) or {}
    if not isinstance(sched_grid, dict):
        raise SweepError(f"grid: schedule_params must be a table, got {sched_grid!r}")
    known = set(runs.DEFAULTS) | set(runs.optimizer_options())
    unknown = sorted(set(grid) - known)
    if unknown:
        raise SweepError(f"grid: unknown key(s) {', '.join(unknown)}; valid: "
                         f"{', '.join(sorted(known - {'schedule_params'}))}, "
                         "[schedule_params]")
    axes = {key: _choices(key, value) for key, value in grid.items()}
    for name in axes.get("optimizer", []):
        if name not in optim.names():
            raise SweepError(f"grid: unknown optimizer {name!r}; valid: "
                             f"{', '.join(optim.names())}")
    axes["schedule"] = [None if s in (None, "none", "") else s
                        for s in axes.get("schedule", [None])]
    for name in axes["schedule"]:
        if name is not None and name not in schedules.names():
            raise SweepError(f"grid: unknown schedule {name!r}; valid: none, "
                             f"{', '.join(schedules.names())}")
    sched_axes = {str(k).replace("-", "_"): _choices(k, v) for k, v in sched_grid.items()}
    used = {p for s in axes["schedule"] if s for p in schedules.parameters(s)}
    stray = sorted(set(sched_axes) - used)
    if stray:
        listed = ", ".join(s for s in axes["schedule"] if s) or "none"
        raise SweepError(f"grid: schedule parameter(s) {', '.join(stray)} are taken by no "
                         f"schedule of the grid (schedule: {listed})")

    configs, seen = [], set()
    keys = list(axes)
    for combo in itertools.product(*(axes[k] for k in keys)):
        options = dict(zip(keys, combo))
        name = options["schedule"]
        accepted = schedules.parameters(name) if name else {}
        names = [k for k in sched_axes if k in accepted]
        for values in itertools.product(*(sched_axes[k] for k in names)):
            options["schedule_params"] = dict(zip(names, values))
            try:
                cfg = _canonical(runs.resolve(dict(options)))
            except runs.RunError as e:
                raise SweepError(f"grid: {e}") from None
            h = config_hash(cfg)
            if h not in seen:
                seen.add(h)
                configs.append(cfg)
    return configs


def _canonical(cfg):
    cfg = dict(cfg)
    for key in FLOAT_KEYS:
        value = cfg.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            cfg[key] = float(value)
    return cfg


def config_hash(cfg, length=16):
    """First ``length`` hex digits of the SHA-256 of the config's canonical JSON."""
    text = json.dumps(cfg, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


# ------------------------------------------------------------------ one run


def _threads_in_use():
    """{"numba": threads, "blas": largest BLAS/OpenMP pool} as this run sees them."""
    import numba
    from threadpoolctl import threadpool_info
    pools = [p["num_threads"] for p in threadpool_info()]
    return {"numba": numba.get_num_threads(), "blas": max(pools) if pools else None}


def run_config(cfg, threads=1):
    """Train one resolved config; return its result as a JSON-able dict.

    A pure function of ``cfg``: the same config gives the same history and the same
    parameters (``summary["params_sha256"]``) in any process.

    Returns
    -------
    dict
        ``hash``, ``config``, ``status`` ("ok", "diverged" or "failed"), ``error``
        (None or one line), ``history`` (one dict per finished epoch, as
        :class:`minitrain.History` rows), ``summary`` (see :data:`SUMMARY_COLUMNS`;
        None when failed), ``threads`` (Numba and BLAS threads the run saw),
        ``wall_seconds`` and ``cpu_seconds`` (wall well above CPU: the run waited
        for a core).
    """
    from minitrain import __version__
    from minitrain.train import Interrupted, TrainingDiverged
    started, cpu_started = time.perf_counter(), time.process_time()
    result = {"hash": config_hash(cfg), "config": cfg, "status": "ok", "error": None,
              "history": [], "summary": None, "minitrain": __version__}
    rows = result["history"]
    try:
        fixed = _threads.resolve(threads)            # None: "auto", chosen per run
        with _threads.limit(fixed):
            result["threads"] = _threads_in_use()
            run = runs.build_run(cfg)
            history = run.train(threads, callbacks=[rows.append], progress=False)
            rows[:] = history.rows
            result["summary"] = _summary(run.model, rows, run.data)
    except (Interrupted, KeyboardInterrupt):
        raise                                # not a result: the sweep was stopped
    except TrainingDiverged as e:
        # the rows the callback saw; after a rollback an epoch comes again: keep the last
        rows[:] = sorted({r["epoch"]: r for r in rows}.values(), key=lambda r: r["epoch"])
        result.update(status="diverged", error=str(e))
        result["summary"] = _summary(None, rows, None)
    except Exception as e:                   # recorded; the other runs go on
        message = " ".join(str(e).split()) or type(e).__name__
        result.update(status="failed", error=f"{type(e).__name__}: {message}")
    result["wall_seconds"] = time.perf_counter() - started
    result["cpu_seconds"] = time.process_time() - cpu_started
    return result


def _summary(model, rows, data):
    """Final and best validation numbers of a history, test metrics of the model."""
    from minitrain.train import params_sha256
    summary = dict.fromkeys(SUMMARY_COLUMNS)
    if rows:
        last = rows[-1]
        summary.update(train_loss=last["train_loss"], val_loss=last["val_loss"],
                       val_metric=last["val_metric"], epochs_done=len(rows),
                       steps=last["step"])
        seconds = sum(r["seconds"] for r in rows)
        summary["seconds"] = seconds
        summary["steps_per_second"] = last["step"] / seconds if seconds > 0 else None
        val = [(r["val_loss"], r["epoch"]) for r in rows if r["val_loss"] is not None]
        if val:
            summary["best_val_loss"], summary["best_epoch"] = min(val)
            summary["best_val_metric"] = max(r["val_metric"] for r in rows)
    if model is not None:
        summary["metric"] = "accuracy" if model.is_classifier else "r2"
        summary["params_sha256"] = params_sha256(model.params)
        test_metrics = runs.metrics(model, data.test, data.scaler, data.target_scaler)
        if test_metrics:
            summary["test_loss"] = test_metrics["loss"]
            summary["test_metric"] = test_metrics[summary["metric"]]
    return summary


# ------------------------------------------------------------------ execution


def _dask_client(address, timeout):
    try:
        from distributed import Client
    except ImportError:
        raise SweepError("--address needs dask.distributed: pip install "
                         "'minitrain[dist]'") from None
    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as e:
        raise SweepError(f"cannot connect to the Dask scheduler at {address}: "
                         f"{' '.join(str(e).split())}") from None


def execute(configs, *, jobs=1, address=None, threads=1, timeout=30):
    """Run :func:`run_config` on every config; yield the results as they finish.

    ``jobs=1`` without ``address`` runs here, in order. Otherwise the order is the
    order of completion (match results to configs by ``result["hash"]``).
    """
    configs = list(configs)
    if not configs:
        return
    if address is None and jobs == 1:
        for cfg in configs:
            yield run_config(cfg, threads)
        return
    from joblib import Parallel, delayed, parallel_config
    tasks = (delayed(run_config)(cfg, threads) for cfg in configs)
    if address is None:
        with parallel_config(backend="loky", inner_max_num_threads=threads):
            yield from Parallel(n_jobs=jobs, batch_size=1,
                                return_as="generator_unordered")(tasks)
        return
    client = _dask_client(address, timeout)
    tasks = (delayed(_on_a_worker)(cfg, threads) for cfg in configs)
    try:
        with parallel_config(backend="dask", client=client,
                             wait_for_workers_timeout=timeout):
            yield from Parallel(n_jobs=jobs or -1, batch_size=1,
                                return_as="generator_unordered")(tasks)
    except _NoWorkers:
        raise SweepError(f"the Dask cluster at {address} has no workers left, so the "
                         "remaining runs were not done (finished ones are kept; run the "
                         "sweep again to continue)") from None
    finally:
        client.close()


class _NoWorkers(RuntimeError):
    """A run was about to execute in the client process instead of on a worker."""


def _on_a_worker(cfg, threads):
    """:func:`run_config` on a Dask worker; refuses to run anywhere else (joblib falls
    back to the client process when every worker has died)."""
    from distributed import get_worker
    try:
        get_worker()
    except ValueError:
        raise _NoWorkers() from None
    return run_config(cfg, threads)


# ------------------------------------------------------------------ the sweep


class SweepResult:
    """What a sweep produced.

    Attributes
    ----------
    configs : list of dict
        The resolved configs of the grid, in grid order.
    results : list of dict or None
        The result of each config (:func:`run_config`), None when not run (dry run,
        or interrupted before it finished).
    ran, skipped : int
        Runs done by this call, and finished results found on disk.
    out : Path
    """

    def __init__(self, configs, results, ran, skipped, out):
        self.configs, self.results = configs, results
        self.ran, self.skipped, self.out = ran, skipped, Path(out)

    @property
    def failed(self):
        """The results whose status is "failed"."""
        return [r for r in self.results if r is not None and r["status"] == "failed"]

    @property
    def varied(self):
        """Config keys (``schedule.<param>`` for schedule parameters) that vary."""
        return varied_keys(self.configs)

    def rows(self):
        """One flat dict per config: hash, status, config, summary, error."""
        return [summary_row(c, r) for c, r in zip(self.configs, self.results)]

    def __repr__(self):
        return (f"SweepResult({len(self.configs)} configs, ran={self.ran}, "
                f"skipped={self.skipped}, failed={len(self.failed)}, out={str(self.out)!r})")


def flat_config(cfg):
    """A config with ``schedule_params`` spread into ``schedule.<param>`` keys."""
    flat = {k: v for k, v in cfg.items() if k != "schedule_params"}
    flat.update({f"schedule.{k}": v for k, v in cfg.get("schedule_params", {}).items()})
    return flat


def varied_keys(configs):
    flats = [flat_config(c) for c in configs]
    keys = list(dict.fromkeys(k for f in flats for k in f))
    return [k for k in keys if len({json.dumps(f.get(k)) for f in flats}) > 1]


def summary_row(cfg, result):
    row = {"hash": config_hash(cfg), "status": result["status"] if result else "not run"}
    row.update(flat_config(cfg))
    summary = (result or {}).get("summary") or {}
    row.update({k: summary.get(k) for k in SUMMARY_COLUMNS})
    row["error"] = (result or {}).get("error")
    return row


def _write_json(path, obj):
    from minitrain.files import write_atomic
    write_atomic(path, json.dumps(obj, indent=1) + "\n")


def _read_result(path, cfg):
    """The finished result stored at ``path`` for ``cfg``, else None."""
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if result.get("config") != json.loads(json.dumps(cfg)) or result.get("status") not in \
            ("ok", "diverged"):
        return None
    return result


def _csv_value(v):
    if v is None:
        return ""
    if isinstance(v, list):
        return ",".join(map(str, v))
    return v


def write_tables(result):
    """Write ``summary.csv`` and ``curves.csv`` of a sweep into its directory."""
    rows = result.rows()
    config_keys = [k for k in dict.fromkeys(k for c in result.configs for k in flat_config(c))
                   if any(r.get(k) is not None for r in rows)]       # drop all-empty ones
    columns = ["hash", "status", *config_keys, *SUMMARY_COLUMNS, "error"]
    _write_csv(result.out / "summary.csv", columns,
               ([_csv_value(r.get(c)) for c in columns] for r in rows))
    curves = ([_csv_value(res["hash"] if c == "hash" else row.get(c)) for c in CURVE_COLUMNS]
              for res in result.results if res for row in res["history"])
    _write_csv(result.out / "curves.csv", CURVE_COLUMNS, curves)


def _write_csv(path, header, rows):
    from minitrain.files import write_csv
    write_csv(path, header, rows)


class _Progress:
    """``sweep 3/8 runs done (1 failed) 0:12 elapsed, ETA 0:20`` on stderr."""

    def __init__(self, enabled, total, done, stream=None, label="sweep"):
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.total, self.done, self.first = total, done, done
        self.failed = 0
        self.started = time.perf_counter()

    def update(self, result):
        self.done += 1
        self.failed += result["status"] == "failed"
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.started
        ran = self.done - self.first
        eta = elapsed / ran * (self.total - self.done) if ran else math.nan
        text = (f"{self.label} {self.done}/{self.total} runs done"
                + (f" ({self.failed} failed)" if self.failed else "")
                + f"  {_clock(elapsed)} elapsed, ETA {_clock(eta)}")
        if result["status"] != "ok":
            text += f"  [{result['hash']} {result['status']}: {result['error']}]"
        end = "\n" if not self.tty or self.done == self.total or result["status"] != "ok" \
            else ""
        self.stream.write(("\r" if self.tty else "") + text + ("\033[K" if self.tty else "")
                          + end)
        self.stream.flush()


def _clock(seconds):
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" \
        if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


def sweep(grid, out="runs/sweep", *, jobs=1, address=None, dry_run=False, progress=True,
          threads=1, timeout=30, force=False):
    """Run every config of ``grid`` that has no finished result in ``out`` yet.

    ``out`` must be new, empty or a folder minitrain wrote; ``force=True`` writes into
    another folder too (replacing only the sweep's own files).

    Parameters
    ----------
    grid : dict or path
        The grid (see the module docstring), or a TOML file holding it.
    out : path, default="runs/sweep"
        Directory of the ``<hash>.json`` results, ``summary.csv`` and ``curves.csv``.
    jobs : int or None, default=1
        Parallel runs: loky worker processes, or Dask tasks with ``address``
        (None or -1: every core / every Dask worker thread).
    address : str, optional
        A Dask scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
    dry_run : bool, default=False
        Only expand the grid and look for finished results; run nothing.
    progress : bool, default=True
        A progress line (runs done/total, ETA) on stderr.
    threads : int, default=1
        BLAS and Numba threads per run.
    timeout : float, default=30
        Seconds to wait for the Dask scheduler and its workers.

    Returns
    -------
    SweepResult
    """
    if not isinstance(grid, dict):
        grid = load_grid(grid)
    if jobs is not None and jobs != -1 and (isinstance(jobs, bool) or
                                            not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"sweep: jobs must be an integer >= 1 or -1, got {jobs!r}")
    if jobs is None or jobs == -1:
        jobs = None if address else os.cpu_count() or 1
    configs = expand(grid)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SweepError(f"{out} exists and is not a directory")
    if out.exists() and any(out.iterdir()) and not files.is_ours(out) and not force:
        raise SweepError(f"{out} already exists and holds files minitrain did not write; "
                         "choose another --out, or add --force to write the sweep there")
    paths = [out / f"{config_hash(c)}.json" for c in configs]
    results = [_read_result(p, c) for p, c in zip(paths, configs)]
    todo = [c for c, r in zip(configs, results) if r is None]
    skipped = len(configs) - len(todo)
    result = SweepResult(configs, results, 0, skipped, out)
    if dry_run:
        return result
    try:
        files.claim_folder(out, "sweep", (), force=True)
    except files.FileError as e:
        raise SweepError(str(e)) from None
    where = {config_hash(c): i for i, c in enumerate(configs)}
    bar = _Progress(progress, len(configs), skipped)
    try:
        for res in execute(todo, jobs=jobs, address=address, threads=threads,
                           timeout=timeout):
            i = where[res["hash"]]
            _write_json(paths[i], res)
            results[i] = res
            result.ran += 1
            bar.update(res)
    finally:
        if result.ran or skipped:
            write_tables(result)
    return result


def format_best(result, n=10):
    """The ``n`` configs with the lowest final validation loss, as a text table."""
    varied = result.varied or ["optimizer"]
    rows = [r for r in result.rows() if r["status"] in ("ok", "diverged")]
    key = "val_loss" if any(r["val_loss"] is not None for r in rows) else "train_loss"

    def rank(r):
        v = r[key]
        return (r["status"] != "ok", math.inf if v is None or not math.isfinite(v) else v)
    rows.sort(key=rank)
    metric = next((r["metric"] for r in rows if r["metric"]), "metric")
    head = ["hash", *varied, key, f"val_{metric}" if key == "val_loss" else f"test_{metric}"]
    table = []
    for r in rows[:n]:
        cells = [r["hash"]] + [_csv_value(r.get(k)) for k in varied]
        if r["status"] != "ok":
            cells += ["diverged", ""]
        else:
            m = r["val_metric"] if key == "val_loss" else r["test_metric"]
            cells += [f"{r[key]:.4f}", "" if m is None else f"{m:.4f}"]
        table.append([str(c) for c in cells])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *table)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip()
             for line in [head, *table]]
    return "\n".join(lines)
