"""Test an api integration's connection: GET the first page exactly as the first poll would (the
integration's auth and session, the endpoint's own query, the pagination's first-page parameters, the
records path), but once: no retries, and every request bounded by the probe's timeout. It is the
poller's own page walk, limited to one page, so the two cannot disagree about the first request."""

from __future__ import annotations

import requests

from connectors.rest.http import HttpClient, safe_url, session_for
from connectors.rest.pages import PageWalk
from connectors.rest.stop import StopReason
from pipelines.integrations.model import ApiIntegration
from pipelines.sources import PullError
from pipelines.sources.probe import PROBE_TIMEOUT_SECONDS, Probe


class _WouldRetry(Exception):
    """The poller would wait and try again here; a probe reports the problem instead."""


def _stop_retrying(problem: str, _wait: float) -> None:
    raise _WouldRetry(problem)


def probe_api(config: ApiIntegration, *, timeout: float = PROBE_TIMEOUT_SECONDS) -> Probe:
    """Fetch the first page of `config`'s API (saved or not); never raises for what the API does."""
    api = config.api.model_copy(update={"timeout_seconds": min(config.api.timeout_seconds, timeout)})
    bounded = config.model_copy(update={"api": api})
    url = safe_url(config.endpoint or "")
    probe = Probe(source=f"GET {url}")
    answers: list[requests.Response] = []
    try:
        session = session_for(bounded)
    except PullError as exc:  # a credential header the outbound policy refuses
        probe.error = str(exc)
        return probe.finish(bounded, None)
    session.hooks["response"].append(lambda response, *_args, **_kwargs: answers.append(response))
    client = HttpClient(bounded, session=session, on_retry=_stop_retrying)
    params = {api.cursor_param: api.cursor_start} if api.cursor_param and api.cursor_start else {}
    records = None
    pages = PageWalk(client, api, config.endpoint or "", params, max_pages=1)
    try:
        records = [record for page in pages for record in page.records]  # one page, and whether more follow
    except _WouldRetry as exc:
        probe.error = f"GET {url}: {exc} (a poll retries this up to {api.max_retries} times before giving up)"
    except PullError as exc:
        probe.error = str(exc)
    except requests.RequestException as exc:  # e.g. an endpoint requests cannot even send to
        probe.error = f"GET {url}: {type(exc).__name__}"
    finally:
        session.close()
    if answers:
        probe.reachable = True
        probe.status = f"HTTP {answers[-1].status_code} {answers[-1].reason}"
    if pages.stop is not None and pages.stop.reason is StopReason.MAX_PAGES:
        probe.notes.append(f"only the first page was fetched ({api.pagination.style} pagination)")
    return probe.finish(bounded, records)
