"""Helpers shared by the benchmark scripts: repeat statistics and the machine's noise.

Machines here are shared. Every benchmark prints median, min and max over repeats, and
the background load while it measured: the cores that *other* processes kept busy
(``/proc/stat``'s busy time minus this process's and its children's), so a reader can
tell a slow result from a busy machine.
"""
from __future__ import annotations

import os
import statistics
import time


def stats(values):
    """(median, min, max) of a list of numbers."""
    return statistics.median(values), min(values), max(values)


def fmt_stats(values, scale=1e6, width=8):
    """'median min max' of ``values`` (seconds) in microseconds, or dashes."""
    if not values:
        return f"{'-':>{width}}{'-':>{width - 1}}{'-':>{width - 1}}"
    med, lo, hi = stats(values)
    return f"{med * scale:>{width}.0f}{lo * scale:>{width - 1}.0f}{hi * scale:>{width - 1}.0f}"


def _children():
    t = os.times()
    return t.children_user + t.children_system


class Background:
    """``with Background() as bg: ...`` then ``bg.cores``: cores other processes kept busy
    meanwhile (this process and the children it waited for excluded; nan off Linux)."""

    def __enter__(self):
        from minitrain import threads
        self.start, self.children = threads._Sample(), _children()
        return self

    def __exit__(self, *exc):
        from minitrain import threads
        end = threads._Sample()
        wall = end.wall - self.start.wall
        self.cores = float("nan")
        if end.busy is not None and self.start.busy is not None and wall > 0:
            ours = (end.own - self.start.own) + (_children() - self.children)
            self.cores = max(0.0, (end.busy - self.start.busy) - ours) / wall


def background_now(seconds=0.5):
    """Cores other processes keep busy, measured over ``seconds``."""
    from minitrain import threads
    start = threads._Sample()
    time.sleep(seconds)
    return threads.busy_elsewhere(start)


def wait_quiet(limit=0.3, patience=60.0):
    """Wait up to ``patience`` seconds for other processes to use under ``limit`` cores;
    return the last load seen."""
    deadline = time.perf_counter() + patience
    while True:
        load = background_now()
        if load < limit or time.perf_counter() > deadline:
            return load
