r"""How many threads a training run uses, chosen by measurement, set for the run only.

Training spends its time in OpenBLAS matrix products (called from Numba-compiled code
through SciPy's BLAS, and from NumPy) and in Numba's optimizer kernels (``prange`` twins
above a size threshold). Both pools start with one thread per core. That is right for
one large run on a quiet machine and very wrong otherwise: an OpenBLAS product split
over two threads waits for its slower half, so when another process holds one of the
cores every product waits for the scheduler. Measured on this 2-core machine (issue
17): a 100-256-128-10 step at batch 128 took 0.45 ms with one thread and 40-70 ms with
two while other processes kept both cores busy; one thread stayed at 0.45 ms.

The policy:

* :func:`choose` -- the default: two threads only for steps with enough arithmetic
  to gain from them (the rule and the measured crossover are at :data:`MIN_WORK`),
  and only when no other process keeps a core busy (:func:`busy_elsewhere`).
* :func:`resolve` -- a user's ``threads=`` / ``--threads N``: an int >= 1 fixes the
  count; None or ``"auto"`` means :func:`choose`.
* :func:`limit` -- applies a count to OpenBLAS/OpenMP (threadpoolctl) and to Numba for
  the duration of a ``with`` block and restores both after; no environment variables.
* :func:`use` -- all three for a run. In "auto" mode the handle it yields also steps
  down to one thread when another process starts to compete mid-run (and back up when
  it is gone): call :meth:`Threads.check` between steps or chunks of steps (it looks
  at the clock and reads ``/proc/stat`` at most every :data:`CHECK_SECONDS`): the run
  builder passes it to :func:`minitrain.train.fit` as ``between_steps``.

Reproducibility: OpenBLAS's float32 and float64 products give bit-identical results
at 1 and 2 threads for most shapes, but not all (measured: identical when the inner
dimension is <= 448 or a multiple of 128; 500, 513, 600 and 784 differ). A fixed
``threads=N`` never changes during a run, so "same seed, same thread count" gives the
same bits; "auto" may change the count mid-run when the machine's load changes, and
only for the large steps that use two threads at all.

:func:`compile_notice` prints one line on a terminal before Numba compiles kernels
that are not in its on-disk cache yet (the first run after installing or upgrading).
"""
from __future__ import annotations

import contextlib
import os
import sys
import time

__all__ = ["choose", "resolve", "limit", "use", "Threads", "busy_elsewhere", "cores",
           "compile_notice", "kernels_cached", "work", "MIN_WORK", "CHECK_SECONDS"]

#: Multiply-adds per step (batch x sum of n_in x n_out over the layers; doubled for
#: float64) from which a second thread pays on a quiet machine. Measured lone runs,
#: mt.fit on registry datasets, Adam, float32, 2 cores, us per step, 1 vs 2 threads
#: (scripts/bench_threads.py, rows with no other load):
#:
#:   64-64-64-10     b32/b128/b256   0.3M/1.1M/2.3M   30/66/142 vs 28/82/162    1 ~ 2
#:   100-256-128-10  b32             1.9M             148 vs 158                1
#:   100-256-128-10  b128            7.6M             385 vs 368                1 ~ 2
#:   100-256-128-10  b256            15M              719 vs 617                2 by 17%
#:   784-512-256-10  b32             17M              1245 vs 1017              2 by 22%
#:   784-512-256-10  b128            68M              2671 vs 1939              2 by 38%
#:   784-512-256-10  b256            137M             4499 vs 3127              2 by 44%
#:
#: Below ~1e7 the second thread gains nothing measurable; above it, 10% and more.
MIN_WORK = 1.0e7

#: Another process using at least this many cores makes :func:`choose` and
#: :meth:`Threads.check` fall back to one thread; below ``QUIET`` cores they go back up.
BUSY, QUIET = 0.5, 0.25

#: Seconds between two looks at the machine's load by :meth:`Threads.check`.
CHECK_SECONDS = 0.25

#: Minimum window for a load sample; a shorter one is extended by sleeping.
SAMPLE_SECONDS = 0.1

_PROC_STAT = "/proc/stat"


# ------------------------------------------------------------------ the machine


