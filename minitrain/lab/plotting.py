"""Drawing :class:`~minitrain.lab.trajectories.Paths`: contours with every path, and value
against step. matplotlib is imported only here, only when a picture is asked for.

A picture must show what the table says, so every path stays visible:

- each path has its own colour **and** its own marker (:data:`MARKERS`), so two paths
  that coincide (Adam and AdamW on a bowl) still show both marker shapes;
- markers sit at staggered steps (path ``i`` of ``n`` from step ``i * every / n``), so
  coinciding paths do not stack their markers on top of each other;
- earlier paths are drawn wider, under the later ones: a path hidden under another
  shows as a coloured rim;
- the start and the minimum are black and white marks (no path uses black or white);
- the legend sits outside both axes, to the right, never over the data.
"""
from __future__ import annotations

import numpy as np

__all__ = ["MARKERS", "MINIMUM_STYLE", "START_STYLE", "colours", "figure", "save_png",
           "save_gif"]

#: Path markers, one per path in order (the star is kept for the minimum).
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "p", "h", "d", "8", "H")
#: The minimum: a black star with a white edge (no path is black).
MINIMUM_STYLE = dict(marker="*", color="black", markeredgecolor="white", ms=18,
                     linestyle="none", zorder=10)
#: The start: a white circle with a black edge.
START_STYLE = dict(marker="o", color="white", markeredgecolor="black", ms=9,
                   markeredgewidth=1.5, linestyle="none", zorder=10)


def colours(n):
    """``n`` distinct path colours: tab10, then tab20's light shades (never black/white)."""
    import matplotlib
    base = list(matplotlib.colormaps["tab10"].colors)
    light = list(matplotlib.colormaps["tab20"].colors)[1::2]
    palette = base + light
    if n > len(palette):
        raise ValueError(f"paths: a plot shows at most {len(palette)} paths, got {n}")
    return palette[:n]


def _gap(paths, values):
    """``f - f_min``, floored at 1e-16 for the log scale."""
    return np.maximum(values - paths.function.f_min, 1e-16)


def figure(paths, animated=False):
    """The figure of ``paths``: ``(fig, path_lines, value_lines)``.

    ``animated=True`` draws only the first point of each path (the GIF grows them).
    The figure is a plain :class:`matplotlib.figure.Figure` on an Agg canvas: pyplot
    and its backend are left alone (a notebook shows it with ``display(fig)``).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fn, runs = paths.function, paths.trajectories
    (x0, x1), (y0, y1) = fn.window
    X, Y = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
    gap = fn.value(X, Y) - fn.f_min
    fig = Figure(figsize=(15, 5.5))
    FigureCanvasAgg(fig)
    ax, ax_loss = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.7, 1]})
    low = max(np.percentile(gap, 0.5), 1e-3)
    levels = np.geomspace(low, gap.max(), 25) if gap.max() > low else 25
    ax.contour(X, Y, gap, levels=levels, cmap="Greys", linewidths=0.6, alpha=0.7)
    every = max(len(runs), paths.steps // 15)      # about 15 markers per path
    lines, marks = [], []
    for i, (t, colour) in enumerate(zip(runs, colours(len(runs)))):
        style = dict(color=colour, marker=MARKERS[i % len(MARKERS)], ms=6,
                     markevery=(i * every // len(runs), every), lw=1.2 + 1.2 * (len(runs) - 1 - i)
                     / max(1, len(runs) - 1), label=f"{t.label} (lr={t.lr:g})",
                     zorder=3 + i)
        pts = t.points[:1] if animated else t.points
        (line,) = ax.plot(pts[:, 0], pts[:, 1], **style)
        vals = t.values[:1] if animated else t.values
        (mark,) = ax_loss.plot(np.arange(len(vals)), _gap(paths, vals), **style)
        lines.append(line)
        marks.append(mark)
    start = ax.plot(*paths.start, label="start", **START_STYLE)[0]
    mx, my = zip(*fn.minima)
    minimum = ax.plot(mx, my, label="minimum" if len(fn.minima) == 1 else "minima",
                      **MINIMUM_STYLE)[0]
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(f"{fn.name}: {paths.steps} steps"
                 + (f", schedule {paths.schedule}" if paths.schedule else ""))
    ax_loss.set_yscale("log")
    ax_loss.set_xlim(0, paths.steps)
    if animated:
        top = max(_gap(paths, t.values).max() for t in runs)
        bottom = min(_gap(paths, t.values).min() for t in runs)
        ax_loss.set_ylim(bottom / 2, top * 2)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("f(p) - f_min")
    ax_loss.set_title("value above the minimum (log scale)")
    ax_loss.grid(alpha=0.3)
    fig.legend(handles=[*lines, start, minimum], loc="center right", fontsize=9,
               frameon=False, borderaxespad=0.5)
    fig.tight_layout(rect=(0, 0, 0.85, 1))         # the right strip holds the legend
    return fig, lines, marks


def save_png(paths, filename):
    """Draw ``paths`` into a PNG file (written atomically)."""
    from minitrain.files import save_figure
    save_figure(figure(paths)[0], filename)


def save_gif(paths, filename, frames=30, fps=8, dpi=60):
    """An animation of the paths growing step by step (matplotlib's PillowWriter)."""
    from matplotlib.animation import FuncAnimation, PillowWriter
    fig, lines, marks = figure(paths, animated=True)
    n = max(len(t.points) for t in paths.trajectories)
    ks = np.unique(np.linspace(1, n, min(frames, n)).round().astype(int))

    def draw(k):
        for t, line, mark in zip(paths.trajectories, lines, marks):
            line.set_data(t.points[:k, 0], t.points[:k, 1])
            mark.set_data(np.arange(min(k, len(t.values))), _gap(paths, t.values[:k]))
        return [*lines, *marks]

    FuncAnimation(fig, draw, frames=ks, blit=False).save(
        filename, writer=PillowWriter(fps=fps), dpi=dpi)
