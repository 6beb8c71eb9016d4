"""The built-in web UI: static assets (built from ui/web by its build.sh) and their routes."""

from tidewell.ui.routes import STATIC_DIR, ui_routes

__all__ = ["STATIC_DIR", "ui_routes"]
