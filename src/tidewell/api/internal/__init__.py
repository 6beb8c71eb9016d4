"""Internal HTTP routes: components serving each other (protobuf bodies, not JSON)."""

from tidewell.api.internal.routes import ConsistencyWaiter, internal_query_routes

__all__ = ["ConsistencyWaiter", "internal_query_routes"]
