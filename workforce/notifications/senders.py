"""Where e-mail goes: chosen by ``WORKFORCE_EMAIL_SENDER``."""

from __future__ import annotations

import logging
import smtplib
import sys
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    body: str  # the plain-text part
    html: str | None = None  # the HTML alternative, if any

    def message(self, sender: str) -> EmailMessage:
        """The MIME message: plain text, with the HTML part as its alternative."""
        message = EmailMessage()
        message["From"] = sender
        message["To"] = self.to
        message["Subject"] = self.subject
        message.set_content(self.body)
        if self.html is not None:
            message.add_alternative(self.html, subtype="html")
        return message


class EmailSender(Protocol):
    def send(self, email: Email) -> None: ...


class ConsoleSender:
    """Prints whole messages on standard output, for development only.

    Messages carry one-time links (invitations, password resets), so they are
    printed for the developer at the terminal and never written to the log.
    """

    def send(self, email: Email) -> None:
        sys.stdout.write(
            f"\n--- e-mail to {email.to}: {email.subject}\n{email.body}\n--- end of e-mail\n"
        )
        sys.stdout.flush()


class LogSender:
    """Records that a message would be sent, without its body (which may hold secrets)."""

    def send(self, email: Email) -> None:
        log.info("email not delivered (log sender)", extra={"subject": email.subject})


@dataclass
class MemorySender:
    """Keeps messages in a list; the tests read them from there."""

    sent: list[Email] = field(default_factory=list)

    def send(self, email: Email) -> None:
        self.sent.append(email)


@dataclass(frozen=True)
class SmtpSender:
    """Plain SMTP with STARTTLS, configured by a URL such as
    ``smtp://user:password@mail.example.com:587``."""

    url: str
    sender: str

    def send(self, email: Email) -> None:
        parts = urlsplit(self.url)
        message = email.message(self.sender)
        with smtplib.SMTP(parts.hostname or "localhost", parts.port or 587, timeout=30) as smtp:
            if parts.scheme != "smtp+insecure":
                smtp.starttls()
            if parts.username:
                smtp.login(unquote(parts.username), unquote(parts.password or ""))
            smtp.send_message(message)


def make_sender(name: str, *, smtp_url: str = "", sender: str = "") -> EmailSender:
    if name == "console":
        return ConsoleSender()
    if name == "log":
        return LogSender()
    if name == "memory":
        return MemorySender()
    if name == "smtp":
        return SmtpSender(smtp_url, sender)
    raise ValueError(f"unknown e-mail sender {name!r} (console, log, memory or smtp)")
