"""What every pull source shares: windows, per-integration cursors/watermarks, pull reports."""

from pipelines.sources.report import PullError, PullReport
from pipelines.sources.state import get_state, set_state
from pipelines.sources.window import Window

__all__ = ["PullError", "PullReport", "Window", "get_state", "set_state"]
