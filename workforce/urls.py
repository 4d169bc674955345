"""Public URLs only: the check every URL a user or an operator gives us passes (media
URLs of questions and tasks, support links, the public base address that Stripe sends
trainers back to).

Nothing in workforce fetches these URLs today; they are handed to trainers' browsers
and to Stripe. They are still refused when they point at a private, loopback,
link-local or otherwise non-public address, so that no URL we store can later turn a
fetcher (a media proxy, a link checker, Stripe's redirect) against the network the
service runs in (OWASP API7, server-side request forgery). Host names are not resolved
here (that would make validation depend on DNS at write time and still not stop DNS
rebinding): anything that does fetch must resolve the name and check the address again
with ``is_public_address``.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from workforce.i18n import _

URL_MAX = 2000
# Names that resolve to the machine itself or to a private network by convention
# (RFC 6761, RFC 8375, and the names cloud metadata services answer to).
_PRIVATE_SUFFIXES = (
    ".localhost", ".local", ".internal", ".intranet", ".lan", ".home", ".corp",
    ".home.arpa", ".localdomain", ".onion",
)
_PRIVATE_NAMES = frozenset({"localhost", "metadata", "metadata.google.internal"})
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# Whitespace (``\s`` is exactly ``str.isspace``), control characters and backslashes.
_UNSAFE_CHARACTER = re.compile(r"[\s\x00-\x1f\\]")
# Every spelling of a numeric address (``127.1``, ``0x7f.1``, ``[::1]``) uses only these;
# a host with any other character is a name.
_NUMERIC_HOST_CHARACTERS = frozenset("0123456789abcdefx.:")


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an IP address is on the public internet (not private, loopback,
    link-local, multicast, reserved, unspecified or shared address space)."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return is_public_address(mapped)
        if address.teredo is not None:
            return False
    if address in ipaddress.ip_network("100.64.0.0/10"):  # carrier-grade NAT
        return False
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_link_local
        or address.is_loopback or address.is_private or address.is_unspecified
    )


def _numeric_host(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a numeric host stands for, in any of the forms resolvers accept
    (``127.1``, ``2130706433``, ``0x7f.0.0.1``, ``0177.0.0.1``), or None for a name."""
    if not _NUMERIC_HOST_CHARACTERS.issuperset(host):
        return None
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    parts = host.split(".")
    if not parts or not all(re.fullmatch(r"0x[0-9a-f]*|[0-9]+", p) for p in parts):
        return None
    try:
        numbers = [int(p, 16) if p.startswith("0x") else int(p, 8) if len(p) > 1
                   and p.startswith("0") else int(p) for p in parts]
    except ValueError:
        return ipaddress.IPv4Address(0)  # "08": not a number any resolver takes; refuse
    if len(numbers) > 4:
        return ipaddress.IPv4Address(0)
    # inet_aton: the last part fills the remaining bytes.
    value = 0
    for number in numbers[:-1]:
        if number > 255:
            return ipaddress.IPv4Address(0)
        value = value * 256 + number
    last_bytes = 5 - len(numbers)
    if numbers[-1] >= 256 ** last_bytes:
        return ipaddress.IPv4Address(0)
    value = value * 256 ** last_bytes + numbers[-1]
    return ipaddress.IPv4Address(value)


def url_problem(url: object, *, schemes: frozenset[str] = frozenset({"https", "http"})
                ) -> str | None:
    """Why ``url`` is not an acceptable public URL, or None when it is."""
    if not isinstance(url, str):
        return _("must be a string")
    if len(url) > URL_MAX:
        return _("must be at most %(most)s characters", most=URL_MAX)
    if _UNSAFE_CHARACTER.search(url):
        return _("must not contain spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a malformed port
    except ValueError:
        return _("is not a URL")
    if parts.scheme.lower() not in schemes:
        return _("must be an %(schemes)s URL", schemes=_(" or ").join(sorted(schemes)))
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return _("must not carry a user name or password")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        return _("must name a host")
    if port == 0:
        return _("must not use port 0")
    address = _numeric_host(host)
    if address is not None:
        if not is_public_address(address):
            return _("must not point at a private, loopback or link-local address")
        return None
    if host in _PRIVATE_NAMES or host.endswith(_PRIVATE_SUFFIXES) or "." not in host:
        return _("must name a public host")
    labels = host.split(".")
    if not all(_HOST_LABEL.match(label) for label in labels if not label.startswith("xn--")):
        return "must name a valid host"
    return None

