"""What a db integration's `write_back` / `write_back_rejected` may be, checked when it is saved.

Both statements run against the client's own database with Crossdock's credentials, so free SQL there
is a loaded gun (`DELETE FROM victim WHERE 1=1 OR id IN :ids` empties a table). They are parsed with
sqlglot in the dialect of `db.url` and accepted only as:

- exactly one statement, an UPDATE of one table (no join, no FROM, no WITH, no nested INSERT/UPDATE/
  DELETE);
- whose WHERE is `<column> IN :ids`, alone or AND-ed with other conditions, so it can only change the
  rows whose keys it is given (an `OR`, a `NOT` or a missing WHERE would reach other rows);
- calling only functions the parser knows as standard (CURRENT_TIMESTAMP, COALESCE, ...) or the date
  functions of the allow list below: an unknown function may have side effects (`dblink_exec`,
  `pg_terminate_backend`, `load_file`).

Each refusal says what to change; the message becomes the 422 of the admin API and the studio's error.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

# Functions sqlglot does not model but that only read the clock or format values.
ALLOWED_FUNCTIONS = frozenset(
    {
        "datetime",
        "date",
        "time",
        "strftime",
        "julianday",
        "unixepoch",  # SQLite
        "now",
        "utc_timestamp",
        "sysdate",
        "unix_timestamp",
        "from_unixtime",  # MariaDB / MySQL
        "clock_timestamp",
        "statement_timestamp",
        "transaction_timestamp",
        "timezone",
        "localtimestamp",  # PostgreSQL
    }
)
_DIALECTS = {"postgresql": "postgres", "postgres": "postgres", "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite"}
_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9]*)(?:\+[\w.-]+)?:")
_FORBIDDEN = (exp.Insert, exp.Delete, exp.Merge, exp.Command, exp.Drop, exp.Create, exp.Alter, exp.TruncateTable)
EXAMPLE = "UPDATE orders SET logitrack_synced = TRUE WHERE order_id IN :ids"


def dialect_of(url: str | None) -> str | None:
    """sqlglot's dialect for a db.url (None: generic SQL), read from its scheme only."""
    match = _SCHEME.match(url or "")
    return _DIALECTS.get(match.group(1).lower()) if match else None


def check_write_back(name: str, statement: str, url: str | None) -> None:
    """Raise ValueError with what to change when `statement` is not a single keyed UPDATE."""
    dialect = dialect_of(url)
    try:
        parsed = [s for s in sqlglot.parse(statement, read=dialect) if s is not None]
    except (ParseError, TokenError) as exc:
        raise ValueError(f"{name} is not valid SQL{_where(exc)}: write one UPDATE, e.g. {EXAMPLE}") from None
    if len(parsed) != 1:
        raise ValueError(f"{name} must be one statement, not {len(parsed)}: write one UPDATE, e.g. {EXAMPLE}")
    update = parsed[0]
    if not isinstance(update, exp.Update):
        kind = update.key.upper()
        raise ValueError(f"{name} must be an UPDATE, not {kind}: it marks rows, e.g. {EXAMPLE}")
    if update.args.get("with_") or update.args.get("with"):
        raise ValueError(f"{name} must not have a WITH clause: write one UPDATE, e.g. {EXAMPLE}")
    table = update.this
    if not isinstance(table, exp.Table) or table.args.get("joins") or update.args.get("from_") or update.args.get("from"):
        raise ValueError(f"{name} must update one table, without JOIN or FROM")
    assignments = update.expressions
    if not assignments or not all(isinstance(a, exp.EQ) and isinstance(a.this, exp.Column) for a in assignments):
        raise ValueError(f"{name} must SET at least one column (SET <column> = <value>, ...), e.g. {EXAMPLE}")
    nested = next(iter(update.find_all(*_FORBIDDEN)), None)
    if nested is not None:
        raise ValueError(f"{name} must not contain {nested.key.upper()}: it may only UPDATE the rows in :ids")
    for call in update.find_all(exp.Anonymous):
        called = str(call.this).lower()
        if called not in ALLOWED_FUNCTIONS:
            raise ValueError(
                f"{name} calls {called}(), which is not a standard SQL function; allowed besides those: "
                + ", ".join(sorted(ALLOWED_FUNCTIONS))
            )
    if not any(p.name == "ids" for p in update.find_all(exp.Placeholder)):
        raise ValueError(f"{name} must use :ids for the keys of the rows it marks (… WHERE order_id IN :ids)")
    where = update.args.get("where")
    if where is None or not any(_keyed(condition) for condition in _conjuncts(where.this)):
        raise ValueError(
            f"{name} must keep to the rows it is given: its WHERE needs `<key column> IN :ids`, alone or joined to "
            f"other conditions with AND (not OR, not NOT), e.g. {EXAMPLE}"
        )


def _conjuncts(condition: exp.Expression) -> list[exp.Expression]:
    """The conditions AND-ed at the top of a WHERE (parentheses looked through)."""
    while isinstance(condition, exp.Paren):
        condition = condition.this
    if isinstance(condition, exp.And):
        return _conjuncts(condition.this) + _conjuncts(condition.expression)
    return [condition]


def _keyed(condition: exp.Expression) -> bool:
    field = condition.args.get("field") if isinstance(condition, exp.In) else None
    return isinstance(condition.this, exp.Column) and isinstance(field, exp.Placeholder) and field.name == "ids"


def _where(exc: ParseError | TokenError) -> str:
    errors = getattr(exc, "errors", None) or []
    if not errors:
        return ""
    first = errors[0]
    return f" (line {first.get('line')}, column {first.get('col')}: {first.get('description')})"
