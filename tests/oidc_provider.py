"""A real OpenID provider for the tests: node-oidc-provider (tests/oidc/provider.mjs) on a loopback port.

`make oidc-provider` installs its pinned package into tests/oidc/node_modules; without node or the
package the tests that need it skip with the reason (fail under CROSSDOCK_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.processes import free_port, stop, wait_for_http
from tests.services import unavailable

FOLDER = Path(__file__).resolve().parent / "oidc"
STARTUP_SECONDS = 30


@dataclass(frozen=True)
class OpenIdProvider:
    issuer: str
    client_id: str
    client_secret: str

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"


def require_provider() -> str:
    """The node binary, once node and the provider package are both there."""
    node = shutil.which("node")
    if node is None:
        unavailable("node is not installed (make guide-tools installs it): the single sign-on tests need it")
    if not (FOLDER / "node_modules" / "oidc-provider" / "package.json").exists():
        unavailable(f"oidc-provider is not installed in {FOLDER / 'node_modules'} (make oidc-provider installs it)")
    return str(node)


@contextmanager
def openid_provider(redirect_uri: str, log: Path) -> Iterator[OpenIdProvider]:
    """node-oidc-provider with one confidential client for `redirect_uri`, until the block ends."""
    node = require_provider()
    port = free_port()
    client = OpenIdProvider(f"http://127.0.0.1:{port}", "crossdock-admin", "test client secret, not a real one")
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                node,
                str(FOLDER / "provider.mjs"),
                "--port",
                str(port),
                "--client-id",
                client.client_id,
                "--client-secret",
                client.client_secret,
                "--redirect-uri",
                redirect_uri,
            ],
            cwd=FOLDER,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        try:
            wait_for_http(client.metadata_url, process, STARTUP_SECONDS)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{log.read_text()}") from None
        yield client
    finally:
        stop(process, timeout=10)
