"""Posting a delivery to its endpoint: the public-URL check again at send time, the
name resolved and every address checked, the connection made to the address that was
checked (so a name cannot resolve to a public address for the check and a private one
for the request), timeouts, and no redirect followed (a 3xx is an answer like any other
non-2xx: a failure).

The timeout bounds each wait (to connect, for each read); the deadline bounds the whole
request, so that a receiver dripping its answer a byte at a time cannot keep a request
going: a delivery's claim (``delivery``) outlasts the deadline, which is what keeps two
senders from sending one delivery at once."""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from workforce.urls import is_public_address, url_problem

Resolver = Callable[[str, int], list[str]]
# What is read of an answer: its status is what counts; the body is not kept.
ANSWER_READ_LIMIT = 65536
# The whole request may take this many timeouts: to connect, to send, to answer.
DEADLINE_TIMEOUTS = 3


class Refused(Exception):
    """The destination may not be called (a private address, a URL no longer allowed)."""


@dataclass(frozen=True)
class Answer:
    status: int
    duration_ms: int


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in found})


def loopback_url(url: str) -> bool:
    """Whether ``url`` is an http(s) URL of this machine (127.0.0.0/8, ::1, localhost)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or parts.username or parts.password:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint_url_problem(url: str, *, allow_loopback: bool) -> str | None:
    """Why ``url`` may not be an endpoint: a public https URL, or (with the development
    setting) a URL on this machine."""
    if allow_loopback and loopback_url(url):
        return None
    return url_problem(url, schemes=frozenset({"https"}))


class Transport:
    """Sends one POST; built once by ``create_app`` from the settings."""

    def __init__(self, *, timeout: float, allow_loopback: bool = False,
                 resolver: Resolver = resolve) -> None:
        self.timeout = timeout
        self.deadline = timeout * DEADLINE_TIMEOUTS
        self.allow_loopback = allow_loopback
        self.resolver = resolver

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        """POST ``body``; the answer's status. ``Refused`` before anything is sent to a
        destination not allowed; ``OSError`` (timeouts included, and ``TimeoutError``
        when the deadline passed) when the request fails."""
        problem = endpoint_url_problem(url, allow_loopback=self.allow_loopback)
        if problem is not None:
            raise Refused(f"The URL {problem}.")
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = self._checked_address(host, port)
        connection = _connection(parts.scheme, host, port, address, self.timeout)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        started = time.perf_counter()
        late = threading.Event()
        cut = threading.Timer(self.deadline, _cut_off, (connection, late))
        cut.daemon = True
        cut.start()
        try:
            connection.request("POST", target, body=body, headers=dict(headers))
            response = connection.getresponse()
            response.read(ANSWER_READ_LIMIT)
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            if late.is_set():
                raise TimeoutError(
                    f"No complete answer within {self.deadline:g} s.") from exc
            raise
        finally:
            cut.cancel()
            connection.close()
        if late.is_set():  # an answer cut short reads as a whole one: it is not
            raise TimeoutError(f"No complete answer within {self.deadline:g} s.")
        return Answer(status, round((time.perf_counter() - started) * 1000))

    def _checked_address(self, host: str, port: int) -> str:
        try:
            addresses = self.resolver(host, port)
        except OSError as exc:
            raise Refused(f"The host name {host} does not resolve: {exc}") from exc
        if not addresses:
            raise Refused(f"The host name {host} does not resolve.")
        for address in addresses:
            parsed = ipaddress.ip_address(address.split("%")[0])
            if is_public_address(parsed):
                continue
            if self.allow_loopback and parsed.is_loopback:
                continue
            raise Refused(f"{host} resolves to {address}, which is not a public address.")
        return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address, with the certificate checked for the host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _cut_off(connection: http.client.HTTPConnection, late: threading.Event) -> None:
    """End a request past its deadline: shutting the socket down wakes the read that
    waits on it (closing alone would not)."""
    late.set()
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


def _connection(scheme: str, host: str, port: int, address: str, timeout: float) -> Any:
    cls = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    return cls(host, port, address, timeout)
