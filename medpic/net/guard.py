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
from medpic.settings import NetPolicy, origin_of

__all__ = ["Target", "check_url", "address_allowed"]

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


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to: mapped, 6to4, NAT64 or IPv4-compatible."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or ip in _NAT64_LOCAL or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_allowed(address: str) -> bool:
    """True for globally routable unicast addresses only, looking through IPv6 forms that
    carry an IPv4 address (a NAT64 host reaches 10.0.0.1 at 64:ff9b::a00:1)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None and not address_allowed(str(embedded)):
            return False
        if ip in _NAT64_LOCAL:
            return False
    return ip.is_global and not ip.is_multicast and ip not in _METADATA


def check_url(url: str, policy: NetPolicy) -> Target:
    """Parse, resolve and vet ``url``; raises ``BlockedURL`` with the reason.

    The policy's ``allowed_origins`` exempts exact origins (``http://127.0.0.1:8000``) from the address
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
    if not policy.allow_private and origin_of(url) not in policy.allowed_origins:
        blocked = [a for a in addresses if not address_allowed(a)]
        if blocked:
            raise BlockedURL(
                f"refused {url!r}: {host} resolves to a private or internal address ({blocked[0]}); "
                "the network guard allows only public addresses", url=url)
    return Target(url, scheme, host, port, addresses[0])