def cores():
    """Cores this process may run on (its CPU affinity where the OS tells)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class _Sample:
    """CPU time of the whole machine and of this process at one moment (seconds)."""

    def __init__(self):
        self.wall = time.perf_counter()
        t = os.times()
        self.own = t.user + t.system
        self.busy = self.total = None
        try:
            with open(_PROC_STAT, "rb") as f:
                fields = f.readline().split()[1:]
        except OSError:
            return
        ticks = [int(v) for v in fields[:8]]         # user nice system idle iowait irq softirq steal
        hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.total = sum(ticks) / hz
        self.busy = (sum(ticks) - ticks[3] - ticks[4]) / hz


_last = _Sample()          # taken at import: the first window covers data loading etc.


def busy_elsewhere(since=None):
    """Cores kept busy by other processes, averaged since the sample ``since``.

    Linux: the machine's busy CPU time from ``/proc/stat`` minus this process's own
    (``os.times``), over the window, divided by its length. Elsewhere: the 1-minute
    load average (``os.getloadavg``) minus this process's own recent use. A window
    shorter than :data:`SAMPLE_SECONDS` is extended by sleeping; with ``since=None``
    the window starts at the previous call (or at import), unless that was over a
    minute ago.
    """
    global _last
    start = since or _last
    now = _Sample()
    if since is None and now.wall - start.wall > 60:
        start, now = now, None
    if now is None or now.wall - start.wall < SAMPLE_SECONDS:
        time.sleep(max(0.0, SAMPLE_SECONDS - (time.perf_counter() - start.wall)))
        now = _Sample()
    if since is None:
        _last = now
    wall = now.wall - start.wall
    own = (now.own - start.own) / wall
    if now.busy is not None and start.busy is not None and now.total > start.total:
        # /proc/stat counts every core: busy ticks over wall seconds = busy cores
        busy = (now.busy - start.busy) / wall
        return max(0.0, busy - own)
    try:
        return max(0.0, os.getloadavg()[0] - own)
    except (AttributeError, OSError):
        return 0.0


# ------------------------------------------------------------------ the policy


def work(layer_sizes, batch_size, dtype="float32"):
    """Multiply-adds of one step's forward products, float64 counted twice."""
    macs = sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:])) * batch_size
    return macs * (2 if str(dtype) in ("float64", "<f8", "d") else 1)


def choose(layer_sizes, batch_size, dtype="float32", *, load=None):
    """The default thread count of a run, chosen by measurement (see :data:`MIN_WORK`).

    One thread unless the step has at least :data:`MIN_WORK` multiply-adds; then one
    per core, as long as no other process keeps :data:`BUSY` or more cores busy
    (``load``: cores busy elsewhere; measured by :func:`busy_elsewhere` when None).
    """
    n = cores()
    if n == 1 or work(layer_sizes, batch_size, dtype) < MIN_WORK:
        return 1
    if load is None:
        load = busy_elsewhere()
    return 1 if load >= BUSY else n


def resolve(threads):
    """A user's ``threads`` checked: an int >= 1, or None for "auto" (:func:`choose`).

    Accepts ints, strings of digits (the command line) and None or ``"auto"``.
    """
    if threads is None or (isinstance(threads, str) and threads.strip().lower() == "auto"):
        return None
    value = threads
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"threads must be an integer >= 1 or 'auto', got {threads!r}")
    return value


# ------------------------------------------------------------------ applying a count


class Threads:
    """The thread count in force inside :func:`limit` / :func:`use`.

    ``n`` is the count now; ``chosen`` what the run started with; ``auto`` whether
    :meth:`check` may change it. Calling the object (``handle(row)``) is
    :meth:`check`, so it can also be a per-epoch callback (it returns None: never stops
    training).
    """

    def __init__(self, n, auto=False):
        self.n = self.chosen = n
        self.auto = auto
        self.changes = []                    # (seconds since start, new count)
        self._started = self._checked = time.perf_counter()
        self._sample = _Sample()
        self._limiter = None

    def set(self, n):
        """Use ``n`` threads from now on (OpenBLAS/OpenMP and Numba)."""
        import numba
        self._limiter.restore_original_limits()
        self._limiter = _blas_limits(n)
        numba.set_num_threads(max(1, min(n, _numba_max())))
        if n != self.n:
            self.changes.append((time.perf_counter() - self._started, n))
        self.n = n

    def check(self, *_):
        """In auto mode: one thread while another process keeps :data:`BUSY` cores
        busy, back to :attr:`chosen` when it is under :data:`QUIET`. Cheap: does
        nothing until :data:`CHECK_SECONDS` have passed since the last look."""
        if not self.auto or self.chosen == 1:
            return None
        now = time.perf_counter()
        if now - self._checked < CHECK_SECONDS:
            return None
        self._checked = now
        load = busy_elsewhere(self._sample)
        self._sample = _Sample()
        if self.n > 1 and load >= BUSY:
            self.set(1)
        elif self.n == 1 and load < QUIET:
            self.set(self.chosen)
        return None

    __call__ = check

    def __repr__(self):
        return f"Threads(n={self.n}, chosen={self.chosen}, auto={self.auto})"


def _numba_max():
    from numba import config
    return config.NUMBA_NUM_THREADS


