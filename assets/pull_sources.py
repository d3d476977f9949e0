"""Pull sources: REST polling, DB extraction, file drops. (Filled in by the pull-sources work.)"""
import dagster as dg

defs = dg.Definitions()
