"""Shared fixtures."""
import pytest


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """One dataset cache per test module (loky keeps its workers, and their environment,
    from one test to the next, so the directory must outlive single tests)."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def minitrain_cache(cache_dir, monkeypatch):
    """Point minitrain's dataset cache at the module's temporary directory."""
    monkeypatch.setenv("MINITRAIN_CACHE", str(cache_dir))
