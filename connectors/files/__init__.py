"""File drops: exports (CSV, XLSX, JSON Lines, Parquet) dropped in a watched folder, read once each."""

from connectors.files.drops import drop_folder, pull_files

__all__ = ["drop_folder", "pull_files"]
