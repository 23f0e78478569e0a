"""Delivering a made report: files into a directory, a summary to Slack, the files by email.

Each delivery raises `DeliveryError` (with `retry_after` when the other side said when) and
nothing else: client libraries' errors are translated here.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import aiohttp

from monitor.logs import excerpt
from monitor.reports.i18n import Words
from monitor.reports.model import Report
from monitor.reports.present import METRICS, cell, scope_line, scope_name, subtitle, summary_lines
from monitor.reports.render import MEDIA_TYPES
from monitor.reports.settings import DirectoryDelivery, EmailDelivery, SlackDelivery
from monitor.secrets import EnvSecret


class DeliveryError(Exception):
    """A delivery failed; `retry_after` (seconds) when the receiver asked to wait."""

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


@dataclass(frozen=True)
class Made:
    """A rendered report: its files by name, and the report they came from."""

    report: Report
    words: Words
    files: dict[str, bytes]


# --- directory ----------------------------------------------------------------------------------


def write_files(directory: Path, files: Mapping[str, bytes]) -> list[Path]:
    """Write each file atomically (a temporary file renamed into place); return the paths."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for name, data in files.items():
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                Path(tmp).replace(directory / name)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            written.append(directory / name)
        return written
    except OSError as exc:
        raise DeliveryError(f"cannot write to {directory}: {exc.strerror or exc}") from None


async def deliver_directory(delivery: DirectoryDelivery, made: Made) -> list[Path]:
    return await asyncio.to_thread(write_files, delivery.path.expanduser(), made.files)


# --- Slack --------------------------------------------------------------------------------------


def slack_payload(made: Made) -> dict[str, Any]:
    """A Block Kit summary: the period, the totals with their changes, one line per brand."""
    report, words = made.report, made.words
    title = f"{words('title')} — {words.period(report.period)}"
    fields = [{"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in summary_lines(report, words)]
    brand_lines = []
    for row in report.brands:
        parts = [
            f"{words(m.key)} {cell(m, row, words).value}"
            for m in METRICS
            if m.key in ("questions", "response_rate", "median_first", "within_sla", "breaches")
        ]
        brand_lines.append(f"• *{scope_name(row, words)}* — " + " · ".join(parts))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"{subtitle(report, words)} · {scope_line(report, words)}"}],
        },
        {"type": "section", "fields": fields[:10]},
    ]
    if brand_lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(brand_lines)[:3000]}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": words("slack_more")}]})
    text = title + "\n" + "\n".join(f"{n}: {v}" for n, v in summary_lines(report, words))
    return {"text": text, "blocks": blocks}


async def deliver_slack(
    delivery: SlackDelivery, made: Made, session: aiohttp.ClientSession, environ: Mapping[str, str] = os.environ
) -> None:
    url = EnvSecret(delivery.webhook_url_env, environ).get()
    if not url:
        raise DeliveryError(
            f"environment variable {delivery.webhook_url_env} (the Slack webhook URL) is not set", permanent=True
        )
    try:
        async with session.post(url, json=slack_payload(made), timeout=aiohttp.ClientTimeout(total=30)) as resp:
            body = excerpt(await resp.text(), 200)
            if resp.status == 200:
                return
            retry = resp.headers.get("Retry-After")
            raise DeliveryError(
                f"Slack webhook answered {resp.status} {body!r}",
                retry_after=float(retry) if retry and retry.replace(".", "", 1).isdigit() else None,
                permanent=resp.status in (400, 403, 404, 410),
            )
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DeliveryError(f"Slack webhook unreachable: {type(exc).__name__}: {exc}") from None


# --- email --------------------------------------------------------------------------------------


def email_message(delivery: EmailDelivery, made: Made) -> EmailMessage:
    """The email: a plain-text summary, every file of the report attached."""
    report, words = made.report, made.words
    msg = EmailMessage()
    msg["Subject"] = f"{words('title')} — {words.period(report.period)}"
    msg["From"] = delivery.sender
    msg["To"] = ", ".join(delivery.to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=delivery.sender.rsplit("@", 1)[-1])
    lines = [words("title"), subtitle(report, words), scope_line(report, words), ""]
    lines += [f"{name}: {value}" for name, value in summary_lines(report, words)]
    if report.brands:
        lines.append("")
        for row in report.brands:
            lines.append(
                f"{scope_name(row, words)}: "
                + ", ".join(f"{words(m.key)} {cell(m, row, words).value}" for m in METRICS)
            )
    msg.set_content("\n".join(lines) + "\n")
    for name, data in made.files.items():
        maintype, subtype = MEDIA_TYPES[name.rsplit(".", 1)[-1]].split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def _send(delivery: EmailDelivery, msg: EmailMessage, password: str | None) -> None:
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if delivery.security == "tls":
        smtp = smtplib.SMTP_SSL(delivery.host, delivery.port, timeout=delivery.timeout_seconds, context=context)
    else:
        smtp = smtplib.SMTP(delivery.host, delivery.port, timeout=delivery.timeout_seconds)
    with smtp:
        if delivery.security == "starttls":
            smtp.starttls(context=context)
        if delivery.username and password:
            smtp.login(delivery.username, password)
        smtp.send_message(msg)


async def deliver_email(delivery: EmailDelivery, made: Made, environ: Mapping[str, str] = os.environ) -> None:
    password = None
    if delivery.password_env:
        password = EnvSecret(delivery.password_env, environ).get()
        if not password:
            raise DeliveryError(
                f"environment variable {delivery.password_env} (the SMTP password) is not set", permanent=True
            )
    msg = email_message(delivery, made)
    try:
        await asyncio.to_thread(_send, delivery, msg, password)
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(
            f"SMTP server {delivery.host}:{delivery.port} answered {exc.smtp_code} {exc.smtp_error!r}",
            permanent=500 <= exc.smtp_code < 600,
        ) from None
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise DeliveryError(f"SMTP server {delivery.host}:{delivery.port}: {type(exc).__name__}: {exc}") from None
