"""The embedded, file-backed ingest log (the default backend); see ``log.py``."""

from tidewell.ingest.embedded.log import EmbeddedLog, open_embedded_log
from tidewell.ingest.embedded.segment import LogCorruptionError

__all__ = ["EmbeddedLog", "LogCorruptionError", "open_embedded_log"]
