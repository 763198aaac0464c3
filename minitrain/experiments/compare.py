"""Compare optimizers side by side: same data, same initial weights, same minibatches.

For every seed, each optimizer trains a model built from the same config except for
the optimizer and its lr. The model seed and the shuffling seed are the run's seed,
so within a seed every optimizer starts from identical weights and sees identical
minibatches in the same order; only the update rule differs. Over several seeds the
table shows mean ± standard deviation (sample std, ddof=1)::

    result = mt.compare("digits", ["sgd", "momentum", "adam"], epochs=20, seeds=[0, 1, 2])
    print(result.table())         # ranked by final validation loss
    result.summary                # one dict per optimizer
    result.curves                 # one dict per optimizer, seed and epoch

The same optimizer can run under both update-rule conventions side by side
(``["adam", "adam@keras"]``): the rows are labelled ``adam`` and ``adam@keras``.

The runs themselves are :func:`minitrain.experiments.sweep.run_config` calls, so ``jobs=N`` runs
them in N worker processes with exactly the same results.
"""
from __future__ import annotations

import math
import statistics
from pathlib import Path

from minitrain import files
from minitrain.experiments import runs

__all__ = ["compare", "Comparison", "CompareError", "SUMMARY_COLUMNS", "CURVE_COLUMNS"]

CURVE_COLUMNS = ("optimizer", "seed", "epoch", "step", "lr", "train_loss", "val_loss",
                 "metric")
# per optimizer; the *_mean/*_std pairs come from these names
STATS = ("final_val_loss", "best_val_loss", "final_metric", "best_metric", "best_epoch",
         "seconds", "steps_per_second")
SUMMARY_COLUMNS = ("rank", "optimizer", "lr", "runs", "diverged",
                   *(f"{s}_{m}" for s in STATS for m in ("mean", "std")))


class CompareError(ValueError):
    """A run of the comparison failed (not diverged: failed), or bad arguments."""


def _lr_for(lr, label, name):
    if lr is None:
        return None
    if isinstance(lr, dict):
        return lr.get(label, lr.get(name))
    return lr


def run_label(cfg, convention="torch"):
    """A run's row label: its optimizer, with ``@convention`` when not the default."""
    conv = cfg.get("convention", "torch")
    return cfg["optimizer"] if conv == convention else f"{cfg['optimizer']}@{conv}"


