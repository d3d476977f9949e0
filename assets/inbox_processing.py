"""Inbox processing: sensor over the inbox, micro-batch processing asset. (Filled in by the receiver work.)"""
import dagster as dg

defs = dg.Definitions()
