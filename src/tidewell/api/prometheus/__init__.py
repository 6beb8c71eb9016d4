"""Prometheus's HTTP query API (``/api/v1/query`` …) over any ``Queryable``."""

from tidewell.api.prometheus.routes import query_routes, render_result

__all__ = ["query_routes", "render_result"]