def compare(dataset=None, optimizers=None, *, lr=None, schedule=None, schedule_params=None,
            epochs=None, seeds=(0,), jobs=1, out=None, progress=False, convention=None,
            force=False, threads="auto", **options):
    """Train each optimizer on the same data from the same start; tabulate the results.

    Parameters
    ----------
    dataset : str, optional
        A registry dataset (or give ``data="file.csv"`` and ``target=`` in ``options``).
    optimizers : sequence of str, optional
        Registry names, each optionally ``NAME@CONVENTION`` (``"adam@keras"``, see
        :func:`minitrain.optim.parse_spec`); default: all of them, in
        :func:`minitrain.optim.names` order.
    lr : float or dict, optional
        One lr for every optimizer, or ``{label or name: lr}`` (a plain name covers
        ``name@keras`` too unless that label has its own); missing ones get
        :func:`minitrain.optim.default_lr`.
    schedule : str, optional
        A schedule name; its ``lr``/``max_lr`` is each optimizer's lr.
    schedule_params : dict, optional
        Further schedule parameters (library names).
    epochs : int, optional
        Default: the trainer's default for the dataset.
    seeds : sequence of int, default=(0,)
    jobs : int, default=1
        Worker processes (1: in this process). Timing columns are per run, and
        runs sharing the machine slow each other down.
    out : path, optional
        Also write ``summary.csv``, ``curves.csv`` and (with matplotlib) ``curves.png``
        there: a new or empty folder, or one minitrain wrote that holds no comparison.
    threads : int or "auto", default="auto"
        Threads per run (:func:`minitrain.threads.choose` when "auto"; with ``jobs > 1``
        each worker process gets one unless an int is given).
    force : bool, default=False
        Write into ``out`` anyway (only the three files named above are replaced).
    progress : bool, default=False
        One line per finished run on stderr.
    convention : {"torch", "keras"}, optional
        The update rules of the optimizers named without ``@CONVENTION`` (default: each
        optimizer's own, :func:`minitrain.optim.conventions`); their rows carry the
        plain name, the others ``NAME@CONVENTION``.
    **options
        Any other option of :func:`minitrain.experiments.runs.resolve` (hidden, batch_size,
        n_samples, val_split, ...).

    Returns
    -------
    Comparison
    """
    from minitrain import optim
    specs = list(optimizers) if optimizers is not None else list(optim.names())
    if not specs:
        raise CompareError("compare: optimizers must name at least one optimizer, got []")
    found = parse_run_specs(specs, convention)
    labels = [label for label, *_ in found]
    if len(set(labels)) != len(labels):
        raise CompareError(f"compare: optimizers must be distinct, got {labels}")
    if isinstance(lr, dict):
        stray = sorted(set(lr) - set(labels) - {name for _, name, *_ in found})
        if stray:
            raise CompareError(f"compare: lr given for {', '.join(stray)}, which is not "
                               f"among the optimizers ({', '.join(labels)})")
    seeds = list(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise CompareError(f"compare: seeds must be distinct and at least one, got {seeds}")
    for key, through in (("optimizer", "optimizers"), ("seed", "seeds"),
                         ("convention", "convention or NAME@CONVENTION in optimizers")):
        if key in options:
            raise CompareError(f"compare: pass {key} through {through}=")
    configs, run_labels = [], []
    try:
        for seed in seeds:
            for row_label, name, conv, sched, sched_params in found:
                own = sched is not None
                configs.append(runs.resolve({
                    **options, "dataset": dataset, "optimizer": name, "convention": conv,
                    "lr": _lr_for(lr, row_label, name),
                    "schedule": sched if own else schedule,
                    "schedule_params": dict(sched_params if own else schedule_params or {}),
                    "epochs": epochs, "seed": seed}))
                run_labels.append(row_label)
    except runs.OptionError:
        raise                    # the run builder's message, as from every command
    except runs.RunError as e:
        raise CompareError(f"compare: {e}") from None
    if configs[0]["val_split"] <= 0:
        raise CompareError("compare: val_split must be > 0 (the table ranks by validation "
                           f"loss), got {configs[0]['val_split']}")
    # a missing file, an unknown dataset, a loss that does not fit: fail before training
    runs.check_with_data(configs[0], runs.load_data(configs[0]))
    created = out is not None and not Path(out).exists()
    if out is not None:
        files.claim_folder(out, "comparison", COMPARE_FILES, force=force)
    try:
        return _run_comparison(configs, run_labels, found, labels, seeds, jobs, out,
                               progress, convention, threads)
    except BaseException:
        if created:
            files.remove_if_only_ours(out)
        raise


#: The files a comparison writes into its folder.
COMPARE_FILES = ("summary.csv", "curves.csv", "curves.png")


def parse_run_specs(specs, convention=None):
    """Run specs -> ``[(label, optimizer, convention, schedule, schedule_params)]``.

    A spec is ``OPTIMIZER[@CONVENTION][/SCHEDULE[:key=value,...]]``: ``adam``,
    ``adam@keras``, ``nesterov/onecycle``, ``nesterov/constant``,
    ``sgd/cosine:min_lr=1e-4`` (schedule text as :func:`minitrain.schedules.parse_spec`;
    lr, max_lr and total_steps come from the run). Without ``/SCHEDULE`` the
    comparison's ``schedule`` applies. The label is the spec, with ``@CONVENTION``
    only when it differs from ``convention``.
    """
    from minitrain import optim, schedules
    from minitrain.lab import entries
    out = []
    for spec in specs:
        if not isinstance(spec, str):
            raise CompareError(f"compare: a run spec must be a string, got {spec!r}")
        opt_part, slash, sched_part = spec.partition("/")
        name = opt_part.partition("@")[0].strip()
        if name not in optim.names():
            raise CompareError(f"compare: unknown optimizer {name!r}; valid: "
                               f"{', '.join(optim.names())}")
        try:
            [(label, name, conv)] = entries([opt_part.strip()], convention)
            sched, params = (schedules.parse_spec(sched_part) if slash else (None, None))
        except (TypeError, ValueError) as e:
            raise CompareError(f"compare: {spec!r}: {e}") from None
        if slash:
            label = f"{label}/{sched_part.strip()}"
        out.append((label, name, conv, sched, params))
    return out


def _run_comparison(configs, run_labels, found, labels, seeds, jobs, out, progress,
                    convention, threads):
    from minitrain.experiments.sweep import _Progress, config_hash, execute
    if len({config_hash(c) for c in configs}) != len(configs):
        raise CompareError(f"compare: two of the runs {labels} are the same run")
    label_of = {config_hash(c): label for c, label in zip(configs, run_labels)}
    if jobs == 1:
        _warm_up(configs[0], found)
    results = {}
    bar = _Progress(progress, len(configs), 0, label="compare")
    if threads == "auto" and jobs > 1:
        threads = 1                          # one core per worker process
    for res in execute(configs, jobs=jobs, threads=threads):
        results[res["hash"]] = res
        bar.update(res)
    ordered = [results[config_hash(c)] for c in configs]
    failed = [r for r in ordered if r["status"] == "failed"]
    if failed:
        cfg = failed[0]["config"]
        raise CompareError(f"compare: {label_of[failed[0]['hash']]} (seed {cfg['seed']}) "
                           f"failed: {failed[0]['error']}")
    comparison = Comparison(labels, seeds, ordered, convention,
                            [label_of[r["hash"]] for r in ordered])
    if out is not None:
        comparison.write(out)
    return comparison


def _warm_up(cfg, found):
    """Compile (or load from Numba's cache) the kernels before any run is timed.

    Otherwise the first run of each optimizer would pay for it in the time columns.
    """
    import numpy as np

    import minitrain as mt
    classes = cfg["loss"] in (None, "softmax_crossentropy")
    model = mt.MLP([2, 2, 2 if classes else 1], activation=cfg["activation"],
                   loss=cfg["loss"] or "softmax_crossentropy", dtype=cfg["dtype"])
    X = np.zeros((2, 2))
    y = np.array([0, 1]) if classes else np.zeros(2)
    from minitrain.train import evaluate
    for _, name, conv, *_ in found:                # one step each, as the runs train
        mt.fit(model, mt.optim.get(name, convention=conv), (X, y), epochs=1, batch_size=2,
               progress=False)
    evaluate(model, model.check_X(X), model.check_y(y, 2))


def _mean_std(values):
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return None, None
    mean = statistics.fmean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else None


class Comparison:
    """The tables of a comparison.

    Attributes
    ----------
    summary : list of dict
        One row per optimizer (labelled ``adam``, or ``adam@keras`` for an optimizer
        run under the other convention), ranked by mean final validation loss (diverged
        optimizers last): the columns of :data:`SUMMARY_COLUMNS`.
    curves : list of dict
        One row per optimizer, seed and epoch: :data:`CURVE_COLUMNS`.
    results : list of dict
        The raw :func:`minitrain.experiments.sweep.run_config` results, seed by seed.
    metric : str
        "accuracy" or "r2".
    convention : str
        The default convention (rows of the other one carry ``@CONVENTION``).
    """

    def __init__(self, optimizers, seeds, results, convention="torch", run_labels=None):
        self.optimizers, self.seeds, self.results = list(optimizers), list(seeds), results
        self.convention = convention
        self.run_labels = list(run_labels) if run_labels is not None else [
            run_label(r["config"], convention) for r in results]
        self.config = results[0]["config"]
        self.metric = next((r["summary"]["metric"] for r in results
                            if r["summary"] and r["summary"]["metric"]), "accuracy")
        self.curves = [
            {"optimizer": label, "seed": r["config"]["seed"],
             "epoch": row["epoch"], "step": row["step"], "lr": row["lr"],
             "train_loss": row["train_loss"], "val_loss": row["val_loss"],
             "metric": row["val_metric"]}
            for r, label in zip(results, self.run_labels) for row in r["history"]]
        self.summary = self._summarise()

    def _summarise(self):
        table = []
        for name in self.optimizers:
            mine = [r for r, label in zip(self.results, self.run_labels) if label == name]
            ok = [r for r in mine if r["status"] == "ok"]
            per_run = {key: [] for key in STATS}
            for r in ok:
                hist = r["history"]
                losses = [h["val_loss"] for h in hist]
                best = min(range(len(hist)), key=lambda i: losses[i])
                per_run["final_val_loss"].append(losses[-1])
                per_run["best_val_loss"].append(losses[best])
                per_run["final_metric"].append(hist[-1]["val_metric"])
                per_run["best_metric"].append(max(h["val_metric"] for h in hist))
                per_run["best_epoch"].append(hist[best]["epoch"])
                per_run["seconds"].append(r["summary"]["seconds"])
                per_run["steps_per_second"].append(r["summary"]["steps_per_second"])
            row = {"optimizer": name, "lr": mine[0]["config"]["lr"], "runs": len(mine),
                   "diverged": len(mine) - len(ok)}
            for key, values in per_run.items():
                row[f"{key}_mean"], row[f"{key}_std"] = _mean_std(values)
            table.append(row)

        def rank(row):
            loss = row["final_val_loss_mean"]
            return (row["diverged"] > 0, math.inf if loss is None else loss)
        table.sort(key=rank)                         # stable: ties keep the given order
        for i, row in enumerate(table, 1):
            row["rank"] = i
        return [{k: row[k] for k in SUMMARY_COLUMNS} for row in table]

    def table(self):
        """The summary as aligned text, ranked by mean final validation loss."""
        m = self.metric
        head = ["#", "optimizer", "lr", "final val_loss", "best val_loss", f"final {m}",
                f"best {m}", "best epoch", "time s", "steps/s"]
        lines = []
        for row in self.summary:
            def pm(key, fmt=".4f"):
                mean, std = row[f"{key}_mean"], row[f"{key}_std"]
                if mean is None:
                    return "-"
                return f"{mean:{fmt}}" + ("" if std is None else f" ± {std:{fmt}}")
            cells = [str(row["rank"]), row["optimizer"], f"{row['lr']:g}",
                     pm("final_val_loss"), pm("best_val_loss"), pm("final_metric"),
                     pm("best_metric"), pm("best_epoch", ".1f"), pm("seconds", ".3f"),
                     pm("steps_per_second", ",.0f")]
            if row["diverged"]:
                cells[1] += f" (diverged {row['diverged']}/{row['runs']})"
            lines.append(cells)
        widths = [max(len(c[i]) for c in [head, *lines]) for i in range(len(head))]
        right = range(2, len(head))
        text = ["  ".join(c.rjust(w) if i in right else c.ljust(w)
                          for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
                for cells in [head, *lines]]
        cfg = self.config
        seeds = ",".join(map(str, self.seeds))
        title = (f"{cfg['dataset'] or Path(cfg['data']).name}: {cfg['epochs']} epochs, batch "
                 f"{cfg['batch_size']}, hidden {','.join(map(str, cfg['hidden']))}, schedule "
                 f"{cfg['schedule'] or 'none'}, seeds {seeds}"
                 + (f", convention {self.convention}" if self.convention != "torch" else ""))
        note = ("mean ± std over seeds" if len(self.seeds) > 1 else "one seed") + \
            "; ranked by final validation loss"
        return "\n".join([title, note, *text, "", self.verdict()])

    def verdict(self):
        """One line: which run wins, by how much, and whether that is more than the
        spread over seeds (or: a single seed cannot tell)."""
        rows = [r for r in self.summary if not r["diverged"]
                and r["final_val_loss_mean"] is not None]
        if not rows:
            return "verdict: every run diverged"
        best = rows[0]
        if len(rows) == 1:
            return f"verdict: {best['optimizer']} is the only run that did not diverge"
        second = rows[1]
        gap = second["final_val_loss_mean"] - best["final_val_loss_mean"]
        text = (f"verdict: {best['optimizer']} ends lowest (val_loss "
                f"{best['final_val_loss_mean']:.4f} vs {second['final_val_loss_mean']:.4f} for "
                f"{second['optimizer']}, {self.metric} {best['final_metric_mean']:.4f} vs "
                f"{second['final_metric_mean']:.4f})")
        spreads = [r["final_val_loss_std"] for r in (best, second)]
        if None in spreads:
            return text + "; one seed: add --seeds 0,1,2 to see if the gap is real"
        clear = gap > sum(spreads)
        return text + ("; the gap is larger than the spread over seeds" if clear else
                       "; within the spread over seeds: no clear winner")

    def write(self, out):
        """Write ``summary.csv``, ``curves.csv`` and, with matplotlib, ``curves.png``.

        Returns the list of paths written (``curves.png`` is missing from it when
        matplotlib is not installed).
        """
        out = Path(out)
        _write_csv(out / "summary.csv", SUMMARY_COLUMNS, self.summary)
        _write_csv(out / "curves.csv", CURVE_COLUMNS, self.curves)
        written = [out / "summary.csv", out / "curves.csv"]
        if self.plot(out / "curves.png"):
            written.append(out / "curves.png")
        return written

    def plot(self, path):
        """Train and validation loss (mean, band ± std over seeds) and lr per epoch.

        Returns False, drawing nothing, when matplotlib is not installed.
        """
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            return False
        import numpy as np
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
        panels = (("train_loss", "train loss"), ("val_loss", "validation loss"), ("lr", "lr"))
        for i, name in enumerate(self.optimizers):
            rows = [r for r in self.curves if r["optimizer"] == name]
            if not rows:
                continue
            epochs = sorted({r["epoch"] for r in rows})
            for ax, (key, label) in zip(axes, panels):
                by_epoch = [[r[key] for r in rows if r["epoch"] == e] for e in epochs]
                mean = np.array([np.mean(v) for v in by_epoch])
                std = np.array([np.std(v, ddof=1) if len(v) > 1 else 0.0 for v in by_epoch])
                ax.plot(epochs, mean, color=f"C{i}", label=name, lw=1.4)
                if key != "lr" and std.any():
                    ax.fill_between(epochs, mean - std, mean + std, color=f"C{i}",
                                    alpha=0.2, lw=0)
                ax.set_title(label)
                ax.set_xlabel("epoch")
        for ax in axes:
            ax.set_yscale("log")
        axes[0].legend(fontsize=8)
        fig.suptitle(self.table().splitlines()[0], fontsize=9)
        fig.tight_layout()
        from minitrain.files import save_figure
        save_figure(fig, path)
        plt.close(fig)
        return True


def _write_csv(path, columns, rows):
    from minitrain.files import write_csv
    write_csv(path, columns, rows)
