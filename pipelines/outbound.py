"""The outbound policy: which addresses Crossdock may send requests to, and which header names a person
may configure. One policy for every outbound channel (polls and their pages, redirects, Test
connection, callbacks); connectors/outbound.py enforces it at connect time, and the integration model
applies it to what can be decided when a URL is saved.

Addresses fall in three classes:

- **never**: link-local (169.254.0.0/16, fe80::/10, which hold the cloud metadata services), known
  metadata addresses outside it (fd00:ec2::254, 100.100.100.200, 168.63.129.16, 192.0.0.192), the
  unspecified and "this network" addresses (0.0.0.0 reaches this machine), multicast, broadcast and
  reserved ranges. No allow list opens them, not even 0.0.0.0/0.
- **internal**: loopback, private (RFC 1918, fc00::/7), shared (100.64.0.0/10) and every other
  address that is not globally routable. Refused unless `CROSSDOCK_OUTBOUND_ALLOW` lists it.
- **public**: everything else, allowed.

An IPv6 address that carries an IPv4 one (IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4
`2002::/16`) is judged by the IPv4 address it reaches.

`CROSSDOCK_OUTBOUND_ALLOW` is a comma-separated list; each entry is an address, a network (CIDR) or a
host name, optionally with a port: `127.0.0.1:8090`, `10.20.0.0/16`, `[::1]:8090`, `[fd00::/8]:443`,
`erp.corp.internal`, `erp.corp.internal:8443`. A network or address admits the internal addresses in
it; a host name admits whatever internal addresses that name resolves to, when a URL names exactly
that host. Without a port, any port. It is read from the environment on every check (cheaply: the
parsed list is cached per value), like every other setting.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import unicodedata
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from pipelines.settings import Settings, variable

ALLOW_VARIABLE = variable("outbound_allow")
assert "outbound_allow" in Settings.model_fields, "documented with the other settings"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Metadata services outside link-local (which is refused whole): AWS's IPv6 endpoint, Alibaba Cloud,
# Azure's wire server, Oracle Cloud's IMDS.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "fd00:ec2::254",
        "100.100.100.200",
        "168.63.129.16",
        "192.0.0.192",
    )
)
# Names of metadata services: they resolve to a refused address on their cloud anyway, and are refused
# by name too, so the reason is clear even where they do not resolve.
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.com",
        "metadata.tencentyun.com",
        "metadata.platformequinix.com",
    }
)
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_BROADCAST = ipaddress.ip_address("255.255.255.255")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class AddressClass(Enum):
    PUBLIC = "public"
    INTERNAL = "internal"  # refused unless allow-listed
    NEVER = "never"  # refused whatever the allow list says


@dataclass(frozen=True)
class Judgement:
    """What the policy thinks of one address: its class and, unless public, what kind of address it is."""

    address: IPAddress
    kind: AddressClass
    what: str = "a public address"


class OutboundPolicyError(ValueError):
    """CROSSDOCK_OUTBOUND_ALLOW holds an entry that is not an address, a network or a host name."""


def reached(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one carries, when it carries one (mapped, NAT64, 6to4, compatible)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
        if address in _IPV4_COMPATIBLE and int(address) > 1:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def judge(address: IPAddress) -> Judgement:
    """The class of `address` (IPv6 forms of an IPv4 address are judged by the IPv4 one)."""
    inner = reached(address)
    if inner != address:
        found = judge(inner)
        return Judgement(address, found.kind, f"an IPv6 form of {inner}, {found.what}")
    never = AddressClass.NEVER
    if address in METADATA_ADDRESSES:
        return Judgement(address, never, "a cloud metadata address")
    if address.is_link_local:
        return Judgement(address, never, "a link-local address (where cloud metadata services live)")
    if address.is_unspecified:
        return Judgement(address, never, "the unspecified address (it reaches this machine)")
    if isinstance(address, ipaddress.IPv4Address) and address in _THIS_NETWORK:
        return Judgement(address, never, 'a "this network" address (0.0.0.0/8)')
    if address.is_multicast:
        return Judgement(address, never, "a multicast address")
    if address.is_loopback:
        return Judgement(address, AddressClass.INTERNAL, "a loopback address (this machine)")
    if address == _BROADCAST:
        return Judgement(address, never, "the broadcast address")
    if address.is_reserved:
        return Judgement(address, never, "a reserved address")
    if address.is_private or not address.is_global:
        return Judgement(address, AddressClass.INTERNAL, "a private address")
    return Judgement(address, AddressClass.PUBLIC)


# --- the allow list --------------------------------------------------------------------------------------

_HOST_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$")


@dataclass(frozen=True)
class AllowEntry:
    """One entry of CROSSDOCK_OUTBOUND_ALLOW: a network or a host name, and a port (None: any)."""

    network: IPNetwork | None = None
    host: str | None = None
    port: int | None = None

    def admits(self, host: str, address: IPAddress, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            return any(candidate.version == self.network.version and candidate in self.network for candidate in {address, reached(address)})
        return self.host == host

    def __str__(self) -> str:
        where = str(self.network if self.network is not None else self.host)
        if self.port is None:
            return where
        return f"[{where}]:{self.port}" if ":" in where else f"{where}:{self.port}"


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65_536:
        raise OutboundPolicyError(f"{ALLOW_VARIABLE}: {entry!r} has no usable port")
    return int(text)


def parse_entry(entry: str) -> AllowEntry:
    """`127.0.0.1:8090`, `10.0.0.0/8`, `[::1]:8090`, `fd00::/8`, `erp.internal:8443`…"""
    text = entry.strip()
    port = None
    if text.startswith("["):
        inside, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise OutboundPolicyError(f"{ALLOW_VARIABLE}: {entry!r} is not [address]:port")
        text, port = inside, _port(rest[1:], entry) if rest else None
    elif text.count(":") == 1:
        text, _, given = text.partition(":")
        port = _port(given, entry)
    try:
        return AllowEntry(network=ipaddress.ip_network(text, strict=False), port=port)
    except ValueError:
        if "/" in text or ":" in text or re.fullmatch(r"[0-9.]+", text):
            raise OutboundPolicyError(f"{ALLOW_VARIABLE}: {entry!r} is not a valid address or network") from None
    name = normal_host(text)
    if not _HOST_NAME.match(name):
        raise OutboundPolicyError(f"{ALLOW_VARIABLE}: {entry!r} is not an address, a network or a host name")
    return AllowEntry(host=name, port=port)


@lru_cache(maxsize=16)
def parse_allow_list(value: str) -> tuple[AllowEntry, ...]:
    """Every entry of a CROSSDOCK_OUTBOUND_ALLOW value (commas or whitespace between entries)."""
    return tuple(parse_entry(part) for part in re.split(r"[,\s]+", value) if part)


def allow_list() -> tuple[AllowEntry, ...]:
    """The allow list the environment holds now. (Read straight from the variable: building the whole
    `pipelines.settings.Settings` costs milliseconds, and this is read on every connection.)"""
    return parse_allow_list(os.environ.get(ALLOW_VARIABLE, ""))


def with_entry(value: str, entry: str) -> str:
    """`value` (a CROSSDOCK_OUTBOUND_ALLOW) with `entry` added unless already there: for `crossdock up`,
    which opens the demo client API's address and keeps whatever the operator allowed."""
    parts = [part for part in re.split(r"[,\s]+", value) if part]
    return ",".join(parts if entry in parts else [*parts, entry])


