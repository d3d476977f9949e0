"""File drops on a real folder and a real store: a Latin-1 CSV with `;`, Windows-1252, XLSX, JSON
Lines, Parquet; once-only by content; failures moved aside with their reason; no DuckDB extension
is ever installed or loaded from the network."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import duckdb
import sqlalchemy as sa

from connectors.files import drop_folder, pull_files
from connectors.files.readers import duckdb_connection
from pipelines.integrations import FileIntegration, create_integration
from pipelines.sources import Window
from pipelines.store.schema import orders, record_errors

LATIN1_CSV = (
    "pedido;cliente;dirección;latitud;longitud\n"
    "P-001;José Núñez;Zona 10, Guatemala Ciudad;14.5900;-90.5200\n"
    "P-002;María Peñate;Calle Ñandú 5, Antigua;14.5570;-90.7330\n"
    "P-003;Ángel Güell;Boulevard Los Próceres 18;;\n"
)
CSV_MAPPING = {
    "external_id": "pedido",
    "client_name": "cliente",
    "address": '"dirección"',
    "latitude": "to_float(latitud)",
    "longitude": "to_float(longitud)",
}


def _integration(store, name="erp_files", **file):
    return create_integration(store, FileIntegration(name=name, field_mapping=CSV_MAPPING, file={"min_age_seconds": 0, **file}))


def _stored(store) -> dict[str, tuple]:
    with store.connect() as conn:
        rows = conn.execute(sa.select(orders.c.external_id, orders.c.client_name, orders.c.address, orders.c.latitude))
        return {r.external_id: (r.client_name, r.address, r.latitude) for r in rows}


def test_a_semicolon_latin1_csv_lands_with_its_accents(store):
    integration = _integration(store)
    folder = drop_folder(integration)
    (folder / "pedidos.csv").write_bytes(LATIN1_CSV.encode("latin-1"))
    report = pull_files(store, integration)
    assert report.counts["created"] == 3 and report.read["files"] == 1
    assert _stored(store) == {
        "P-001": ("José Núñez", "Zona 10, Guatemala Ciudad", 14.59),
        "P-002": ("María Peñate", "Calle Ñandú 5, Antigua", 14.557),
        "P-003": ("Ángel Güell", "Boulevard Los Próceres 18", None),
    }
    assert (folder / "processed" / "pedidos.csv").exists() and not (folder / "pedidos.csv").exists()


def test_windows_1252_characters_survive(sqlite_store):
    integration = _integration(sqlite_store)
    text = "pedido;cliente;dirección\nP-9;“Café” Núñez – sucursal;Zona 1 — local €5\n"
    (drop_folder(integration) / "ventas.csv").write_bytes(text.encode("cp1252"))
    pull_files(sqlite_store, integration)
    assert _stored(sqlite_store)["P-9"][:2] == ("“Café” Núñez – sucursal", "Zona 1 — local €5")


def test_ids_keep_leading_zeros_and_utf8_with_comma_works(sqlite_store):
    integration = _integration(sqlite_store)
    text = 'pedido,cliente,dirección\n000123,Ana López,"Zona 4, Guatemala"\n'
    (drop_folder(integration) / "a.csv").write_text(text, encoding="utf-8")
    pull_files(sqlite_store, integration)
    assert _stored(sqlite_store) == {"000123": ("Ana López", "Zona 4, Guatemala", None)}


def test_xlsx_jsonl_and_parquet_land(sqlite_store, tmp_path):
    from openpyxl import Workbook

    integration = _integration(sqlite_store)
    folder = drop_folder(integration)
    book = Workbook()
    sheet = book.active
    sheet.append(["pedido", "cliente", "dirección", "latitud", "longitud"])
    sheet.append(["X-1", "Sofía Martínez", "Zona 14, Guatemala", 14.58, -90.49])
    book.save(folder / "export.xlsx")
    lines = [{"pedido": "J-1", "cliente": "Luis Hernández", "dirección": "Zona 9", "latitud": "14.6", "longitud": "-90.5"}]
    (folder / "export.jsonl").write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines), encoding="utf-8")
    connection = duckdb.connect()
    connection.execute(
        "COPY (SELECT 'Q-1' AS pedido, 'Carlos Ramírez' AS cliente, 'Zona 15' AS \"dirección\", 14.57 AS latitud, "
        f"-90.48 AS longitud) TO '{folder / 'export.parquet'}' (FORMAT parquet)"
    )
    connection.close()
    report = pull_files(sqlite_store, integration)
    assert report.read["files"] == 3 and report.counts["created"] == 3
    assert _stored(sqlite_store) == {
        "X-1": ("Sofía Martínez", "Zona 14, Guatemala", 14.58),
        "J-1": ("Luis Hernández", "Zona 9", 14.6),
        "Q-1": ("Carlos Ramírez", "Zona 15", 14.57),
    }


def test_the_same_content_is_processed_once(sqlite_store):
    integration = _integration(sqlite_store)
    folder = drop_folder(integration)
    (folder / "lunes.csv").write_bytes(LATIN1_CSV.encode("latin-1"))
    pull_files(sqlite_store, integration)
    (folder / "lunes_otra_vez.csv").write_bytes(LATIN1_CSV.encode("latin-1"))
    again = pull_files(sqlite_store, integration)
    assert again.read == {"duplicates": 1} and again.counts["total_received"] == 0
    assert "same content as lunes.csv" in again.warnings[0]
    assert sorted(p.name for p in (folder / "processed").iterdir()) == ["lunes.csv", "lunes_otra_vez.csv"]


def test_an_unreadable_file_goes_to_failed_with_its_reason_and_others_still_land(sqlite_store):
    integration = _integration(sqlite_store)
    folder = drop_folder(integration)
    (folder / "roto.xlsx").write_bytes(b"this is not a workbook")
    (folder / "manual.pdf").write_bytes(b"%PDF-1.4")
    (folder / "bueno.csv").write_bytes(LATIN1_CSV.encode("latin-1"))
    report = pull_files(sqlite_store, integration)
    assert report.read["failed_files"] == 2 and report.counts["created"] == 3
    assert "not a readable XLSX workbook" in (folder / "failed" / "roto.xlsx.reason.txt").read_text()
    assert "unsupported file type .pdf" in (folder / "failed" / "manual.pdf.reason.txt").read_text()
    assert (folder / "processed" / "bueno.csv").exists()


def test_invalid_rows_are_kept_with_reasons_and_the_file_is_processed(sqlite_store):
    integration = _integration(sqlite_store)
    folder = drop_folder(integration)
    (folder / "mixto.csv").write_text("pedido;cliente;dirección\nOK-1;Ana;Zona 1\nBAD-1;;Zona 2\n", encoding="utf-8")
    report = pull_files(sqlite_store, integration)
    assert (report.counts["created"], report.counts["errors"]) == (1, 1)
    with sqlite_store.connect() as conn:
        assert conn.execute(sa.select(record_errors.c.external_id)).scalar_one() == "BAD-1"
    assert (folder / "processed" / "mixto.csv").exists()


def test_files_still_being_written_are_left_alone(sqlite_store):
    integration = _integration(sqlite_store, name="slow_erp", min_age_seconds=30)
    folder = drop_folder(integration)
    fresh = folder / "escribiendo.csv"
    fresh.write_bytes(LATIN1_CSV.encode("latin-1"))
    (folder / "parcial.csv.part").write_bytes(b"pedido;cl")
    now = datetime.fromtimestamp(fresh.stat().st_mtime, tz=UTC)
    assert pull_files(sqlite_store, integration, now=now + timedelta(seconds=5)).read == {}
    assert pull_files(sqlite_store, integration, now=now + timedelta(seconds=31)).read["files"] == 1
    assert (folder / "parcial.csv.part").exists()


def test_a_window_reingests_what_was_processed_that_day(sqlite_store):
    integration = _integration(sqlite_store)
    folder = drop_folder(integration)
    (folder / "hoy.csv").write_bytes(LATIN1_CSV.encode("latin-1"))
    pull_files(sqlite_store, integration)
    today = datetime.now(UTC).date()
    report = pull_files(sqlite_store, integration, window=Window.day(today))
    assert report.read["files"] == 1 and report.counts["unchanged"] == 3
    assert pull_files(sqlite_store, integration, window=Window.day(today - timedelta(days=1))).read == {}


def test_duckdb_never_installs_or_autoloads_extensions(sqlite_store, tmp_path):
    connection = duckdb_connection()
    settings = dict(
        connection.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN ('autoinstall_known_extensions', 'autoload_known_extensions')"
        ).fetchall()
    )
    assert settings == {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}
    # What the readers need is compiled in: the extension directory stays empty after reading every format.
    extensions = dict(connection.execute("SELECT extension_name, install_mode FROM duckdb_extensions() WHERE loaded").fetchall())
    assert {extensions.get(name) for name in ("json", "parquet")} == {"STATICALLY_LINKED"}
    home_extensions = os.path.expanduser("~/.duckdb/extensions")
    installed = [] if not os.path.isdir(home_extensions) else [p for p, _, files in os.walk(home_extensions) if files]
    assert installed == []
