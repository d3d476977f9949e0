"""The integration guide as Markdown, in Spanish or English: what a client's technical team needs to
connect, computed from the integration's configuration (seed 004 is such a document, written by hand).

Nothing secret is ever read here: the guide names each secret, says where to get it and which
environment variable the samples read it from. Rendering to HTML and PDF is `connectors.guide_render`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from pipelines.callbacks.payload import build_payload as callback_body
from pipelines.clock import utcnow
from pipelines.guide.payload import Payload, build_payload
from pipelines.guide.samples import (
    CALLBACK_SECRET_ENV,
    CODE_FENCE,
    CREDENTIAL_ENV,
    LANGUAGES,
    PREVIOUS_SIGNATURE_HEADER,
    SIGNATURE_HEADER,
    SIGNING_SECRET_ENV,
    URL_ENV,
    send_sample,
    send_spec,
    verify_sample,
)
from pipelines.guide.urls import production_url, staging_url
from pipelines.integrations.model import ApiIntegration, Integration
from pipelines.integrations.providers import rules
from pipelines.integrations.webhook_settings import BODY_SIGNATURE_PRESETS, TIMESTAMPED_PRESETS

Lang = Literal["es", "en"]
LANGS: tuple[Lang, ...] = ("es", "en")
PROVIDER_NAMES = {"shopify": "Shopify", "github": "GitHub", "woocommerce": "WooCommerce", "stripe": "Stripe"}
LANGUAGE_NAMES = {"curl": "curl (bash)", "python": "Python 3", "node": "Node.js 18+", "php": "PHP 8"}


@dataclass
class Guide:
    """The guide's Markdown and the pieces tests and renderers need besides it."""

    name: str
    lang: Lang
    title: str
    markdown: str
    payload: Payload


def _(lang: Lang, en: str, es: str) -> str:
    return es if lang == "es" else en


