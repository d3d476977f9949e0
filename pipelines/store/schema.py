"""The store's tables. One schema for SQLite and PostgreSQL; Alembic migrations are generated from it.

Conventions: timestamps are timezone-aware UTC; JSON columns hold documents we never query by content
in SQL; every row a client sent us is kept (inbox) so nothing acknowledged is ever lost.
"""

from __future__ import annotations

import sqlalchemy as sa

from pipelines.vocabulary import InboxStatus, OrderStatus, OutboxStatus, SyncRunStatus

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

Timestamp = sa.DateTime(timezone=True)

integrations = sa.Table(
    "integrations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("target", sa.String(16), nullable=False),
    sa.Column("is_active", sa.Boolean, nullable=False, default=True),
    # Non-secret configuration (endpoint, mapping, callbacks, per-type settings) as the model dumps it.
    sa.Column("config", sa.JSON, nullable=False),
    # Fernet token of a JSON object of secrets; never returned unmasked by any read path.
    sa.Column("secrets", sa.Text, nullable=True),
    sa.Column("mapping_version", sa.Integer, nullable=False, default=1),
    # Set when a callback endpoint answered 410 Gone: deliveries stop until a person clears it.
    sa.Column("callbacks_disabled_reason", sa.Text, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    # Deleting archives: set when (and by whom) the integration was deleted. Its data stays until an
    # admin purges it or the retention period (CROSSDOCK_ARCHIVE_RETENTION_DAYS) passes; NULL = live.
    sa.Column("archived_at", Timestamp, nullable=True, index=True),
    sa.Column("archived_by", sa.String(255), nullable=True),
)

mapping_versions = sa.Table(
    "mapping_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("field_mapping", sa.JSON, nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.UniqueConstraint("integration_id", "version"),
)

inbox = sa.Table(
    "inbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("received_at", Timestamp, nullable=False),
    sa.Column("source_kind", sa.String(16), nullable=False),  # webhook | api | db | file
    # Provider delivery id (webhook-id, X-GitHub-Delivery, ...): a repeat is answered, not reprocessed.
    sa.Column("delivery_id", sa.String(255), nullable=True),
    sa.Column("headers", sa.JSON, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("verified", sa.Boolean, nullable=False),
    # vocabulary.InboxStatus: pending -> done | dead ; "dead" rows keep their reason and can be replayed.
    sa.Column("status", sa.String(16), nullable=False, default=InboxStatus.PENDING.value),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("processed_at", Timestamp, nullable=True),
    sa.Column("sync_run_id", sa.Integer, nullable=True),
    # The answer the client got ({"status_code", "body"}): a repeated delivery id gets it again.
    sa.Column("response", sa.JSON, nullable=True),
    # Who sent the row back for processing, and how often ("cli:ana", "api:admin", "streamlit:ana").
    sa.Column("replay_count", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("replayed_at", Timestamp, nullable=True),
    sa.Column("replayed_by", sa.String(255), nullable=True),
    sa.UniqueConstraint("integration_id", "delivery_id"),
    sa.Index("ix_inbox_status_id", "status", "id"),
)

# Deliveries to an integration's staging URL ("test deliveries"): kept apart from the inbox so nothing
# processes, replays, reports or counts them, with the same detail an inbox row has (headers, body,
# verification, the answer given, the error). Bounded per integration (see pipelines.onboarding.staging).
test_deliveries = sa.Table(
    "test_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("received_at", Timestamp, nullable=False),
    sa.Column("delivery_id", sa.String(255), nullable=True),
    sa.Column("headers", sa.JSON, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("verified", sa.Boolean, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("response", sa.JSON, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Index("ix_test_deliveries_integration_id", "integration_id", "id"),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),  # the internal_id shown to clients
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("external_id", sa.String(255), nullable=False),
    sa.Column("client_name", sa.String(255), nullable=False),
    sa.Column("address", sa.Text, nullable=False),
    sa.Column("latitude", sa.Float, nullable=True),
    sa.Column("longitude", sa.Float, nullable=True),
    sa.Column("client_phone", sa.String(64), nullable=True),
    sa.Column("client_email", sa.String(255), nullable=True),
    sa.Column("notes", sa.Text, nullable=True),
    sa.Column("priority", sa.Integer, nullable=True),
    sa.Column("scheduled_time", Timestamp, nullable=True),
    sa.Column("branch", sa.String(64), nullable=True),
    sa.Column("source_updated_at", Timestamp, nullable=True),  # the client's version of the order
    sa.Column("status", sa.String(16), nullable=False, default=OrderStatus.PENDING.value),  # vocabulary.OrderStatus
    sa.Column("eta", Timestamp, nullable=True),
    sa.Column("delivered_at", Timestamp, nullable=True),
    sa.Column("delivery_proof", sa.JSON, nullable=True),
    # Hash of the mapped content: an identical re-send is "unchanged", not "updated".
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("source_record", sa.JSON, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("integration_id", "external_id"),
)

order_status_history = sa.Table(
    "order_status_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("order_id", sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("from_status", sa.String(16), nullable=True),
    sa.Column("to_status", sa.String(16), nullable=False),
    sa.Column("changed_at", Timestamp, nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),  # "api:admin", "cli", "streamlit:analyst", ...
    sa.Column("details", sa.JSON, nullable=True),
)

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("national_id", sa.String(64), nullable=True),
    sa.Column("email", sa.String(255), nullable=True),
    sa.Column("phone_number", sa.String(64), nullable=True),
    sa.Column("first_name", sa.String(255), nullable=True),
    sa.Column("last_name", sa.String(255), nullable=True),
    sa.Column("whatsapp_number", sa.String(64), nullable=True),
    # The event time of the sale that last set these details: an older event never rolls them back.
    sa.Column("source_updated_at", Timestamp, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("integration_id", "national_id"),
    sa.UniqueConstraint("integration_id", "email"),
)

sales = sa.Table(
    "sales",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("external_id", sa.String(255), nullable=False),  # transaction_id
    sa.Column("customer_id", sa.ForeignKey("customers.id"), nullable=True),
    sa.Column("event_type", sa.String(64), nullable=True),
    sa.Column("event_timestamp", Timestamp, nullable=True),
    sa.Column("currency", sa.String(8), nullable=True),
    sa.Column("total_amount", sa.Numeric(18, 2), nullable=True),
    sa.Column("line_items", sa.JSON, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("source_record", sa.JSON, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("integration_id", "external_id"),
)

identifiers = sa.Table(
    "identifiers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("code", sa.String(128), nullable=False, unique=True),
    sa.Column("product_sku", sa.String(255), nullable=True),
    sa.Column("customer_id", sa.ForeignKey("customers.id"), nullable=True),
    sa.Column("sale_id", sa.ForeignKey("sales.id"), nullable=True),
    sa.Column("assigned_at", Timestamp, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
)

sync_runs = sa.Table(
    "sync_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("source_kind", sa.String(16), nullable=False),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("finished_at", Timestamp, nullable=True),
    sa.Column("total_received", sa.Integer, nullable=False, default=0),
    sa.Column("created", sa.Integer, nullable=False, default=0),
    sa.Column("updated", sa.Integer, nullable=False, default=0),
    sa.Column("unchanged", sa.Integer, nullable=False, default=0),
    sa.Column("errors", sa.Integer, nullable=False, default=0),
    sa.Column("stale", sa.Integer, nullable=False, default=0),  # records older than what was stored: not applied
    sa.Column("status", sa.String(16), nullable=False, default=SyncRunStatus.RUNNING.value),  # vocabulary.SyncRunStatus
    sa.Column("message", sa.Text, nullable=True),  # for people: the reasons below as one line, or why it failed
    # The commonest record error reasons, ranked: [{"field", "message", "count"}]; what code reads.
    sa.Column("reasons", sa.JSON, nullable=True),
    sa.Column("details", sa.JSON, nullable=True),  # pages/rows read, partition window, ...
    sa.Index("ix_sync_runs_integration_started", "integration_id", "started_at"),
)

record_errors = sa.Table(
    "record_errors",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sync_run_id", sa.ForeignKey("sync_runs.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("inbox_id", sa.Integer, nullable=True),
    sa.Column("record_index", sa.Integer, nullable=False),
    sa.Column("external_id", sa.String(255), nullable=True),
    sa.Column("record", sa.JSON, nullable=True),
    sa.Column("reasons", sa.JSON, nullable=False),  # [{"field": ..., "message": ...}]
    sa.Column("created_at", Timestamp, nullable=False),
)

callback_outbox = sa.Table(
    "callback_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("order_id", sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("webhook_id", sa.String(64), nullable=False, unique=True),  # stable across retries
    # vocabulary.OutboxStatus: pending | delivered | dead | disabled
    sa.Column("status", sa.String(16), nullable=False, default=OutboxStatus.PENDING.value),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", Timestamp, nullable=False),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("delivered_at", Timestamp, nullable=True),
    # Who re-queued a dead or disabled callback by hand, and how often; `attempts` restarts at 0 then.
    sa.Column("replay_count", sa.Integer, nullable=False, default=0),
    sa.Column("replayed_at", Timestamp, nullable=True),
    sa.Column("replayed_by", sa.String(255), nullable=True),
    sa.Index("ix_callback_outbox_status_next", "status", "next_attempt_at"),
    # Serves "the order's earlier pending rows" (per-order ordering) and the order's rows by status.
    sa.Index("ix_callback_outbox_order", "order_id", "status", "id"),
    sa.Index("ix_callback_outbox_integration_status", "integration_id", "status"),
)

callback_attempts = sa.Table(
    "callback_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("outbox_id", sa.ForeignKey("callback_outbox.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("attempted_at", Timestamp, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Float, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("response_excerpt", sa.Text, nullable=True),
    # The one verdict on the attempt (a 2xx within the timeout), decided when it was made
    # (pipelines.callbacks.schedule.succeeded) and read by every report, list and check.
    sa.Column("succeeded", sa.Boolean, nullable=False),
)

source_state = sa.Table(
    "source_state",
    metadata,
    # Per-integration cursors and watermarks: polls resume where they stopped.
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=True),
    sa.Column("updated_at", Timestamp, nullable=False),
)

store_meta = sa.Table(
    "store_meta",
    metadata,
    # Facts about the store itself; `store_id` names it, so state kept outside it (Dagster's sensor
    # cursors) can tell when it points at another store.
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# --- Alerts (pipelines/alerts) and manager reports (pipelines/manager_reports) ---------------------

alert_rules = sa.Table(
    "alert_rules",
    metadata,
    # Overrides of the built-in rules (pipelines.alerts.rules.RULES), which are on from a fresh install:
    # a row with no integration changes the global rule, a row with one changes it for that integration.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="CASCADE"), nullable=True),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("params", sa.JSON, nullable=False),  # only the parameters set here (threshold, window, re-notify, channels)
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("updated_by", sa.String(255), nullable=False),
    sa.UniqueConstraint("kind", "integration_id"),
)

alert_channels = sa.Table(
    "alert_channels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),  # email | slack | teams | google_chat | webhook
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("config", sa.JSON, nullable=False),  # non-secret settings (SMTP host, recipients, ...)
    sa.Column("secrets", sa.Text, nullable=True),  # Fernet token: SMTP password, webhook URL, signing secret
    # Its health, written after every send: a failing channel shows on the dashboard.
    sa.Column("failing_since", Timestamp, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("last_success_at", Timestamp, nullable=True),
    sa.Column("last_failure_at", Timestamp, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("updated_by", sa.String(255), nullable=False),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(160), nullable=False),  # rule kind and subject: "sync_failed:integration:3"
    # The key while the alert is pending or open, NULL once it ended: one live alert per key, whoever
    # evaluates and however often the evaluator restarts.
    sa.Column("open_key", sa.String(160), nullable=True, unique=True),
    sa.Column("kind", sa.String(32), nullable=False),
    # SET NULL: an integration's alert history outlives the integration (its name stays in `subject`).
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="SET NULL"), nullable=True),
    sa.Column("subject", sa.String(255), nullable=False),  # for people: "cliente_abc", "Dagster", "Inbox"
    sa.Column("status", sa.String(16), nullable=False),  # pending (held for the rule's for_minutes) | open | resolved
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("details", sa.JSON, nullable=True),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("fired_at", Timestamp, nullable=True),
    sa.Column("last_seen_at", Timestamp, nullable=False),
    sa.Column("resolved_at", Timestamp, nullable=True),
    sa.Column("next_notify_at", Timestamp, nullable=True),
    sa.Column("notify_count", sa.Integer, nullable=False, default=0),
    sa.Column("acknowledged_at", Timestamp, nullable=True),
    sa.Column("acknowledged_by", sa.String(255), nullable=True),
    sa.Column("snoozed_until", Timestamp, nullable=True),
    sa.Column("snoozed_by", sa.String(255), nullable=True),
    sa.Index("ix_alerts_status_started", "status", "started_at"),
)

alert_events = sa.Table(
    "alert_events",
    metadata,
    # Every alert's history: fired, notified where, reminded, acknowledged and snoozed by whom, resolved.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("alert_id", sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),  # "dagster:alerts", "streamlit:ana"
    sa.Column("channel_id", sa.ForeignKey("alert_channels.id", ondelete="SET NULL"), nullable=True),
    sa.Column("detail", sa.Text, nullable=True),
)

alert_notifications = sa.Table(
    "alert_notifications",
    metadata,
    # The notification outbox: one row per alert, channel and message, so nothing is sent twice.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("alert_id", sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("channel_id", sa.ForeignKey("alert_channels.id", ondelete="CASCADE"), nullable=False),
    sa.Column("message", sa.String(16), nullable=False),  # fired | reminder | resolved
    sa.Column("seq", sa.Integer, nullable=False),  # the alert's notify_count when queued (reminders count up)
    sa.Column("status", sa.String(16), nullable=False),  # pending | sent | failed
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", Timestamp, nullable=False),  # while sending: the claim's lease
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("sent_at", Timestamp, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.UniqueConstraint("alert_id", "channel_id", "message", "seq"),
    sa.Index("ix_alert_notifications_status_next", "status", "next_attempt_at"),
)

report_schedules = sa.Table(
    "report_schedules",
    metadata,
    # Managers' sync reports: one recipient list per row, sent daily or weekly through an email channel.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("cadence", sa.String(16), nullable=False),  # daily | weekly
    sa.Column("recipients", sa.JSON, nullable=False),
    sa.Column("channel_id", sa.ForeignKey("alert_channels.id", ondelete="SET NULL"), nullable=True),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("updated_by", sa.String(255), nullable=False),
)

report_deliveries = sa.Table(
    "report_deliveries",
    metadata,
    # One row per schedule and period sent: a retried or repeated run does not send the same report twice.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("schedule_id", sa.ForeignKey("report_schedules.id", ondelete="CASCADE"), nullable=False),
    sa.Column("period", sa.String(32), nullable=False),  # "daily:2025-01-14", "weekly:2025-01-13"
    sa.Column("sent_at", Timestamp, nullable=False),
    sa.Column("recipients", sa.JSON, nullable=False),
    sa.Column("sent_by", sa.String(255), nullable=False),  # "dagster:<run id>", "streamlit:ana"
    sa.UniqueConstraint("schedule_id", "period"),
)

users = sa.Table(
    "users",
    metadata,
    # Local accounts of the admin app and CLI; `role` is a pipelines.access.policy.Role.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),  # argon2id, never the password
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    # A one-time password (the first admin's, a reset) must be replaced at the next log-in.
    sa.Column("must_change_password", sa.Boolean, nullable=False, default=False),
    sa.Column("failed_logins", sa.Integer, nullable=False, default=0),  # wrong passwords in a row
    sa.Column("locked_until", Timestamp, nullable=True),
    sa.Column("last_login_at", Timestamp, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

user_sessions = sa.Table(
    "user_sessions",
    metadata,
    # Server-side app sessions: the browser holds only `token`'s digest's preimage; revoking a row ends it.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp, nullable=False),
    sa.Column("revoked_at", Timestamp, nullable=True),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    # Admin API tokens, per user or per service; shown once, stored as a SHA-256 digest.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_by", sa.String(255), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp, nullable=True),
    sa.Column("last_used_at", Timestamp, nullable=True),
    sa.Column("revoked_at", Timestamp, nullable=True),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    # Append-only: who changed what. Nothing updates or deletes these rows.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),  # "user:ana", "token:ci", "api:admin", "cli:ana"
    sa.Column("action", sa.String(64), nullable=False),  # pipelines.access.audit.AuditAction
    sa.Column("subject", sa.String(255), nullable=True),  # "integration:abc", "order:12", "user:ana"
    sa.Column("details", sa.JSON, nullable=True),  # field-level diffs (secrets masked), counts, reasons
    sa.Index("ix_audit_log_action_id", "action", "id"),
)
