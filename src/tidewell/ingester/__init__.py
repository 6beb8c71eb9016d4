"""The ingester: partition consumer → per-tenant TSDB heads; offsets; read consistency."""

from tidewell.ingest.consumer import ReadConsistencyTimeoutError
from tidewell.ingester.config import IngesterConfig, IngesterRingConfig, partition_of
from tidewell.ingester.ingester import EmptyQuerier, Ingester
from tidewell.ingester.limits import IngesterLimits, StaticLimits
from tidewell.ingester.routes import ingester_routes
from tidewell.ingester.user_tsdb import TenantRegistry, TenantTSDB, TSDBState

__all__ = [
    "EmptyQuerier",
    "Ingester",
    "IngesterConfig",
    "IngesterLimits",
    "IngesterRingConfig",
    "ReadConsistencyTimeoutError",
    "StaticLimits",
    "TSDBState",
    "TenantRegistry",
    "TenantTSDB",
    "ingester_routes",
    "partition_of",
]
