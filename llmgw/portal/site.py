"""How a browser reached the portal, told apart from what anyone may claim: over HTTPS or not, under
which host name, from which address.

Only a reverse proxy named in `trusted_proxies` (the address of the connection itself, never a
header) is believed about `X-Forwarded-Proto`, `X-Forwarded-Host` and `X-Forwarded-For`, and of each
header only what that proxy vouches for: its last value, or for `X-Forwarded-For` the last hop that is
not itself a trusted proxy.

- HTTPS: TLS at the gateway itself, `X-Forwarded-Proto: https` from a trusted proxy, or (no such
  header) a request addressed to the host of an `https://` `public_url`: TLS then ends at a proxy the
  gateway may not know of. It decides the `auto` cookie (`Secure`, named `__Host-`) and, in
  production, HSTS.
- Host: the name the browser addressed (`X-Forwarded-Host` from a trusted proxy, else `Host`) must be
  a loopback name, `public_url`'s, one of `allowed_hosts` or, in development, the address the gateway
  listens on; the port does not matter. A DNS-rebinding page always carries its own name. The API
  routes are not checked: their keys travel in headers a browser never adds by itself.
- Origin: a form's `Origin` (or `Referer`) must equal, scheme, host and port, the request's own origin
  or `public_url`.
- Client address: the peer's, or behind a trusted proxy the hop it vouches for, and only when that is
  an IP address (no port, no scope); any other value is ignored, never stored.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import TypeAlias
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from llmgw.settings import ServerConfig

__all__ = ["HSTS", "Site"]

HSTS = "max-age=31536000"  # a year; not includeSubDomains: other names under the domain are not ours
_AUTHORITY = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::\d{1,5})?")
_Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address


def ip_address(value: str) -> _Address | None:
    """`value` as an IP address, or None (a name, a port, an IPv6 zone: what no proxy writes)."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    return None if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id else ip


def _host_of(authority: str) -> str | None:
    """The host name of a `Host` value (lower case, IPv6 without brackets), or None if it is not one."""
    match = _AUTHORITY.fullmatch(authority.strip().lower())
    return match[1].removeprefix("[").removesuffix("]") if match else None


def _is_loopback(name: str) -> bool:
    ip = ip_address(name)
    return name == "localhost" or (ip is not None and ip.is_loopback)


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL as browsers write an Origin (lower case, no default
    port), or None."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if parts.scheme.lower() not in ("http", "https") or not host or parts.username is not None:
        return None
    scheme = parts.scheme.lower()
    if ":" in host:
        host = f"[{host}]"
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def _last(conn: HTTPConnection, header: str) -> str:
    """The last value of `header` over all its lines: the one the nearest proxy added."""
    values = ",".join(conn.headers.getlist(header)).split(",")
    return values[-1].strip().lower()


@dataclass(frozen=True, slots=True)
class Site:
    """The portal's view of where it is served (from `[server]`: see the module's docstring)."""

    production: bool = False
    cookie_secure: bool | None = None  # None: auto
    trusted_proxies: tuple[_Network, ...] = ()
    public_origin: str = ""  # public_url, as an origin; "" without one
    hosts: frozenset[str] = field(default_factory=frozenset)  # names answered besides loopback ones

    @classmethod
    def from_config(cls, server: ServerConfig) -> Site:
        """The site `server` describes."""
        hosts = set(server.allowed_hosts)
        public_host = urlsplit(server.public_url).hostname
        if public_host:
            hosts.add(public_host)
        bind = server.host.strip().lower().removeprefix("[").removesuffix("]")
        bind_ip = ip_address(bind)
        if not server.production and bind and not (bind_ip is not None and bind_ip.is_unspecified):
            hosts.add(str(bind_ip) if bind_ip is not None else bind)
        return cls(
            production=server.production,
            cookie_secure=server.cookie_secure,
            trusted_proxies=tuple(ipaddress.ip_network(p) for p in server.trusted_proxies),
            public_origin=server.public_url,
            hosts=frozenset(hosts),
        )

    def _trusted(self, ip: _Address | None) -> bool:
        return ip is not None and any(ip in network for network in self.trusted_proxies)

    def from_proxy(self, conn: HTTPConnection) -> bool:
        """Whether the connection is a trusted proxy's."""
        return (
            bool(self.trusted_proxies)
            and conn.client is not None
            and self._trusted(ip_address(conn.client.host))
        )

    def authority(self, conn: HTTPConnection) -> str:
        """The `host[:port]` the browser addressed, lower case (unchecked)."""
        forwarded = _last(conn, "x-forwarded-host") if self.from_proxy(conn) else ""
        return forwarded or conn.headers.get("host", "").strip().lower()

    def host_allowed(self, conn: HTTPConnection) -> bool:
        """Whether the portal answers to the host name the request addressed."""
        name = _host_of(self.authority(conn))
        return name is not None and (name in self.hosts or _is_loopback(name))

    def https(self, conn: HTTPConnection) -> bool:
        """Whether the browser is on HTTPS, as far as the gateway can tell."""
        if conn.scope.get("scheme") == "https":
            return True
        if self.from_proxy(conn) and (proto := _last(conn, "x-forwarded-proto")):
            return proto == "https"  # the proxy saw the browser's scheme: its word over public_url's
        public = urlsplit(self.public_origin)
        return public.scheme == "https" and _host_of(self.authority(conn)) == public.hostname

    def secure_cookies(self, conn: HTTPConnection) -> bool:
        """`cookie_secure`, or auto: in production always, else over HTTPS."""
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.production or self.https(conn)

    def cookie_name(self, conn: HTTPConnection) -> str:
        """The session cookie's name for this request: `__Host-` (HTTPS only, no Domain, Path=/) when
        it is Secure, so an http page or a sibling domain cannot plant one the portal would read."""
        return "__Host-llmgw_session" if self.secure_cookies(conn) else "llmgw_session"

    def hsts(self, conn: HTTPConnection) -> bool:
        """Whether to send Strict-Transport-Security: in production, over HTTPS (never in development,
        where pinning localhost to HTTPS would outlive the test)."""
        return self.production and self.https(conn)

    def same_origin(self, conn: HTTPConnection) -> bool:
        """Whether a state-changing request comes from a page of this site: its Origin (or, without
        one, its Referer) is, scheme, host and port, the request's own origin or `public_url`."""
        source = conn.headers.get("origin") or conn.headers.get("referer")
        if not source or source == "null":
            return False
        scheme = "https" if self.https(conn) else "http"
        own = origin_of(f"{scheme}://{self.authority(conn)}")
        return origin_of(source) in {o for o in (own, self.public_origin) if o}

    def client_address(self, conn: HTTPConnection) -> str | None:
        """The client's address: the peer's, or from a trusted proxy the last X-Forwarded-For hop that
        is not a trusted proxy itself, when it is an IP address (else the proxy's own)."""
        peer = conn.client.host if conn.client else None
        if peer is None or not self.from_proxy(conn):
            return peer
        hops = [h.strip() for h in ",".join(conn.headers.getlist("x-forwarded-for")).split(",") if h.strip()]
        for hop in reversed(hops):
            ip = ip_address(hop)
            if ip is None:  # not an address: nothing before it can be told apart from a forgery
                return peer
            if not self._trusted(ip):
                return str(ip)
        return peer
