"""Which addresses an HTTP fetch may connect to, enforced on the connection itself.

Link-local addresses (169.254.0.0/16, fe80::/10, where cloud metadata services answer, and AWS's
IPv6 metadata address) are always refused; with `refuse_private`, every address that is not
globally routable is refused too (RFC 1918, loopback, unique-local, CGNAT, ...).

DNS rebinding: a name checked by one lookup and connected to by another lookup can resolve to a
public address first and to 169.254.169.254 the second time. So the check is not done on the
URL: it is done inside the HTTP client's network backend, where the connection is made. The
backend resolves the host once, checks every address it got, and connects to those very
addresses (by IP literal); TLS still verifies the certificate against the host name, because
httpcore hands the original host to `start_tls` as the server name. Every connection goes
through it, so every redirect hop is checked the same way, before any packet is sent to it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

# AWS's IPv6 instance metadata address is unique-local, not link-local: named here explicitly.
ALWAYS_REFUSED = (ipaddress.ip_network("fd00:ec2::254/128"),)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(Exception):
    """A connection target the fetch policy forbids; raised before connecting."""


def refusal(address: IPAddress, *, refuse_private: bool) -> str | None:
    """Why `address` may not be connected to, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:169.254.169.254 is 169.254.169.254
    if address.is_link_local or any(address in net for net in ALWAYS_REFUSED):
        return f"{address} is a link-local address (cloud metadata lives there); always refused"
    if address.is_unspecified or address.is_multicast:
        return f"{address} is not a host address"
    if refuse_private and not address.is_global:
        return f"{address} is a private or loopback address, refused by the fetch policy"
    return None


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to for a TCP connection (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting only to addresses the policy allows."""

    def __init__(self, *, refuse_private: bool) -> None:
        self.refuse_private = refuse_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve(host, port)
        for text in addresses:  # refuse the name if ANY of its addresses is refused
            why = refusal(ipaddress.ip_address(text.split("%")[0]), refuse_private=self.refuse_private)
            if why:
                raise AddressRefused(why if host == text else f"{host} resolves to {why}")
        last: Exception | None = None
        for text in addresses:
            try:
                return super().connect_tcp(text, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last or httpcore.ConnectError(f"{host} has no address")


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over a GuardedBackend, with no proxy from the environment (a proxy
    would make the check apply to the proxy, not to the document's server)."""

    def __init__(self, *, refuse_private: bool) -> None:
        super().__init__(trust_env=False)
        # httpx does not take a network backend; its pool is rebuilt with the same defaults.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=10,
            max_keepalive_connections=10,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(refuse_private=refuse_private),
        )
