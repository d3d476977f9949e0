"""REST polling (the Logitrack plan's option 1): GET the client's API page by page, ingest, keep a cursor."""

from connectors.rest.poller import poll_api

__all__ = ["poll_api"]
