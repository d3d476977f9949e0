"""Callback delivery from the outbox. (Filled in by the callbacks work.)"""
import dagster as dg

defs = dg.Definitions()