# --- decisions ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """Why a destination is refused, in words an operator can act on."""

    host: str
    address: IPAddress | None
    reason: str

    def __str__(self) -> str:
        return self.reason


def normal_host(host: str) -> str:
    """A host name as compared: lower case, no trailing dot, full-width and ideographic dots as dots."""
    host = unicodedata.normalize("NFKC", host.translate({0x3002: ".", 0xFF0E: ".", 0xFF61: "."}))
    return host.lower().rstrip(".")


def decide(host: str, address: IPAddress, port: int, allowed: tuple[AllowEntry, ...] | None = None) -> Refusal | None:
    """None when a connection to `address` (reached for `host`, on `port`) is allowed, else why not."""
    judged = judge(address)
    if judged.kind is AddressClass.PUBLIC:
        return None
    name = normal_host(host)
    shown = str(address) if name == str(address) else f"{name} resolves to {address}, which"
    if judged.kind is AddressClass.NEVER:
        return Refusal(name, address, f"{shown} is {judged.what}: Crossdock never sends requests there")
    entries = allow_list() if allowed is None else allowed
    if any(entry.admits(name, address, port) for entry in entries):
        return None
    suggestion = f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"
    return Refusal(
        name,
        address,
        f"{shown} is {judged.what}: Crossdock sends requests there only when "
        f"{ALLOW_VARIABLE} lists it (e.g. {ALLOW_VARIABLE}={suggestion})",
    )


