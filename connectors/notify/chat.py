"""Chat incoming webhooks: Slack, Microsoft Teams (Workflows and connector webhooks, as an Adaptive
Card) and Google Chat. Each gets the same message in the shape its service expects."""

from __future__ import annotations

from typing import Any

import orjson

from connectors.notify.http import post_json
from pipelines.alerts.channels import ChatSettings
from pipelines.alerts.outbox import AlertMessage

EMOJI = {"fired": ":rotating_light:", "reminder": ":rotating_light:", "resolved": ":white_check_mark:", "test": ":bell:"}


def slack_payload(message: AlertMessage) -> dict[str, Any]:
    lines = message.lines()[:-1]
    return {
        "text": f"{message.title}\n{message.summary}",  # notifications and clients without blocks
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{EMOJI.get(message.message, '')} *{message.title}*"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{message.url}|Open in Crossdock>"}]},
        ],
    }


def teams_payload(message: AlertMessage) -> dict[str, Any]:
    color = "Good" if message.message == "resolved" else ("Accent" if message.message == "test" else "Attention")
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": message.title, "weight": "Bolder", "size": "Medium", "color": color, "wrap": True},
            *({"type": "TextBlock", "text": line, "wrap": True} for line in message.lines()[:-1]),
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "Open in Crossdock", "url": message.url}],
    }
    return {
        "type": "message",
        "summary": message.title,
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}],
    }


def google_chat_payload(message: AlertMessage) -> dict[str, Any]:
    lines = message.lines()[:-1]
    return {"text": f"*{message.title}*\n" + "\n".join(lines) + f"\n<{message.url}|Open in Crossdock>"}


PAYLOADS = {"slack": slack_payload, "teams": teams_payload, "google_chat": google_chat_payload}
NAMES = {"slack": "Slack", "teams": "Teams", "google_chat": "Google Chat"}


def send_chat(kind: str, settings: ChatSettings, message: AlertMessage) -> str:
    body = orjson.dumps(PAYLOADS[kind](message))
    headers = {"Content-Type": "application/json; charset=UTF-8"}
    status = post_json(settings.url.get_secret_value(), body, headers, settings.timeout_seconds)
    return f"{NAMES[kind]} ({status})"
