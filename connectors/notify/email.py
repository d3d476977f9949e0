"""Email over SMTP: STARTTLS (587) or implicit TLS (465) with the system's CA bundle or the channel's
own (`ca_file`), login when a user is set, and never a downgrade: a server that does not offer
STARTTLS is a failure, and a password is never sent over plain text except to a relay on loopback."""

from __future__ import annotations

import html
import ipaddress
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from connectors.notify.http import SendFailed
from pipelines.alerts.channels import EmailSettings
from pipelines.alerts.outbox import AlertMessage

COLORS = {"fired": "#b3261e", "reminder": "#b3261e", "resolved": "#1e7b34", "test": "#1f5fa8"}


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def smtp_send(settings: EmailSettings, message: EmailMessage, recipients: list[str] | None = None) -> str:
    """Send `message` (To set from `recipients`, else the channel's); returns where it went."""
    to = list(recipients if recipients is not None else settings.recipients)
    if not to:
        raise SendFailed("no recipients: add at least one address")
    if "To" not in message:
        message["To"] = ", ".join(to)
    if "From" not in message:
        message["From"] = settings.sender
    message["Date"] = formatdate(usegmt=True)
    password = settings.password.get_secret_value() if settings.password else None
    if settings.username and settings.security == "none" and not _loopback(settings.host):
        raise SendFailed("refusing to send the SMTP password without TLS: set security to starttls or ssl")
    context = ssl.create_default_context(cafile=settings.ca_file) if settings.security != "none" else None
    try:
        if settings.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout_seconds, context=context)
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
        with client:
            client.ehlo()
            if settings.security == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if settings.username:
                client.login(settings.username, password or "")
            refused = client.send_message(message, from_addr=settings.sender, to_addrs=to)
    except smtplib.SMTPNotSupportedError:
        raise SendFailed(f"{settings.host}:{settings.port} does not offer STARTTLS") from None
    except smtplib.SMTPAuthenticationError as exc:
        raise SendFailed(f"SMTP login refused ({exc.smtp_code})") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise SendFailed(f"every recipient was refused: {', '.join(exc.recipients)}") from None
    except smtplib.SMTPResponseException as exc:
        raise SendFailed(f"SMTP {exc.smtp_code}: {exc.smtp_error.decode(errors='replace')[:200]}") from None
    except ssl.SSLError as exc:
        raise SendFailed(f"TLS with {settings.host}:{settings.port} failed: {exc.reason or exc}") from None
    except TimeoutError:
        raise SendFailed(f"no answer from {settings.host}:{settings.port} within {settings.timeout_seconds:g} s") from None
    except (OSError, smtplib.SMTPException) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise SendFailed(f"SMTP {settings.host}:{settings.port}: {reason}") from None
    delivered = [address for address in to if address not in refused]
    return "email to " + ", ".join(delivered)


def alert_email(message: AlertMessage, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["Subject"] = message.title
    email["From"] = sender
    email["Message-ID"] = make_msgid(domain="crossdock")
    email["X-Crossdock-Event"] = message.event
    if message.notification_id is not None:
        email["X-Crossdock-Notification"] = str(message.notification_id)
    email.set_content(message.text())
    color = COLORS.get(message.message, "#333")
    rows = "".join(f"<p style='margin:4px 0'>{html.escape(line)}</p>" for line in message.lines()[:-1])
    email.add_alternative(
        f"<div style='font-family:Arial,sans-serif;font-size:14px'>"
        f"<h2 style='color:{color};font-size:18px'>{html.escape(message.title)}</h2>{rows}"
        f"<p><a href='{html.escape(message.url)}'>Open in Crossdock</a></p></div>",
        subtype="html",
    )
    return email


def send_alert(settings: EmailSettings, message: AlertMessage) -> str:
    return smtp_send(settings, alert_email(message, settings.sender))
