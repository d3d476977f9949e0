"""Crossdock's domain: integrations, mapping, targets, store, ingest. Framework-free by rule.

Nothing under this package imports dagster, streamlit or fastapi, so the same logic serves the
receiver, the Dagster assets, the Streamlit app, the CLI and the benchmarks.
"""
