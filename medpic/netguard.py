"""Which URLs MedPic may fetch: the network guard.

A scanner that fetches whatever a page or a user names is a server-side request forgery tool.
On by default, the guard allows only ``http``/``https`` to hosts whose every resolved address is
globally routable: loopback, private, link-local (cloud metadata lives at 169.254.169.254),
shared (CGNAT), multicast, reserved and unspecified addresses are refused, IPv4-mapped IPv6
included. The fetcher connects to the address that was checked, so a DNS answer cannot change
between the check and the connection.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from medpic.errors import BlockedURL

__all__ = ["Target", "check_url", "address_allowed", "origin_of"]

# Metadata endpoints that are globally routable and so not caught by the address classes.
_METADATA = {ipaddress.ip_address("100.100.100.200"), ipaddress.ip_address("fd00:ec2::254")}


@dataclass(frozen=True)
class Target:
    """A URL that passed the guard, with the address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


def address_allowed(address: str) -> bool:
    """True for globally routable unicast addresses only."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast and ip not in _METADATA


def origin_of(url: str) -> str:
    """``scheme://host:port`` with the default port made explicit, for allow-list matching."""
    parts = urlsplit(url.strip())
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}"


def check_url(url: str, *, allow_private: bool = False, allowed_origins: frozenset[str] = frozenset()) -> Target:
    """Parse, resolve and vet ``url``; raises ``BlockedURL`` with the reason.

    ``allowed_origins`` exempts exact origins (``http://127.0.0.1:8000``) from the address
    check, so a local development site can be scanned with the guard still on for everything else.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise BlockedURL(f"invalid URL {url!r}: {exc}", url=url) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise BlockedURL(f"only http and https URLs can be fetched, not {url!r}", url=url)
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise BlockedURL(f"invalid URL {url!r}: no host", url=url)
    port = port or (443 if scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise BlockedURL(f"cannot resolve host {host!r}: {exc}", url=url) from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise BlockedURL(f"cannot resolve host {host!r}", url=url)
    if not allow_private and origin_of(url) not in allowed_origins:
        blocked = [a for a in addresses if not address_allowed(a)]
        if blocked:
            raise BlockedURL(
                f"refused {url!r}: {host} resolves to a private or internal address ({blocked[0]}); "
                "the network guard allows only public addresses", url=url)
    return Target(url, scheme, host, port, addresses[0])
