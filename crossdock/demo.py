"""`crossdock demo`: demo data for both seeds, created once and left alone afterwards.

- `autentikapp_demo`: seed 004's account (target sale, Autentikapp signatures, async acks) with a
  generated `whsec_` secret, kept in `.crossdock/autentikapp_demo.secret` (this user only) so the
  printed signing command can read it without the secret ever being shown, and registered
  identifier codes including the seed's.
- `cliente_abc`, seed 000's webhook integration, is deliberately not created: the plan's first step
  is an admin creating it (`POST /integrations`, or the admin app's form), so the printed walkthrough
  starts there, with the admin token read from its file rather than shown.
"""

from __future__ import annotations

import secrets
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from pipelines import settings
from pipelines.integrations import IntegrationNotFound, WebhookIntegration, create_integration, get_integration
from pipelines.sales.lookup import register_codes
from pipelines.secrets import mask

ORDERS_DEMO = "cliente_abc"
ACCOUNT_DEMO = "autentikapp_demo"
SECRET_FILE = "autentikapp_demo.secret"
SEED_CODE = "a1b2c3d4-e5f6-7890-1234-567890abcdef"
DEMO_CODES = [SEED_CODE] + [f"a1b2c3d4-e5f6-7890-1234-{n:012d}" for n in range(1, 10)]
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

SEED_INTEGRATION_FILE = EXAMPLES / "webhook_integration.json"  # seed 000's POST /integrations body


@dataclass
class DemoReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    codes_added: int = 0
    account_secret_masked: str | None = None
    secret_path: Path | None = None


def demo_secret() -> str:
    return settings.generated_secret("demo_autentikapp_secret", SECRET_FILE, lambda: "whsec_" + secrets.token_urlsafe(24))


def seed_demo(engine: sa.Engine) -> DemoReport:
    """Create whatever of the demo data is missing; never changes what exists."""
    report = DemoReport()
    secret = demo_secret()
    wanted = [
        WebhookIntegration.model_validate(
            {
                "name": ACCOUNT_DEMO,
                "target": "sale",
                "is_active": True,
                "webhook": {"ack_mode": "async", "verification": "autentikapp", "signing_secrets": [secret]},
            }
        ),
    ]
    for config in wanted:
        try:
            get_integration(engine, config.name)
            report.existing.append(config.name)
        except IntegrationNotFound:
            create_integration(engine, config)
            report.created.append(config.name)
    account = get_integration(engine, ACCOUNT_DEMO)
    if account.target == "sale":
        report.codes_added = register_codes(engine, account.id, [{"code": c, "product_sku": "BOLSO-CUERO-01"} for c in DEMO_CODES]).added
    stored = account.config_as(WebhookIntegration).webhook.signing_secrets
    report.account_secret_masked = mask(stored[0].get_secret_value()) if stored else None
    report.secret_path = settings.home() / SECRET_FILE
    return report


def create_seed_integration_curl(base_url: str) -> str:
    """Seed 000's step 1, `POST /integrations` with the plan's body, authorised by the admin token
    (read from its file, or from CROSSDOCK_ADMIN_TOKEN when set: never printed)."""
    if settings.current().admin_token is not None:
        token = "$CROSSDOCK_ADMIN_TOKEN"
    else:
        token = f"$(cat {shlex.quote(str(settings.admin_token_path()))})"
    return (
        f"curl -X POST {base_url}/integrations \\\n"
        f'  -H "Authorization: Bearer {token}" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f"  --data-binary @{shlex.quote(str(SEED_INTEGRATION_FILE))}"
    )


def seed_curl(base_url: str) -> str:
    """Seed 000's curl, verbatim but for the host."""
    return (
        f"curl -X POST {base_url}/webhook/{ORDERS_DEMO} \\\n"
        '  -H "Content-Type: application/json" \\\n'
        '  -H "X-API-Key: secreto_compartido" \\\n'
        "  -d '[\n"
        "    {\n"
        '      "external_id": "PED-001",\n'
        '      "client_name": "María García",\n'
        '      "address": "Zona 15, Guatemala",\n'
        '      "latitude": 14.5800,\n'
        '      "longitude": -90.4900\n'
        "    }\n"
        "  ]'"
    )


def autentikapp_commands(base_url: str, secret_path: Path) -> str:
    """Sign seed 004's payload with the demo secret (read from its file, never printed) and send it."""
    payload = shlex.quote(str(EXAMPLES / "autentikapp_sale.json"))
    key = shlex.quote(str(secret_path))
    return (
        f"SIG=$(openssl dgst -sha256 -hmac \"$(cat {key})\" -r < {payload} | cut -d' ' -f1)\n"
        f"curl -X POST {base_url}/v1/webhooks/inbound/{ACCOUNT_DEMO} \\\n"
        '  -H "Content-Type: application/json" \\\n'
        '  -H "X-Autentikapp-Signature: $SIG" \\\n'
        f"  --data-binary @{payload}"
    )


def print_demo(report: DemoReport) -> None:
    base = settings.public_receiver_url()
    for name in report.created:
        print(f"created demo integration {name}")
    for name in report.existing:
        print(f"demo integration {name} already exists (left as it is)")
    print(f"{report.codes_added} identifier code(s) registered for {ACCOUNT_DEMO} (including {SEED_CODE})")
    print(f"{ACCOUNT_DEMO} signing secret: {report.account_secret_masked} (full value in {report.secret_path})")
    settings.admin_token()  # generated now, so the file the command reads exists
    print(
        f"\nseed 000, step 1 (admin): create {ORDERS_DEMO} with the plan's body (or add it on the admin app's "
        "Integrations page):\n" + create_seed_integration_curl(base)
    )
    print(
        f"\nseed 000, step 3 (step 2 is sharing the endpoint and key with the client): the client sends an "
        f"order to {ORDERS_DEMO}:\n" + seed_curl(base)
    )
    print("\nseed 004, a signed Autentikapp sale:\n" + autentikapp_commands(base, report.secret_path))
