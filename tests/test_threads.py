"""minitrain.threads: limit() sets and restores both pools, choose() and resolve() rules,
the load sampler on fake counters, the first-run notice. No timings."""
import io
import os

import numba
import pytest
from threadpoolctl import threadpool_info

from minitrain import threads


def blas_threads():
    """{library file: threads} of every BLAS/OpenMP pool threadpoolctl sees."""
    return {p["filepath"]: p["num_threads"] for p in threadpool_info()}


def test_limit_sets_and_restores_blas_and_numba():
    numba_before = numba.get_num_threads()
    with threads.limit(1) as handle:
        pools = blas_threads()
        # SciPy's OpenBLAS (the one Numba's np.dot calls) is loaded and limited too
        assert any("scipy" in path and "openblas" in path for path in pools)
        assert set(pools.values()) == {1}
        assert numba.get_num_threads() == 1
        assert handle.n == 1 and not handle.auto
    blas_before = blas_threads()
    assert numba.get_num_threads() == numba_before
    with threads.limit(1):
        pass
    assert blas_threads() == blas_before


def test_limit_restores_after_an_exception():
    numba_before, blas_before = numba.get_num_threads(), blas_threads()
    with pytest.raises(RuntimeError):
        with threads.limit(1):
            raise RuntimeError("boom")
    assert numba.get_num_threads() == numba_before
    assert blas_threads() == blas_before


def test_limit_caps_numba_at_its_pool_size_and_none_changes_nothing():
    numba_before, blas_before = numba.get_num_threads(), blas_threads()
    big = numba.config.NUMBA_NUM_THREADS + 3
    with threads.limit(big):
        assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS
    with threads.limit(None) as handle:
        assert handle is None
        assert numba.get_num_threads() == numba_before and blas_threads() == blas_before


def test_set_changes_both_pools_inside_limit():
    if threads.cores() < 2:
        pytest.skip("needs 2 cores to see a change")
    with threads.limit(2) as handle:
        handle.set(1)
        assert numba.get_num_threads() == 1 and set(blas_threads().values()) == {1}
        assert handle.changes and handle.changes[-1][1] == 1
        handle.set(2)
        assert numba.get_num_threads() == 2 and set(blas_threads().values()) == {2}


def test_choose_one_thread_for_tiny_nets_whatever_the_load(monkeypatch):
    monkeypatch.setattr(threads, "cores", lambda: 2)
    for sizes, batch in [([64, 64, 64, 10], 256), ([4, 16, 3], 32), ([100, 256, 128, 10], 32)]:
        assert threads.choose(sizes, batch, "float32", load=0.0) == 1


def test_choose_two_threads_for_big_steps_on_a_quiet_two_core_machine(monkeypatch):
    monkeypatch.setattr(threads, "cores", lambda: 2)
    assert threads.choose([784, 512, 256, 10], 128, "float32", load=0.0) == 2
    # float64 counts double: the same arithmetic takes twice as long
    assert threads.work([100, 256, 128, 10], 128, "float64") == \
        2 * threads.work([100, 256, 128, 10], 128, "float32")


def test_choose_one_thread_on_a_loaded_machine(monkeypatch):
    monkeypatch.setattr(threads, "cores", lambda: 2)
    assert threads.choose([784, 512, 256, 10], 128, load=threads.BUSY) == 1
    # without /proc/stat (macOS, Windows) the 1-minute load average decides
    # minus this process's own use over the window (held at 0 here: our own pools'
    # spinning threads would otherwise make the result depend on the previous test)
    frozen = os.times()
    monkeypatch.setattr(os, "times", lambda: frozen)
    monkeypatch.setattr(threads, "_PROC_STAT", "/nonexistent/stat")
    monkeypatch.setattr(threads, "SAMPLE_SECONDS", 0.05)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.9, 1.0, 0.5))
    monkeypatch.setattr(threads, "_last", threads._Sample())
    assert threads.choose([784, 512, 256, 10], 128) == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    monkeypatch.setattr(threads, "_last", threads._Sample())
    assert threads.choose([784, 512, 256, 10], 128) == 2


def fake_proc_stat(tmp_path, busy, idle):
    path = tmp_path / "stat"
    path.write_text(f"cpu  {busy} 0 0 {idle} 0 0 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\n")
    return str(path)


