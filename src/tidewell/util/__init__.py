"""Cross-cutting plumbing (config, logging, services). Imports only ``tidewell.model``."""
