"""The first run compiles on two cores (minitrain/_warm.py).

The helper process must compile exactly what the run then uses: after it, a fit in a
fresh process compiles none of minitrain's functions itself except the step (every
argument type matches). Each case runs in a fresh Python with an empty Numba cache.
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np, scipy.sparse
    from numba.core import event
    import minitrain as mt
    from minitrain import _warm, nn
    from minitrain.train import Trainer

    act, loss, dtype, sparse, opt, hp, sizes = json.loads(sys.argv[1])
    rng = np.random.default_rng(0)
    X = rng.random((20, sizes[0])).astype(dtype)
    if sparse:
        X = scipy.sparse.csr_matrix(X)
    k = sizes[-1]
    y = (rng.integers(0, k, 20) if loss == "softmax_crossentropy" else
         rng.integers(0, 2, (20, k)) if k > 1 else rng.integers(0, 2, 20).astype(float))
    model = mt.MLP(sizes, activation=act, loss=loss, dtype=dtype)
    optimizer = mt.optim.get(opt, **hp)
    helper = _warm.start(Trainer(model, optimizer, (X, y), epochs=1, batch_size=8))
    helper.wait()
    compiled = []

    class Listener(event.Listener):
        def on_start(self, e):
            pass

        def on_end(self, e):
            compiled.append(getattr(e.data.get("dispatcher"), "__name__", "?"))

    event.register("numba:compile", Listener())
    history = mt.fit(model, optimizer, (X, y), epochs=2, batch_size=8, progress=False)
    print(json.dumps({"helper": helper.returncode, "compiled": sorted(set(compiled)),
                      "finite": bool(np.isfinite(history["train_loss"]).all())}))
""")

CASES = [
    ("relu", "softmax_crossentropy", "float32", False, "adam", {}, [5, 4, 3]),
    ("tanh", "mse", "float64", True, "momentum", {}, [5, 4, 1]),
    ("gelu", "binary_crossentropy", "float32", False, "rmsprop",
     {"momentum": 0.9, "centered": True}, [5, 4, 4, 2]),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[1]}-{c[4]}" for c in CASES])
def test_the_helper_compiles_everything_the_run_uses_but_the_step(case, tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}      # the first run
    done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(case)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["helper"] == 0 and result["finite"]
    # Numba's internal np.dot helpers are never cached; everything else came from disk
    assert [name for name in result["compiled"] if name != "<lambda>"] == []


def test_no_helper_on_one_core_or_once_cached(monkeypatch):
    import numpy as np

    import minitrain as mt
    from minitrain import _warm, threads
    from minitrain.train import Trainer
    model = mt.MLP([3, 2])
    trainer = Trainer(model, mt.optim.get("sgd"), (np.zeros((4, 3)), np.zeros(4, int)),
                      epochs=1)
    monkeypatch.setattr(threads, "kernels_cached", lambda *f: False)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert _warm.start(trainer) is None
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(threads, "kernels_cached", lambda *f: True)
    assert _warm.start(trainer) is None
