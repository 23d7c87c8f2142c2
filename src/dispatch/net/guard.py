"""Which URLs and addresses dispatch may reach: only http(s), and no private address unless
allowed, checked before each request (``check_target``) and again where names are resolved
for connecting.

The guard is aiohttp's resolver, so the addresses checked are the addresses connected to: no
second lookup can answer differently (DNS rebinding). An answer with any private address is
refused whole. Names are resolved by the system (``getaddrinfo``), or by the nameservers set in
``fetch.nameservers``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from dispatch.urls import split_url


class BlockedAddress(OSError):
    """The host resolves to an address dispatch may not reach."""


def is_public(address: str) -> bool:
    """True for globally routable unicast addresses (IPv4-mapped IPv6 judged as IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class GuardedResolver(AbstractResolver):
    """Resolves names, then refuses any answer that is not a public address."""

    def __init__(self, nameservers: Sequence[str] = ()) -> None:
        self._inner: AbstractResolver = (
            NameserverResolver(nameservers) if nameservers else aiohttp.ThreadedResolver()
        )

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            if not is_public(result["host"]):
                raise BlockedAddress(f"{host} resolves to {result['host']}, a private address")
        return results

    async def close(self) -> None:
        await self._inner.close()


class NameserverResolver(AbstractResolver):
    """Asks the given nameservers (``10.0.0.53`` or ``10.0.0.53:5353``), with dnspython."""

    def __init__(self, nameservers: Sequence[str]) -> None:
        import dns.asyncresolver

        self._resolver = dns.asyncresolver.Resolver(configure=False)
        self._resolver.nameservers = [server.rpartition(":")[0] or server for server in nameservers]
        ports = {int(s.rpartition(":")[2]) for s in nameservers if s.count(":") == 1}
        self._resolver.port = ports.pop() if ports else 53
        self._resolver.lifetime = 5.0

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        import dns.exception
        import dns.resolver

        kinds = {socket.AF_INET: ["A"], socket.AF_INET6: ["AAAA"]}.get(family, ["A", "AAAA"])
        results: list[ResolveResult] = []
        for kind in kinds:
            try:
                answer = await self._resolver.resolve(host, kind)
            except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
                continue
            except dns.exception.DNSException as e:
                raise OSError(f"cannot resolve {host}: {e}") from None
            for record in answer:
                address = record.to_text()
                results.append(
                    ResolveResult(
                        hostname=host,
                        host=address,
                        port=port,
                        family=socket.AF_INET6 if kind == "AAAA" else socket.AF_INET,
                        proto=0,
                        flags=socket.AI_NUMERICHOST,
                    )
                )
        if not results:
            raise OSError(f"cannot resolve {host}: no address")
        return results

    async def close(self) -> None:
        return None


class NotFetched(BlockedAddress):
    """A URL dispatch never fetches, whatever the settings: not http(s), or without a host."""


def check_target(url: str, allow_private: bool) -> None:
    try:
        parts = split_url(url)
    except ValueError as e:
        raise NotFetched(f"the URL cannot be read ({e})") from None
    if parts.scheme not in ("http", "https"):
        raise NotFetched(f"scheme {parts.scheme!r} is not fetched; only http and https are")
    host = parts.hostname or ""
    if not host:
        raise NotFetched("the URL has no host")
    if allow_private:
        return
    literal: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = _legacy_ipv4(host)
    if literal is None:
        return  # a name: the guarded resolver checks what it resolves to
    if not is_public(str(literal)):
        shown = host if str(literal) == host else f"{host} ({literal})"
        raise BlockedAddress(f"{shown} is a private address")


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address of an old-style IPv4 spelling (``127.1``, ``2130706433``, ``0x7f.0.0.1``,
    ``0177.0.0.1``) as the C library reads it, or None for a name.
    """
    if not host or not (host[0].isdigit()):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def guarded_connector(
    allow_private: bool, nameservers: Sequence[str] = (), limit: int = 100, per_host: int = 0
) -> aiohttp.TCPConnector:
    """The connector every dispatch request goes through (feeds, pages, images, outputs): it
    refuses private addresses when a name resolves, unless they are allowed. ``per_host``: the
    most connections to one host (0: no limit but ``limit``), redirects included.
    """
    resolver = None if allow_private else GuardedResolver(nameservers)
    return aiohttp.TCPConnector(limit=limit, limit_per_host=per_host, resolver=resolver)
