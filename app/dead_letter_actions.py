"""The Dead letters page's actions: replay the ticked rows, replay an integration's dead letters since a
day, resume callbacks a 410 stopped, and re-ingest the payloads of rejected records once the mapping is
fixed. Each runs in its button's callback, before the page is drawn again, so the lists are already
fresh when the outcome (how many, and why any row was not replayed) is shown at the top of the tab.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta

import streamlit as st

from app import auth
from app.auth import actor
from app.store import engine
from pipelines.access.policy import Action
from pipelines.callbacks import ReplayRejected, replay_dead_callbacks, resume_callbacks
from pipelines.clock import utcnow
from pipelines.dead_letters.lists import Filters, RejectedRecordRow
from pipelines.dead_letters.replay import ReplayOutcome, replay_callback_rows, replay_inbox_rows
from pipelines.inbox.processing import replay
from pipelines.integrations import IntegrationNotFound, get_integration, list_integrations

GENERATION_KEY = "dead.generation"
ACTIVE_TAB_KEY = "dead.active_tab"  # inbox | callbacks | rejected: the tab to show after the counts change
_OUTCOME_KEY = "dead.outcome.{tab}"
INBOX_NEXT = (
    "They are pending again: the inbox processor (Dagster's inbox sensor) ingests them with the "
    "integration's current mapping on its next run."
)
CALLBACK_NEXT = "The next delivery pass sends them, with their original webhook-id (a receiver that already has one ignores it)."


def table_key(base: str) -> str:
    """A table's widget key. It changes after every action: replayed rows leave the list, and a
    selection remembered by row position would otherwise tick other rows."""
    generation = st.session_state.get(GENERATION_KEY, 0)
    return base + (f".{generation}" if generation else "")


def _done(tab: str, kind: str, text: str, refused: dict[int, str] | None = None) -> None:
    st.session_state[GENERATION_KEY] = st.session_state.get(GENERATION_KEY, 0) + 1
    st.session_state[ACTIVE_TAB_KEY] = tab
    st.session_state[_OUTCOME_KEY.format(tab=tab)] = {"kind": kind, "text": text, "refused": refused or {}}


def show_outcome(tab: str) -> None:
    """The last action's outcome on this tab, once."""
    outcome = st.session_state.pop(_OUTCOME_KEY.format(tab=tab), None)
    if not outcome:
        return
    getattr(st, outcome["kind"])(outcome["text"])
    if outcome["refused"]:
        st.warning("Not replayed:\n" + "\n".join(f"- **#{row}**: {reason}" for row, reason in outcome["refused"].items()))


def _ids(values: Sequence[int]) -> str:
    return ", ".join(f"#{v}" for v in values)


def _report(tab: str, outcome: ReplayOutcome, noun: str, next_step: str) -> None:
    if outcome.replayed:
        _done(tab, "success", f"Replayed {len(outcome.replayed)} {noun}: {_ids(outcome.replayed)}. {next_step}", outcome.refused)
    else:
        _done(tab, "error", f"Nothing was replayed ({len(outcome.refused)} {noun} refused).", outcome.refused)