def refused_name(host: str) -> Refusal | None:
    """A host refused by its name alone (a cloud metadata service)."""
    name = normal_host(host)
    if name in METADATA_NAMES:
        return Refusal(name, None, f"{name} is a cloud metadata service: Crossdock never sends requests there")
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address a URL's host spells, in any form the resolver accepts: `[::1]`, `127.0.0.1`, and the
    numeric disguises inet_aton reads (`0x7f000001`, `2130706433`, `0177.0.0.1`, `127.1`). None for a name."""
    name = normal_host(host).strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    if re.fullmatch(r"[0-9a-fx.]+", name) and re.match(r"[0-9]", name):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            return None
    return None


def _is_localhost(name: str) -> bool:
    return name == "localhost" or name.endswith(".localhost")  # RFC 6761: always loopback


def ip_of(text: str) -> IPAddress:
    """An address as getaddrinfo gives it (an IPv6 one may carry a `%scope`)."""
    return ipaddress.ip_address(text.split("%", 1)[0])


def disguise(host: str) -> Refusal | None:
    """A host that spells an address in a form other than the usual one (`0x7f000001`, `2130706433`,
    `0177.0.0.1`, `127.1`): refused whatever it means, because a person reading the URL would not
    recognise the address, and the resolvers and parsers on the way disagree about some of them."""
    name = normal_host(host).strip("[]")
    address = literal_address(name)
    if address is None or ":" in name or name == str(address):
        return None
    return Refusal(
        name,
        address,
        f"{host} is the address {address} in disguise: write addresses in the usual "
        f"dotted form ({address}); Crossdock refuses the numeric disguises",
    )


def check_url(url: str) -> str:
    """What can be decided about `url` when it is saved, without DNS: credentials in it, a literal
    address (in any disguise), `localhost` or a metadata service's name that the policy refuses
    raise ValueError saying why. Host names are judged when connecting (what they resolve to may
    change). Returns `url`."""
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 80)
    except ValueError as exc:
        raise ValueError(f"is not a usable URL ({exc})") from None
    if "@" in parts.netloc:
        raise ValueError(
            "must not carry credentials (user:password@): they would be stored and shown in clear; "
            "use the integration's auth settings instead"
        )
    host = parts.hostname
    if not host:
        raise ValueError("has no host")
    refusal = refused_name(host) or disguise(host)
    address = literal_address(host)
    if refusal is None and address is not None:
        refusal = decide(str(address), address, port)
    elif refusal is None and _is_localhost(normal_host(host)):
        loopback = ipaddress.ip_address("127.0.0.1")
        entries = allow_list()
        if not any(entry.admits(normal_host(host), a, port) for entry in entries for a in (loopback, ipaddress.ip_address("::1"))):
            refusal = decide(host, loopback, port, ())
    if refusal is not None:
        raise ValueError(f"refused: {refusal}")
    return url


# --- what is read back ---------------------------------------------------------------------------------

EXCERPT_CHARS = 120
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def excerpt(content: bytes | str, secrets: tuple[str | None, ...] = (), limit: int = EXCERPT_CHARS) -> str:
    """A short, one-line excerpt of a response for an error message or an attempt log: at most
    `limit` characters, control characters folded to a space, and every one of `secrets` (the
    credentials sent with the request) masked, since a server may echo what it was sent."""
    text = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else content
    longest = max((len(secret) for secret in secrets if secret), default=0)
    text = text[: limit * 4 + longest]  # enough that a secret at the cut is still whole, so masked
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- header names ----------------------------------------------------------------------------------------

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field-name
# Headers that steer the connection, the proxy or the server's idea of who is asking, and those cloud
# metadata services require: none of them is ever a place for a credential.
DENIED_HEADERS = frozenset(
    name.lower()
    for name in (
        "Host",
        "Connection",
        "Keep-Alive",
        "Transfer-Encoding",
        "TE",
        "Trailer",
        "Upgrade",
        "Content-Length",
        "Content-Encoding",
        "Expect",
        "Forwarded",
        "Via",
        "Cookie",
        "Cookie2",
        "Set-Cookie",
        "X-Real-IP",
        "X-Client-IP",
        "True-Client-IP",
        "X-Original-URL",
        "X-Rewrite-URL",
        "X-HTTP-Method-Override",
        "X-HTTP-Method",
        "X-Method-Override",
        "Metadata-Flavor",
        "Metadata",
        "X-Google-Metadata-Request",
        "X-aws-ec2-metadata-token",
        "X-aws-ec2-metadata-token-ttl-seconds",
    )
)
DENIED_HEADER_PREFIXES = ("proxy-", "x-forwarded-", "sec-")


def check_header_name(name: Any) -> str:
    """A header name a person configured (e.g. `api.apikey_header`), or ValueError saying why not."""
    if not isinstance(name, str) or not _TOKEN.match(name):
        raise ValueError("must be a header name: letters, digits and !#$%&'*+.^_`|~- only (no spaces, colons or line breaks)")
    lowered = name.lower()
    if lowered in DENIED_HEADERS or lowered.startswith(DENIED_HEADER_PREFIXES):
        raise ValueError(
            f"{name} cannot carry a credential: it steers the connection, a proxy or a cloud metadata "
            "service (Host, Connection, Transfer-Encoding, Content-Length, Upgrade, Cookie, Forwarded, "
            "X-Forwarded-*, Proxy-*, Metadata-Flavor and the like are refused)"
        )
    return name