def build_guide(config: Integration, lang: Lang = "es", base: str | None = None) -> Guide:
    """The guide for `config` in `lang`; `base` is the receiver's public URL (default: settings)."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}: expected one of {', '.join(LANGS)}")
    payload = build_payload(config)
    title = _(lang, f"Integration guide: {config.name}", f"Guía de integración: {config.name}")
    parts = [f"# {title}", _meta(config, lang), _summary(config, lang)]
    step = 1
    for section in (
        _endpoint,
        _credentials,
        _signing,
        _payload_section,
        _answers,
        _idempotency,
        _staging,
        _callbacks,
        _status_link,
        _checklist,
    ):
        text = section(config, lang, payload, base)
        if text:
            parts.append(text.replace("## ", f"## {step}. ", 1))
            step += 1
    return Guide(name=config.name, lang=lang, title=title, markdown="\n\n".join(parts) + "\n", payload=payload)


def _meta(config: Integration, lang: Lang) -> str:
    target = {"order": _(lang, "delivery orders", "pedidos de entrega"), "sale": _(lang, "sales", "ventas")}[config.target]
    return "\n".join(
        [
            f"**{_(lang, 'Integration', 'Integración')}:** `{config.name}`  ",
            f"**{_(lang, 'Records', 'Registros')}:** {target}  ",
            f"**{_(lang, 'Audience', 'Audiencia')}:** {_(lang, 'the client technical team', 'equipo técnico del cliente')}  ",
            f"**{_(lang, 'Generated', 'Generada')}:** {utcnow().strftime('%Y-%m-%d %H:%M')} UTC",
        ]
    )


def _summary(config: Integration, lang: Lang) -> str:
    how = {
        "webhook": _(
            lang,
            "your system sends each new or changed record to Crossdock over HTTPS (webhook)",
            "su sistema envía a Crossdock cada registro nuevo o modificado por HTTPS (webhook)",
        ),
        "api": _(
            lang,
            "Crossdock reads the records from your REST API on a schedule (polling)",
            "Crossdock lee los registros de su API REST periódicamente (polling)",
        ),
        "db": _(lang, "Crossdock queries your database on a schedule", "Crossdock consulta su base de datos periódicamente"),
        "file": _(
            lang,
            "you drop export files in a folder Crossdock watches",
            "usted deja archivos de exportación en una carpeta que Crossdock vigila",
        ),
    }[config.type]
    return _(
        lang,
        f"This guide explains how to connect your system with Crossdock for the `{config.name}` integration: "
        f"{how}. Crossdock maps each record, validates it and stores it; order status changes come back to you "
        "as signed callbacks when you configure them. Everything here is generated from the integration's "
        "current configuration.",
        f"Esta guía explica cómo conectar su sistema con Crossdock para la integración `{config.name}`: {how}. "
        "Crossdock transforma cada registro, lo valida y lo guarda; los cambios de estado de los pedidos le "
        "llegan como callbacks firmados si los configura. Todo lo que sigue se genera a partir de la "
        "configuración actual de la integración.",
    )


def _endpoint(config: Integration, lang: Lang, payload: Payload, base: str | None) -> str:
    head = "## " + _(lang, "Endpoint", "Endpoint")
    if config.type == "webhook":
        preset = config.webhook.verification
        ack = config.webhook.ack_mode if preset != "autentikapp" else "async"
        lines = [
            head,
            "",
            "| | |",
            "|---|---|",
            f"| {_(lang, 'Production URL', 'URL de producción')} | `{production_url(config.name, preset, base)}` |",
            f"| {_(lang, 'Staging URL', 'URL de staging')} | `{staging_url(config.name, preset, base)}` |",
            f"| {_(lang, 'Method', 'Método')} | `POST` |",
            "| Content-Type | `application/json` |",
            f"| {_(lang, 'Body', 'Cuerpo')} | "
            + (
                _(lang, "one event (JSON object)", "un evento (objeto JSON)")
                if not isinstance(payload.example, list)
                else _(lang, "one record (object) or a batch (array)", "un registro (objeto) o un lote (arreglo)")
            )
            + " |",
            f"| {_(lang, 'Largest body', 'Cuerpo máximo')} | {config.webhook.max_body_bytes:,} bytes, "
            f"{config.webhook.max_records:,} {_(lang, 'records', 'registros')} |",
            f"| {_(lang, 'Answer', 'Respuesta')} | "
            + (
                _(lang, "after processing: `200` with the per-record result", "tras procesar: `200` con el resultado de cada registro")
                if ack == "sync"
                else _(
                    lang,
                    "`202 Accepted` once the event is stored; processed right after",
                    "`202 Accepted` en cuanto el evento queda guardado; se procesa justo después",
                )
            )
            + " |",
        ]
        if config.onboarding.stage == "staging":
            lines += [
                "",
                _(
                    lang,
                    "> The integration is **in staging**: the production URL answers `403` until Crossdock "
                    "promotes it. Test against the staging URL first (section Staging).",
                    "> La integración está **en staging**: la URL de producción responde `403` hasta que "
                    "Crossdock la promueva. Pruebe primero contra la URL de staging (sección Staging).",
                ),
            ]
        return "\n".join(lines)
    every = config.poll_interval_seconds or 300
    if config.type == "api":
        pages = config.api.pagination.style
        return "\n".join(
            [
                head,
                "",
                _(
                    lang,
                    f"Crossdock calls `GET {config.endpoint}` every {every} seconds, following your pagination "
                    f"(`{pages}`), {config.api.page_size} records per page, and stops at the last page. Failed pages "
                    f"are retried {config.api.max_retries} times with a growing wait (honouring `Retry-After`). "
                    "Your API only has to answer: nothing is sent to it.",
                    f"Crossdock llama a `GET {config.endpoint}` cada {every} segundos, siguiendo su paginación "
                    f"(`{pages}`), {config.api.page_size} registros por página, hasta la última página. Las páginas que "
                    f"fallan se reintentan {config.api.max_retries} veces con esperas crecientes (respetando "
                    "`Retry-After`). Su API solo tiene que responder: no se le envía nada.",
                ),
                "",
                _(lang, "Authentication Crossdock sends: ", "Autenticación que envía Crossdock: ") + _api_auth(config, lang),
            ]
        )
    if config.type == "db":
        return "\n".join(
            [
                head,
                "",
                _(
                    lang,
                    f"Crossdock runs the agreed query on your database every {every} seconds, reading "
                    f"{config.db.chunk_size:,} rows at a time"
                    + (f" and only rows past the last `{config.db.watermark_column}` seen" if config.db.watermark_column else "")
                    + ". Give Crossdock a read-only user; the password is configured on our side, never sent by e-mail.",
                    f"Crossdock ejecuta la consulta acordada en su base de datos cada {every} segundos, leyendo "
                    f"{config.db.chunk_size:,} filas cada vez"
                    + (
                        f" y solo las filas posteriores al último `{config.db.watermark_column}` visto"
                        if config.db.watermark_column
                        else ""
                    )
                    + ". Entregue a Crossdock un usuario de solo lectura; la contraseña se configura de nuestro lado, "
                    "nunca por correo.",
                ),
            ]
        )
    return "\n".join(
        [
            head,
            "",
            _(
                lang,
                "Drop each export file (CSV, XLSX, JSON Lines or Parquet) in the folder agreed with Crossdock; each "
                "file is read once, every row mapped as below.",
                "Deje cada archivo de exportación (CSV, XLSX, JSON Lines o Parquet) en la carpeta acordada con "
                "Crossdock; cada archivo se lee una vez y cada fila se transforma como se indica abajo.",
            ),
        ]
    )


def _api_auth(config: ApiIntegration, lang: Lang) -> str:
    return {
        "none": _(lang, "none", "ninguna"),
        "apikey": f"`{config.api.apikey_header}: <{_(lang, 'your API key', 'su API key')}>`",
        "bearer": "`Authorization: Bearer <token>`",
        "basic": "HTTP Basic (`user:password`)",
        "webhook_secret": "`X-Webhook-Secret`",
        "hmac": "`X-Webhook-Signature`",
    }[config.auth_type]


CREDENTIAL_NAMES = {
    "apikey": ("API key", "API key"),
    "bearer": ("bearer token", "token bearer"),
    "basic": ("user:password", "usuario:contraseña"),
    "webhook_secret": ("shared secret", "secreto compartido"),
    "hmac": ("HMAC key", "clave HMAC"),
}


def _credentials(config: Integration, lang: Lang, payload: Payload, base: str | None) -> str:
    rows = []
    if config.type == "webhook" and config.auth_type != "none":
        en, es = CREDENTIAL_NAMES[config.auth_type]
        rows.append((_(lang, en, es), CREDENTIAL_ENV))
    if config.type == "webhook" and config.webhook.verification != "none":
        rows.append((_(lang, "signing secret", "secreto de firma"), SIGNING_SECRET_ENV))
    if config.callback_url:
        rows.append((_(lang, "callback signing secret (`whsec_…`)", "secreto de firma de callbacks (`whsec_…`)"), CALLBACK_SECRET_ENV))
    if not rows:
        return ""
    lines = [
        "## " + _(lang, "Credentials", "Credenciales"),
        "",
        _(
            lang,
            "This guide contains no secret. Your Crossdock contact hands you each of these over a secure "
            "channel (never by plain e-mail or chat); in Crossdock they are under *Integrations › "
            f"{config.name} › Overview*, shown once. The samples read them from environment variables:",
            "Esta guía no contiene ningún secreto. Su contacto en Crossdock le entrega cada uno por un canal "
            "seguro (nunca por correo o chat sin cifrar); en Crossdock están en *Integrations › "
            f"{config.name} › Overview* y se muestran una sola vez. Los ejemplos los leen de variables de entorno:",
        ),
        "",
        f"| {_(lang, 'Secret', 'Secreto')} | {_(lang, 'Environment variable', 'Variable de entorno')} |",
        "|---|---|",
    ]
    lines += [f"| {what} | `{env}` |" for what, env in rows]
    lines += [
        "",
        _(
            lang,
            "Two values can be valid at once while one is rotated: switch when told, without a cut.",
            "Durante una rotación pueden valer dos valores a la vez: cambie cuando se le indique, sin corte.",
        ),
    ]
    return "\n".join(lines)


def _signing(config: Integration, lang: Lang, payload: Payload, base: str | None) -> str:
    if config.type != "webhook":
        return ""
    preset = config.webhook.verification
    lines = ["## " + _(lang, "Authentication and signature", "Autenticación y firma"), ""]
    auth = {
        "none": _(lang, "No credential header is required.", "No se requiere cabecera de credencial."),
        "apikey": _(
            lang, f"Send the API key in `X-API-Key` (from `{CREDENTIAL_ENV}`).", f"Envíe la API key en `X-API-Key` (de `{CREDENTIAL_ENV}`)."
        ),
        "bearer": _(
            lang,
            f"Send `Authorization: Bearer <token>` (token from `{CREDENTIAL_ENV}`).",
            f"Envíe `Authorization: Bearer <token>` (token de `{CREDENTIAL_ENV}`).",
        ),
        "basic": _(
            lang,
            f"Use HTTP Basic authentication with `user:password` from `{CREDENTIAL_ENV}`.",
            f"Use autenticación HTTP Basic con `usuario:contraseña` de `{CREDENTIAL_ENV}`.",
        ),
        "webhook_secret": _(
            lang,
            f"Send the shared secret in `X-Webhook-Secret` (from `{CREDENTIAL_ENV}`).",
            f"Envíe el secreto compartido en `X-Webhook-Secret` (de `{CREDENTIAL_ENV}`).",
        ),
        "hmac": _(
            lang,
            f"Send `X-Webhook-Signature`: the **hex HMAC-SHA256 of the raw body**, keyed with the HMAC key (`{CREDENTIAL_ENV}`) as text.",
            "Envíe `X-Webhook-Signature`: el **HMAC-SHA256 en hexadecimal del cuerpo exacto**, con la clave "
            f"HMAC (`{CREDENTIAL_ENV}`) como texto.",
        ),
    }[config.auth_type]
    lines.append(f"- {auth}")
    if preset in BODY_SIGNATURE_PRESETS:
        header, encoding, prefix = BODY_SIGNATURE_PRESETS[preset]
        shown = _(lang, "hexadecimal", "hexadecimal") if encoding == "hex" else "base64"
        lines.append(
            "- "
            + _(
                lang,
                f"Send `{header}`: {f'`{prefix}` followed by ' if prefix else ''}the HMAC-SHA256 of the exact body "
                f"bytes, keyed with the signing secret (`{SIGNING_SECRET_ENV}`) as text, encoded in {shown}.",
                f"Envíe `{header}`: {f'`{prefix}` seguido d' if prefix else ''}el HMAC-SHA256 de los bytes exactos del "
                f"cuerpo, con el secreto de firma (`{SIGNING_SECRET_ENV}`) como texto, codificado en {shown}.",
            )
        )
    elif preset == "stripe":
        lines.append(
            "- "
            + _(
                lang,
                "Send `Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of t.body>`, keyed with the whole "
                f"`whsec_…` secret (`{SIGNING_SECRET_ENV}`).",
                "Envíe `Stripe-Signature: t=<hora unix>,v1=<HMAC-SHA256 hex de t.cuerpo>`, con todo el secreto "
                f"`whsec_…` (`{SIGNING_SECRET_ENV}`) como clave.",
            )
        )
    elif preset == "standard_webhooks":
        lines.append(
            "- "
            + _(
                lang,
                "Standard Webhooks: send `webhook-id` (unique per event), `webhook-timestamp` (Unix seconds) and "
                "`webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`, keyed with the bytes the base64 "
                f"after `whsec_` encodes (`{SIGNING_SECRET_ENV}`). Any Standard Webhooks library does this.",
                "Standard Webhooks: envíe `webhook-id` (único por evento), `webhook-timestamp` (segundos Unix) y "
                "`webhook-signature: v1,<HMAC-SHA256 base64 de id.timestamp.cuerpo>`, con la clave que codifica en "
                f"base64 lo que sigue a `whsec_` (`{SIGNING_SECRET_ENV}`). Cualquier librería Standard Webhooks lo hace.",
            )
        )
    if preset in TIMESTAMPED_PRESETS:
        lines.append(
            "- "
            + _(
                lang,
                f"The timestamp must be within {config.webhook.tolerance_seconds} s of our clock: keep yours on NTP.",
                f"La marca de tiempo debe estar a menos de {config.webhook.tolerance_seconds} s de nuestro reloj: "
                "sincronice el suyo con NTP.",
            )
        )
    event_rules = rules(preset)
    if event_rules.event_header or event_rules.event_field:
        lines.append(
            "- "
            + _(
                lang,
                'Events Crossdock does not ingest are answered `200` with `"ingested": false` and recorded.',
                'Los eventos que Crossdock no procesa se responden `200` con `"ingested": false` y quedan registrados.',
            )
        )
    if config.auth_type == "hmac" or preset != "none":
        lines.append(
            "- "
            + _(
                lang,
                "Sign the bytes you send, byte for byte: re-serialising the JSON after signing (spaces, key order, "
                "escapes) breaks the signature.",
                "Firme los bytes que envía, tal cual: volver a serializar el JSON después de firmar (espacios, orden "
                "de claves, escapes) rompe la firma.",
            )
        )
    provider = PROVIDER_NAMES.get(preset)
    if provider:
        lines.append(
            "- "
            + _(
                lang,
                f"With {provider} you write none of this: paste the production URL and the signing secret in {provider}'s "
                "webhook settings; it signs every delivery itself. The code below does what it does, to test by hand.",
                f"Con {provider} no escribe nada de esto: pegue la URL de producción y el secreto de firma en la "
                f"configuración de webhooks de {provider}; firma cada entrega por sí mismo. El código de abajo hace lo "
                "mismo, para probar a mano.",
            )
        )
    lines += [
        "",
        _(
            lang,
            "Working code (each prints the HTTP status and the answer):",
            "Código que funciona (cada ejemplo imprime el estado HTTP y la respuesta):",
        ),
    ]
    spec = send_spec(config, production_url(config.name, preset, base), payload.example)
    for language in LANGUAGES:
        lines += ["", f"### {LANGUAGE_NAMES[language]}", "", f"```{CODE_FENCE[language]}", send_sample(spec, language), "```"]
    return "\n".join(lines)


def _payload_section(config: Integration, lang: Lang, payload: Payload, base: str | None) -> str:
    lines = [
        "## " + _(lang, "Payload", "Contenido (payload)"),
        "",
        _(
            lang,
            "Fields Crossdock reads from each record and what they become:",
            "Campos que Crossdock lee de cada registro y en qué se convierten:",
        ),
        "",
        f"| {_(lang, 'Your field', 'Su campo')} | {_(lang, 'Becomes', 'Se convierte en')} | "
        f"{_(lang, 'Required', 'Requerido')} | {_(lang, 'Type', 'Tipo')} | {_(lang, 'Notes', 'Notas')} |",
        "|---|---|---|---|---|",
    ]
    yes, no = _(lang, "yes", "sí"), _(lang, "no", "no")
    for row in payload.fields:
        lines.append(
            f"| `{row.path}` | `{row.target_field}` | {yes if row.required else no} | {row.kind} | {row.description.replace('|', '/')} |"
        )
    if config.target == "sale":
        lines += [
            "",
            _(
                lang,
                "A sale needs the customer's `national_id` or `email` (at least one).",
                "Una venta necesita el `national_id` o el `email` del cliente (al menos uno).",
            ),
        ]
    if payload.computed:
        lines += [
            "",
            _(lang, "Computed by Crossdock from the fields above:", "Calculados por Crossdock a partir de los campos anteriores:"),
            "",
        ]
        lines += [f"- `{target}` = `{expression}`" for target, expression in payload.computed.items()]
    lines += [
        "",
        "### JSON Schema",
        "",
        "```json",
        json.dumps(payload.schema, ensure_ascii=False, indent=2),
        "```",
        "",
        "### " + _(lang, "Example", "Ejemplo"),
        "",
        "```json",
        json.dumps(payload.example, ensure_ascii=False, indent=2),
        "```",
    ]
    if not payload.example_valid:
        lines += [
            "",
            _(
                lang,
                "> This example does not pass the current mapping; ask Crossdock for a sample of yours.",
                "> Este ejemplo no pasa la transformación actual; pida a Crossdock un ejemplo con sus datos.",
            ),
        ]
    return "\n".join(lines)


ANSWERS: list[tuple[str, str, str]] = [
    (
        "200",
        "processed (sync integrations): counts and each record's result; a duplicate delivery repeats the first "
        'answer with `"duplicate": true`',
        "procesado (integraciones síncronas): conteos y resultado de cada registro; una entrega repetida "
        'devuelve la primera respuesta con `"duplicate": true`',
    ),
    ("202", "stored, processed right after (async integrations)", "guardado, se procesa justo después (integraciones asíncronas)"),
    (
        "400",
        "malformed JSON (the answer says where), or not an object/array",
        "JSON mal formado (la respuesta indica dónde), o no es objeto/arreglo",
    ),
    (
        "401",
        "missing or wrong credential or signature, or a timestamp outside the tolerance",
        "credencial o firma ausente o incorrecta, o marca de tiempo fuera de la tolerancia",
    ),
    (
        "403",
        "the integration is inactive, or still in staging (production URL)",
        "la integración está inactiva, o aún en staging (URL de producción)",
    ),
    ("404", "no such integration at this URL", "no existe esa integración en esta URL"),
    ("409", "this delivery id was already received with a different body", "ese id de entrega ya se recibió con otro cuerpo"),
    ("413", "body or batch too large: split it", "cuerpo o lote demasiado grande: divídalo"),
    ("415", "Content-Type is not application/json", "el Content-Type no es application/json"),
    (
        "422",
        "no record of the request was valid: `results[].errors` says why (sync integrations)",
        "ningún registro era válido: `results[].errors` dice por qué (integraciones síncronas)",
    ),
    (
        "429",
        "Crossdock is shedding load: retry after `Retry-After` seconds",
        "Crossdock está limitando la carga: reintente tras `Retry-After` segundos",
    ),
    (
        "503",
        "the request could not be stored and was not acknowledged: retry",
        "no se pudo guardar la petición y no fue confirmada: reintente",
    ),
]
RETRY_CODES = frozenset({"429", "503"})


def _answers(config: Integration, lang: Lang, payload: Payload, base: str | None) -> str:
    if config.type != "webhook":
        return ""
    lines = [
        "## " + _(lang, "Answers and error codes", "Respuestas y códigos de error"),
        "",
        f"| {_(lang, 'Status', 'Código')} | {_(lang, 'Meaning', 'Significado')} | {_(lang, 'Retry?', '¿Reintentar?')} |",
        "|---|---|---|",
    ]
    for code, en, es in ANSWERS:
        retry = (
            _(lang, "yes, with backoff", "sí, con espera creciente")
            if code in RETRY_CODES
            else ("—" if code.startswith("2") else _(lang, "no: fix the request", "no: corrija la petición"))
        )
        lines.append(f"| `{code}` | {_(lang, en, es)} | {retry} |")
    example = {
        "total_received": 1,
        "created": 1,
        "updated": 0,
        "errors": 0,
        "unchanged": 0,
        "stale": 0,
        "results": [{"index": 0, "status": "created", "external_id": "PED-001", "internal_id": 1234}],
        "inbox_id": 1,
    }
    invalid = {
        "index": 1,
        "status": "error",
        "external_id": "PED-002",
        "errors": [{"field": "address", "message": "required field is missing"}],
    }
    lines += [
        "",
        _(
            lang,
            "Every error answer is JSON with a `detail` saying what was wrong. A processed request answers, per record:",
            "Toda respuesta de error es JSON con un `detail` que explica el problema. Una petición procesada responde, por registro:",
        ),
        "",
        "```json",
        json.dumps(example, indent=2),
        "```",
        "",
        _(
            lang,
            "A rejected record is listed with its reasons; the valid ones in the same batch are stored:",
            "Un registro rechazado aparece con sus motivos; los válidos del mismo lote se guardan:",
        ),
        "",
        "```json",
        json.dumps(invalid, indent=2),
        "```",
    ]
    return "\n".join(lines)


def _idempotency(config: Integration, lang: Lang, payload: Payload, base: str | None) -> str:
    lines = [
        "## " + _(lang, "Idempotency and retries", "Idempotencia y reintentos"),
        "",
        "- "
        + _(
            lang,
            "Records are keyed by (integration, `external_id`): sending a record again updates it when "
            "its content changed (`updated`) and leaves it alone otherwise (`unchanged`). Never a "
            "duplicate order.",
            "Los registros se identifican por (integración, `external_id`): reenviar un registro lo actualiza "
            "si cambió su contenido (`updated`) y si no, lo deja igual (`unchanged`). Nunca un pedido duplicado.",
        ),
    ]
    if config.type == "webhook":
        lines += [
            "- "
            + _(
                lang,
                "Send an `Idempotency-Key` (or `X-Webhook-Id`) header, unique per event and the same on each "
                'retry: a repeat gets the first answer back with `"duplicate": true`; the same key with a '
                "different body gets `409`.",
                "Envíe una cabecera `Idempotency-Key` (o `X-Webhook-Id`), única por evento e igual en cada "
                'reintento: una repetición recibe la primera respuesta con `"duplicate": true`; la misma clave '
                "con otro cuerpo recibe `409`.",
            ),
            "- "
            + _(
                lang,
                "Retry on `429`, `503`, timeouts and connection errors, waiting longer each time (e.g. 1 s, "
                "5 s, 30 s, 5 min) and honouring `Retry-After`. Do not retry other `4xx` answers: fix the "
                "request.",
                "Reintente ante `429`, `503`, timeouts y errores de conexión, esperando cada vez más (p. ej. 1 s, "
                "5 s, 30 s, 5 min) y respetando `Retry-After`. No reintente otros `4xx`: corrija la petición.",
            ),
            "- "
            + _(
                lang,
                "A `2xx` means the request is stored durably: nothing acknowledged is lost.",
                "Un `2xx` significa que la petición quedó guardada de forma durable: nada confirmado se pierde.",
            ),
        ]
        if config.auth_type == "hmac" or config.webhook.verification in BODY_SIGNATURE_PRESETS:
            lines.append(
                "- "
                + _(
                    lang,
                    "Without an id header, an identical signed body is treated as the same delivery.",
                    "Sin cabecera de id, un cuerpo firmado idéntico se trata como la misma entrega.",
                )
            )
    return "\n".join(lines)


def _staging(config: Integration, lang: Lang, payload: Payload, base: str | None) -> str:
    if config.type != "webhook":
        return ""
    url = staging_url(config.name, config.webhook.verification, base)
    return "\n".join(
        [
            "## Staging",
            "",
            _(
                lang,
                f"`POST {url}` takes exactly what production takes (same credentials, same signature) and checks it the "
                "same way: signature, mapping, validation. It answers with each record's verdict (`valid` or `error` with "
                "reasons, and the record as it would be stored) but stores no order or sale, sends no callback and counts "
                "in no report. Crossdock sees each attempt as a *test delivery* with the same detail as real ones, so you "
                "and our analyst look at the same thing. When your tests pass, Crossdock promotes the integration to "
                "production; the staging URL stays available to try changes.",
                f"`POST {url}` acepta exactamente lo mismo que producción (mismas credenciales, misma firma) y lo revisa "
                "igual: firma, transformación, validación. Responde con el veredicto de cada registro (`valid` o `error` "
                "con motivos, y el registro tal como se guardaría) pero no crea pedidos ni ventas, no envía callbacks y no "
                "cuenta en ningún reporte. Crossdock ve cada intento como una *entrega de prueba* con el mismo detalle que "
                "las reales, así usted y nuestro analista miran lo mismo. Cuando sus pruebas pasen, Crossdock promueve la "
                "integración a producción; la URL de staging sigue disponible para probar cambios.",
            ),
            "",
            _(
                lang,
                f"To use it, run the samples above with `{URL_ENV}` set to the staging URL:",
                f"Para usarla, ejecute los ejemplos anteriores con `{URL_ENV}` apuntando a la URL de staging:",
            ),
            "",
            "```bash",
            f"export {URL_ENV}={url}",
            "```",
        ]
    )


def _callbacks(config: Integration, lang: Lang, payload: Payload, base: str | None) -> str:
    head = "## " + _(lang, "Status callbacks", "Callbacks de estado")
    if not config.callback_url:
        return "\n".join(
            [
                head,
                "",
                _(
                    lang,
                    "Not configured. Crossdock can POST each order status change (assigned, in route, delivered, cancelled) "
                    "to a URL of yours: ask for it and this section will show how to verify them.",
                    "No configurados. Crossdock puede enviar por POST cada cambio de estado de un pedido (asignado, en ruta, "
                    "entregado, cancelado) a una URL suya: solicítelo y esta sección mostrará cómo verificarlos.",
                ),
            ]
        )
    example = callback_body(
        "delivered",
        {
            "id": 1234,
            "external_id": "PED-001",
            "status": "delivered",
            "eta": None,
            "delivered_at": utcnow().replace(microsecond=0),
            "delivery_proof": {
                "signature_url": "https://cdn.example.com/sig/PED-001.png",
                "photo_url": "https://cdn.example.com/photo/PED-001.jpg",
            },
        },
        utcnow().replace(microsecond=0),
    )
    schedule = ", ".join(_duration(s) for s in config.callbacks.retry_schedule_seconds)
    events = ", ".join(f"`{e}`" for e in config.callback_events) or _(lang, "none yet", "ninguno aún")
    lines = [
        head,
        "",
        f"- URL: `{config.callback_url}`",
        f"- {_(lang, 'Events', 'Eventos')}: {events}",
        "- "
        + _(
            lang,
            f"Each is a `POST` with a JSON body; answer any `2xx` within {config.callbacks.timeout_seconds:g} s. "
            "Redirects are not followed (a `3xx` is a failure). `410 Gone` stops callbacks to your URL.",
            f"Cada uno es un `POST` con cuerpo JSON; responda cualquier `2xx` en menos de "
            f"{config.callbacks.timeout_seconds:g} s. No se siguen redirecciones (un `3xx` es un fallo). "
            "`410 Gone` detiene los callbacks a su URL.",
        ),
        "- "
        + _(
            lang,
            f"A failed callback is retried after {schedule} (a little random spread each), honouring "
            "`Retry-After` on `429`/`503`, then set aside for a person to replay. Callbacks of one order "
            "arrive in order.",
            f"Un callback fallido se reintenta tras {schedule} (con una pequeña variación aleatoria), "
            "respetando `Retry-After` en `429`/`503`; después queda apartado para que una persona lo "
            "reenvíe. Los callbacks de un pedido llegan en orden.",
        ),
        "- "
        + _(
            lang,
            "`webhook-id` is the same on every retry of one callback: use it to ignore repeats.",
            "`webhook-id` es el mismo en cada reintento de un callback: úselo para ignorar repeticiones.",
        ),
        "",
        "### " + _(lang, "Body", "Cuerpo"),
        "",
        "```json",
        json.dumps(example, indent=2),
        "```",
        "",
        "### " + _(lang, "Verifying the signature", "Verificar la firma"),
        "",
        _(
            lang,
            f"`{SIGNATURE_HEADER}` is the hex HMAC-SHA256 of the raw body, keyed with the callback secret "
            f"(`{CALLBACK_SECRET_ENV}`) as text. During a secret rotation `{PREVIOUS_SIGNATURE_HEADER}` carries "
            "the previous secret's signature: accept either. The same callbacks carry Standard Webhooks "
            "headers (`webhook-id`, `webhook-timestamp`, `webhook-signature`), so any Standard Webhooks "
            "library verifies them with the same secret. Reject (`401`) anything that does not verify.",
            f"`{SIGNATURE_HEADER}` es el HMAC-SHA256 hexadecimal del cuerpo exacto, con el secreto de callbacks "
            f"(`{CALLBACK_SECRET_ENV}`) como texto. Durante una rotación de secreto, `{PREVIOUS_SIGNATURE_HEADER}` "
            "lleva la firma del secreto anterior: acepte cualquiera. Los mismos callbacks llevan las cabeceras "
            "Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`), así que cualquier "
            "librería Standard Webhooks los verifica con el mismo secreto. Rechace (`401`) lo que no verifique.",
        ),
    ]
    for language in LANGUAGES:
        lines += ["", f"### {LANGUAGE_NAMES[language]}", "", f"```{CODE_FENCE[language]}", verify_sample(language), "```"]
    return "\n".join(lines)


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:g} h"


def _status_link(config: Integration, lang: Lang, payload: Payload, base: str | None) -> str:
    return "\n".join(
        [
            "## " + _(lang, "Your status page", "Su página de estado"),
            "",
            _(
                lang,
                "Crossdock can give you a private, read-only link showing your recent deliveries and their results, the "
                "records rejected with their reasons, and the callbacks sent to your endpoint. Keep it private like a "
                "password; ask us to replace it if it leaks.",
                "Crossdock puede darle un enlace privado de solo lectura con sus entregas recientes y sus resultados, los "
                "registros rechazados con sus motivos y los callbacks enviados a su endpoint. Manténgalo privado como una "
                "contraseña; pídanos reemplazarlo si se filtra.",
            ),
        ]
    )


def _checklist(config: Integration, lang: Lang, payload: Payload, base: str | None) -> str:
    items = []
    if config.type == "webhook":
        items += [
            _(
                lang,
                "Received the credentials over a secure channel and stored them as environment variables",
                "Recibí las credenciales por un canal seguro y las guardé como variables de entorno",
            ),
            _(
                lang,
                "Sent the example to the staging URL and got `valid` for every record",
                "Envié el ejemplo a la URL de staging y obtuve `valid` en cada registro",
            ),
            _(lang, "Sent a real record of ours to staging and got `valid`", "Envié un registro real nuestro a staging y obtuve `valid`"),
            _(
                lang,
                "Sent a record without a required field and got its reason back",
                "Envié un registro sin un campo requerido y recibí el motivo",
            ),
            _(lang, "A wrong signature or credential gets `401`", "Una firma o credencial incorrecta recibe `401`"),
            _(
                lang,
                "Retries on `429`/`503`/timeouts with growing waits, and reuses the same `Idempotency-Key`",
                "Reintenta ante `429`/`503`/timeouts con esperas crecientes y reutiliza el mismo `Idempotency-Key`",
            ),
        ]
    else:
        items.append(_(lang, "Access for Crossdock is set up (read-only)", "El acceso de Crossdock está configurado (solo lectura)"))
    if config.callback_url:
        items += [
            _(
                lang,
                "Our callback endpoint verifies the signature and answers `401` when it does not match",
                "Nuestro endpoint de callbacks verifica la firma y responde `401` si no coincide",
            ),
            _(
                lang,
                "It answers `2xx` quickly and ignores repeated `webhook-id`s",
                "Responde `2xx` rápido e ignora los `webhook-id` repetidos",
            ),
        ]
    items.append(_(lang, "Crossdock promoted the integration to production", "Crossdock promovió la integración a producción"))
    return "\n".join(["## " + _(lang, "Test checklist", "Lista de pruebas"), "", *(f"- [ ] {item}" for item in items)])