def _blas_limits(n):
    # SciPy's BLAS (what Numba's np.dot calls) is loaded lazily on the first product;
    # load it now so that threadpoolctl sees and limits it.
    import scipy.linalg.cython_blas  # noqa: F401
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=n)


@contextlib.contextmanager
def limit(n):
    """At most ``n`` OpenBLAS/OpenMP threads (threadpoolctl) and ``n`` Numba threads
    (``numba.set_num_threads``, capped at ``NUMBA_NUM_THREADS``) inside the block;
    both restored after. ``n=None`` changes nothing. Yields a :class:`Threads`.

    Numba's count is per calling thread: enter the block in the thread that trains.
    """
    if n is None:
        yield None
        return
    n = resolve(n)
    import numba
    before = numba.get_num_threads()
    handle = Threads(n)
    handle._limiter = _blas_limits(n)
    numba.set_num_threads(max(1, min(n, _numba_max())))
    try:
        yield handle
    finally:
        numba.set_num_threads(before)
        handle._limiter.restore_original_limits()


@contextlib.contextmanager
def use(threads, layer_sizes, batch_size, dtype="float32"):
    """The thread policy of one run: ``threads`` resolved (:func:`resolve`), chosen
    when "auto" (:func:`choose`), applied (:func:`limit`). Yields a :class:`Threads`
    whose :meth:`~Threads.check` adapts an "auto" count to the machine's load."""
    n = resolve(threads)
    auto = n is None
    if auto:
        n = choose(layer_sizes, batch_size, dtype)
    with limit(n) as handle:
        handle.auto = auto
        yield handle


# ------------------------------------------------------------------ first run


def _cache_dir(source):
    """Where Numba caches the kernels of the module file ``source`` (its locators'
    order: ``NUMBA_CACHE_DIR``, the package's ``__pycache__``, the user-wide cache)."""
    import hashlib
    folder = os.path.dirname(os.path.abspath(source))
    sub = "_".join([os.path.basename(folder), hashlib.sha1(folder.encode()).hexdigest()])
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.path.join(os.environ["NUMBA_CACHE_DIR"], sub)
    in_tree = os.path.join(folder, "__pycache__")
    if os.access(in_tree if os.path.isdir(in_tree) else folder, os.W_OK):
        return in_tree
    from numba.misc.appdirs import AppDirs
    return os.path.join(AppDirs(appname="numba", appauthor=False).user_cache_dir, sub)


def _index_is_fresh(path, stamp):
    """True when Numba's index file ``path`` belongs to this Numba and this source."""
    import pickle

    import numba
    try:
        with open(path, "rb") as f:
            if pickle.load(f) != numba.__version__:
                return False
            saved, overloads = pickle.loads(f.read())
    except Exception:                          # missing, partial or foreign: not cached
        return False
    return saved == stamp and bool(overloads)


def kernels_cached(*functions):
    """True when every function in ``functions`` has compiled code in Numba's on-disk
    cache for its current source (one file read each, nothing compiled).

    Each is a Numba dispatcher, or the plain function a compiled copy is made from
    (:func:`minitrain._jit.source_copy`, e.g. ``MLP._fns.pointer_source(dtype)``).
    Without arguments: the step of a relu/softmax float32 MLP.
    """
    import hashlib

    from numba import config
    if config.DISABLE_JIT:
        return True
    if not functions:
        from minitrain import nn
        functions = (nn.step_functions("relu", "softmax_crossentropy")
                     .pointer_source("float32"),)
    stamps = {}
    for fn in functions:
        py = getattr(fn, "py_func", fn)
        source = py.__code__.co_filename
        if source not in stamps:
            try:
                with open(source, "rb") as f:
                    stamps[source] = hashlib.sha256(f.read()).digest()
            except OSError:
                return False
        name = "%s-%s.py%d%d%s.nbi" % (py.__qualname__.replace("<", "").replace(">", ""),
                                       py.__code__.co_firstlineno, sys.version_info[0],
                                       sys.version_info[1], getattr(sys, "abiflags", ""))
        module = os.path.splitext(os.path.basename(source))[0]
        path = os.path.join(_cache_dir(source), f"{module}.{name}")
        if not _index_is_fresh(path, stamps[source]):
            return False
    return True


NOTICE = "compiling kernels (first run only)…"


def compile_notice(*functions, stream=None):
    """Print :data:`NOTICE` on ``stream`` (stderr) when it is a terminal and the
    kernels ``functions`` (see :func:`kernels_cached`) are not in Numba's cache yet.
    Returns True when the notice was printed."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    if not (isatty and isatty()) or kernels_cached(*functions):
        return False
    print(NOTICE, file=stream, flush=True)
    return True
