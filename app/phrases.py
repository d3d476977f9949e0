"""The seed's voice on screen ("Monitoreo de Integraciones"): "hace 5 min", "+5 pedidos, 0 errores",
"1 error (campo faltante)". Presentation only: the numbers come from `pipelines.ops.monitoring`, which
stays language-neutral so alerts, Dagster and the CLI do not inherit the dashboard's wording."""

from __future__ import annotations

from datetime import datetime

from pipelines.clock import as_utc, utcnow
from pipelines.ops.monitoring import IntegrationHealth, SyncLine, first_reason, span
from pipelines.vocabulary import SyncRunStatus

_SPANISH_UNITS = {"min": "min", "h": "h", "days": "días"}


def _span(seconds: float) -> str:
    """'menos de 1 min', '5 min', '2 h', '3 días'."""
    rounded = span(seconds)
    return "menos de 1 min" if rounded is None else f"{rounded[0]} {_SPANISH_UNITS[rounded[1]]}"


def time_ago(then: datetime | None, now: datetime | None = None) -> str:
    """'hace 5 min', 'hace 2 h', 'hace 3 días'; 'nunca' when there is no time at all."""
    if then is None:
        return "nunca"
    return "hace " + _span(((now or utcnow()) - as_utc(then)).total_seconds())


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def sync_summary(line: SyncLine) -> str:
    """The seed's line for one sync: '+5 pedidos, 0 errores' / '+12 pedidos, 1 error (campo faltante)'."""
    if line.status == SyncRunStatus.FAILED:
        return f"falló: {line.message or 'sin detalle'}"
    if line.status == SyncRunStatus.RUNNING:
        return "en curso"
    noun = ("pedido", "pedidos") if line.target == "order" else ("venta", "ventas")
    parts = [f"+{line.created} {noun[0] if line.created == 1 else noun[1]}"]
    if line.updated:
        parts.append(_plural(line.updated, "actualizado", "actualizados"))
    error_text = _plural(line.errors, "error", "errores")
    reason = first_reason(line.reasons) if line.errors else None
    parts.append(f"{error_text} ({reason})" if reason else error_text)
    return ", ".join(parts)


def last_error(health: IntegrationHealth, now: datetime | None = None) -> str:
    """The integration's latest failure or rejection with when it happened: 'address: ... (hace 2 h)'."""
    if health.last_error is None:
        return ""
    return f"{health.last_error} ({time_ago(health.last_error_at, now)})" if health.last_error_at else health.last_error
