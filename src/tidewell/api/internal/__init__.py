"""Internal HTTP routes: components serving each other (protobuf bodies, not JSON)."""

from tidewell.api.internal.cardinality_routes import internal_cardinality_routes
from tidewell.api.internal.meta_routes import internal_meta_routes
from tidewell.api.internal.routes import ConsistencyWaiter, internal_query_routes

__all__ = ["ConsistencyWaiter", "internal_cardinality_routes", "internal_meta_routes",
           "internal_query_routes"]
