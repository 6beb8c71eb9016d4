"""The query-frontend: step alignment, splitting, results caching and fair queueing
in front of the querier's Prometheus API (Mimir's ``querymiddleware``)."""

from tidewell.frontend.cache import Cache, InMemoryCache
from tidewell.frontend.config import FrontendConfig
from tidewell.frontend.downstream import HTTPDownstream, asgi_downstream, http_downstream
from tidewell.frontend.frontend import QueryFrontend, compose, new_results_cache
from tidewell.frontend.memcached import MemcachedCache
from tidewell.frontend.request import Handler, Middleware, QueryRequest, QueryResponse
from tidewell.frontend.routes import frontend_routes

__all__ = [
    "Cache",
    "FrontendConfig",
    "HTTPDownstream",
    "Handler",
    "InMemoryCache",
    "MemcachedCache",
    "Middleware",
    "QueryFrontend",
    "QueryRequest",
    "QueryResponse",
    "asgi_downstream",
    "compose",
    "frontend_routes",
    "http_downstream",
    "new_results_cache",
]