def _since(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _bulk_defaults(filters: Filters, names: list[str], listed: list[str]) -> tuple[int, date]:
    """Preselect the filtered integration (else the first one listed) and the filter's first day."""
    wanted = filters.integration or (listed[0] if listed else None)
    index = names.index(wanted) if wanted in names else 0
    day = filters.since.date() if filters.since else utcnow().date() - timedelta(days=30)
    return index, day


# Inbox ------------------------------------------------------------------------------------------


def _replay_inbox(ids: list[int]) -> None:
    _report("inbox", replay_inbox_rows(engine(), ids, actor=actor()), "inbox payload(s)", INBOX_NEXT)


def _replay_inbox_since() -> None:
    name, day = st.session_state["dead.inbox.bulk.integration"], st.session_state["dead.inbox.bulk.since"]
    try:
        integration = get_integration(engine(), name)
    except IntegrationNotFound:
        _done("inbox", "error", f"{name} no longer exists.")
        return
    entries = replay(engine(), actor=actor(), integration_id=integration.id, since=_since(day))
    if entries:
        _done("inbox", "success", f"Replayed {len(entries)} dead payload(s) of {name} received since {day} (UTC). " + INBOX_NEXT)
    else:
        _done("inbox", "info", f"Nothing to replay: {name} has no dead inbox payloads received since {day} (UTC).")


def _may_replay() -> bool:
    if not auth.can(Action.REPLAY):
        st.caption("Replaying needs the operator role.")
        return False
    return True


def _replay_selected(ids: list[int], key: str, replay: Callable[[list[int]], None], explanation: str) -> None:
    """The table's "Replay selected" button, with what replaying does beside it."""
    left, right = st.columns([1, 3], vertical_alignment="center")
    left.button(
        f"Replay selected ({len(ids)})",
        type="primary",
        icon=":material/replay:",
        disabled=not ids,
        key=key,
        on_click=replay,
        args=(ids,),
    )
    right.caption(explanation)


def inbox_actions(ids: list[int], filters: Filters, names: list[str], listed: list[str]) -> None:
    """Under the inbox table: replay the ticked rows, or an integration's dead payloads since a day."""
    if not _may_replay():
        return
    _replay_selected(
        ids,
        "dead.inbox.replay",
        _replay_inbox,
        "Replaying sends a payload back to the inbox to be ingested again (fix the mapping first if "
        "that was the problem). Records that already landed come back unchanged.",
    )
    with st.expander("Replay every dead payload of an integration since a day"):
        index, day = _bulk_defaults(filters, names, listed)
        one, two = st.columns(2)
        name = one.selectbox("Integration", names, index=index, key="dead.inbox.bulk.integration")
        chosen = two.date_input("Received since (UTC day)", value=day, max_value=utcnow().date(), key="dead.inbox.bulk.since")
        st.caption("Whatever their reason: the reason filter above does not apply.")
        st.button(
            f"Replay {name}'s dead payloads since {chosen}",
            icon=":material/replay:",
            key="dead.inbox.bulk.go",
            on_click=_replay_inbox_since,
        )


# Callbacks --------------------------------------------------------------------------------------


def _replay_callbacks(ids: list[int]) -> None:
    _report("callbacks", replay_callback_rows(engine(), ids, actor=actor()), "callback(s)", CALLBACK_NEXT)


def _replay_callbacks_since() -> None:
    name, day = st.session_state["dead.callbacks.bulk.integration"], st.session_state["dead.callbacks.bulk.since"]
    try:
        count = replay_dead_callbacks(engine(), name, _since(day), actor=actor())
    except ReplayRejected as exc:
        _done("callbacks", "error", f"Nothing was replayed: {exc}.")
        return
    except IntegrationNotFound:
        _done("callbacks", "error", f"{name} no longer exists.")
        return
    if count:
        _done("callbacks", "success", f"Re-queued {count} dead callback(s) of {name} queued since {day} (UTC). " + CALLBACK_NEXT)
    else:
        _done("callbacks", "info", f"Nothing to replay: {name} has no dead callbacks queued since {day} (UTC).")


def _resume(name: str) -> None:
    try:
        count = resume_callbacks(engine(), name, actor=actor())
    except IntegrationNotFound:
        _done("callbacks", "error", f"{name} no longer exists.")
        return
    _done("callbacks", "success", f"Callbacks to {name} resumed; {count} stopped callback(s) re-queued. " + CALLBACK_NEXT)


def callback_stops(filters: Filters) -> None:
    """Integrations whose callbacks a 410 stopped: the reason, and the button that lifts the stop."""
    if not auth.can(Action.REPLAY):
        return
    for stored in list_integrations(engine()):
        reason = stored.callbacks_disabled_reason
        if not reason or (filters.integration and stored.name != filters.integration):
            continue
        with st.container(border=True):
            st.error(
                f"Callbacks to **{stored.name}** are stopped: {reason}. Nothing is sent to it until they "
                "are resumed (the button below, once its endpoint works again); meanwhile its status changes "
                "keep their callbacks, marked disabled."
            )
            st.button(
                f"Resume callbacks to {stored.name}",
                icon=":material/play_arrow:",
                key=f"dead.callbacks.resume.{stored.id}",
                on_click=_resume,
                args=(stored.name,),
                help="Once the client's endpoint works again: clears the stop and re-queues every callback it stopped.",
            )


def callback_actions(ids: list[int], filters: Filters, names: list[str], listed: list[str]) -> None:
    """Under the callbacks table: replay the ticked rows, or an integration's dead letters since a day."""
    if not _may_replay():
        return
    _replay_selected(
        ids,
        "dead.callbacks.replay",
        _replay_callbacks,
        "Replaying puts a callback back in the queue with a fresh retry schedule; the attempts so far "
        "stay in its log. Callbacks stopped by a 410 are replayed by resuming their integration.",
    )
    with st.expander("Replay every dead callback of an integration since a day"):
        index, day = _bulk_defaults(filters, names, listed)
        one, two = st.columns(2)
        name = one.selectbox("Integration", names, index=index, key="dead.callbacks.bulk.integration")
        chosen = two.date_input("Queued since (UTC day)", value=day, max_value=utcnow().date(), key="dead.callbacks.bulk.since")
        st.caption("Whatever their reason: the reason filter above does not apply.")
        st.button(
            f"Replay {name}'s dead callbacks since {chosen}",
            icon=":material/replay:",
            key="dead.callbacks.bulk.go",
            on_click=_replay_callbacks_since,
        )


# Rejected records -------------------------------------------------------------------------------


def _reingest(inbox_ids: list[int]) -> None:
    outcome = replay_inbox_rows(engine(), inbox_ids, actor=actor(), include_record_errors=True)
    _report(
        "rejected",
        outcome,
        "payload(s)",
        INBOX_NEXT + " The rejections listed here stay, as the history of the sync that made them; the new sync shows on the dashboard.",
    )


def rejected_actions(records: list[RejectedRecordRow]) -> None:
    """Under the rejected records: send the payloads they came in back through ingest (after a fix)."""
    if not auth.can(Action.REPLAY):
        st.caption("Re-ingesting needs the operator role.")
        return
    inbox_ids = list(dict.fromkeys(r.inbox_id for r in records if r.inbox_id is not None))
    pulled = sum(1 for r in records if r.inbox_id is None)
    left, right = st.columns([1.3, 3], vertical_alignment="center")
    left.button(
        f"Re-ingest payloads ({len(inbox_ids)})",
        icon=":material/replay:",
        disabled=not inbox_ids,
        key="dead.rejected.replay",
        on_click=_reingest,
        args=(inbox_ids,),
    )
    note = (
        "Once the mapping is fixed (or the client resent the missing data), re-ingesting the webhook payloads "
        "the ticked records came in lands them; the payload's other records come back unchanged."
    )
    if pulled:
        note += (
            f" {pulled} ticked record(s) came from a pull (API, database, file) rather than a webhook: pull "
            "again instead (`crossdock pull`, or a backfill in the Dagster UI)."
        )
    right.caption(note)
