from __future__ import annotations

import pytest

import tidewell.frontend as frontend
from tidewell.frontend.config import (
    ErrInvalidMaxQueryParallelism,
    ErrInvalidResultsCacheBackend,
    ErrMissingMemcachedAddresses,
    FrontendConfig,
    MemcachedConfig,
    ResultsCacheConfig,
)
from tidewell.frontend.frontend import new_results_cache
from tidewell.util.config_tree import iter_leaves


def test_flags_and_defaults_are_mimirs():
    leaves = {leaf.flag: leaf.default for leaf in iter_leaves(FrontendConfig)}
    assert leaves["query-frontend.split-queries-by-interval"] == 86400.0
    assert leaves["query-frontend.align-queries-with-step"] is False
    assert leaves["query-frontend.cache-results"] is True
    assert leaves["query-frontend.max-cache-freshness"] == 600.0
    assert leaves["query-frontend.results-cache.backend"] == "inmemory"
    assert leaves["query-frontend.results-cache.memcached.addresses"] == []
    assert leaves["querier.max-query-parallelism"] == 14
    assert leaves["querier.max-outstanding-requests-per-tenant"] == 100


def test_validate_names_the_bad_setting():
    FrontendConfig().validate()
    with pytest.raises(ErrInvalidResultsCacheBackend, match=r"results-cache\.backend"):
        FrontendConfig(results_cache=ResultsCacheConfig(backend="redis")).validate()
    with pytest.raises(ErrMissingMemcachedAddresses, match=r"memcached\.addresses"):
        FrontendConfig(results_cache=ResultsCacheConfig(backend="memcached")).validate()
    with pytest.raises(ErrInvalidMaxQueryParallelism, match="max-query-parallelism"):
        FrontendConfig(max_query_parallelism=0).validate()


def test_backend_choice():
    assert isinstance(new_results_cache(FrontendConfig()), frontend.InMemoryCache)
    assert new_results_cache(FrontendConfig(cache_results=False)) is None
    assert new_results_cache(FrontendConfig(results_cache=ResultsCacheConfig(backend=""))) is None
    mc = new_results_cache(FrontendConfig(results_cache=ResultsCacheConfig(
        backend="memcached", memcached=MemcachedConfig(addresses=["127.0.0.1:11211"]))))
    assert isinstance(mc, frontend.MemcachedCache)


def test_public_surface_is_pinned():
    assert sorted(frontend.__all__) == [
        "Cache", "FrontendConfig", "HTTPDownstream", "Handler", "InMemoryCache",
        "MemcachedCache", "Middleware", "QueryFrontend", "QueryRequest", "QueryResponse",
        "asgi_downstream", "compose", "frontend_routes", "http_downstream", "new_results_cache",
    ]
    assert all(hasattr(frontend, name) for name in frontend.__all__)