def test_busy_elsewhere_reads_proc_stat_minus_this_process(tmp_path, monkeypatch):
    hz = os.sysconf("SC_CLK_TCK")
    monkeypatch.setattr(threads, "_PROC_STAT", fake_proc_stat(tmp_path, 0, 0))
    start = threads._Sample()
    # one second later: 1.5 core-seconds busy on the machine, this process used 0.5
    monkeypatch.setattr(threads, "_PROC_STAT", fake_proc_stat(tmp_path, int(1.5 * hz),
                                                              int(0.5 * hz)))
    end = threads._Sample()
    end.wall, end.own = start.wall + 1.0, start.own + 0.5
    monkeypatch.setattr(threads, "_Sample", lambda: end)
    assert threads.busy_elsewhere(start) == pytest.approx(1.0)


def test_check_steps_down_under_load_and_back_up_when_quiet(monkeypatch):
    if threads.cores() < 2:
        pytest.skip("needs 2 cores")
    monkeypatch.setattr(threads, "CHECK_SECONDS", 0.0)
    with threads.use(2, [784, 512, 256, 10], 128) as fixed:
        monkeypatch.setattr(threads, "busy_elsewhere", lambda since=None: 2.0)
        fixed.check()
        assert fixed.n == 2                      # a fixed count never changes
    monkeypatch.setattr(threads, "busy_elsewhere", lambda since=None: 0.0)
    with threads.use("auto", [784, 512, 256, 10], 128) as auto:
        assert auto.auto and auto.n == 2
        monkeypatch.setattr(threads, "busy_elsewhere", lambda since=None: 1.0)
        assert auto({"epoch": 1}) is None        # a callback that never stops training
        assert auto.n == 1 and numba.get_num_threads() == 1
        monkeypatch.setattr(threads, "busy_elsewhere", lambda since=None: 0.0)
        auto.check()
        assert auto.n == 2 and set(blas_threads().values()) == {2}


@pytest.mark.parametrize("value, expected", [(None, None), ("auto", None), ("AUTO", None),
                                             (1, 1), (4, 4), ("2", 2), (3.0, 3)])
def test_resolve_accepts(value, expected):
    assert threads.resolve(value) == expected


@pytest.mark.parametrize("value", [0, -1, 2.5, "two", "", True, [2], "0"])
def test_resolve_errors_are_one_line_value_errors_naming_threads(value):
    with pytest.raises(ValueError) as info:
        threads.resolve(value)
    message = str(info.value)
    assert message.startswith("threads must be") and "\n" not in message
    assert repr(value) in message


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_compile_notice_when_the_cache_is_empty(tmp_path, monkeypatch):
    from minitrain import nn
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))      # an empty cache
    step = nn.step_functions("tanh", "mse").pointer_source("float64")
    assert step.__qualname__ == "_loss_and_grad__tanh__mse__float64"
    assert not threads.kernels_cached(step)
    out = Terminal()
    assert threads.compile_notice(stream=out)
    assert out.getvalue() == threads.NOTICE + "\n"
    pipe = io.StringIO()                                       # not a terminal: silent
    assert not threads.compile_notice(stream=pipe) and pipe.getvalue() == ""


def test_no_notice_once_the_kernel_is_cached(tmp_path, monkeypatch):
    from numba import njit
    source = tmp_path / "kern.py"
    source.write_text("def twice(x):\n    return 2 * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "cache"))
    import kern
    fn = njit(cache=True)(kern.twice)
    assert not threads.kernels_cached(fn)
    assert threads.compile_notice(fn, stream=Terminal())
    fn(3)                                                      # compiles and saves
    assert threads.kernels_cached(fn)
    out = Terminal()
    assert not threads.compile_notice(fn, stream=out) and out.getvalue() == ""
    source.write_text("def twice(x):\n    return 2 * x  # edited\n")
    assert not threads.kernels_cached(fn)                      # stale: source changed


def test_the_thread_check_runs_between_chunks_of_one_epoch(monkeypatch):
    """A run's thread check is looked at between chunks of steps (about every 50 ms),
    not only once per epoch: a load that starts mid-epoch is seen mid-epoch."""
    import numpy as np

    from minitrain import _chunks
    from minitrain.experiments.runs import build_run, resolve
    calls = []
    monkeypatch.setattr(threads.Threads, "check", lambda self, *a: calls.append(1))
    monkeypatch.setattr(_chunks.Chunks, "MAX_STEPS", 1)        # chunks of one step
    run = build_run(resolve({"dataset": "moons", "n_samples": 200, "epochs": 1,
                             "batch_size": 20, "optimizer": "adam"}))
    history = run.train(threads="auto")
    assert len(calls) == history["step"][-1] >= 5             # once per chunk, mid-epoch
    assert np.isfinite(run.model.params).all()
