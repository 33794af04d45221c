"""The addresses `[server]` settings hold, checked and written one way: origins as browsers send them,
host names as `Host` carries them, networks, and the metrics listener's loopback `host:port`.

Each raises ValueError with the reason, which the settings' validators pass on as the located message.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

# An origin as a browser sends it: scheme, host (name, IPv4 or [IPv6]) and a port only if not the default.
_ORIGIN = re.compile(r"^(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$")
_ORIGIN_START = re.compile(r"^https?://[^/?#\s]+", re.I)
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_HOST_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?")


def comma_list(v: Any) -> Any:
    """A list setting given as one string (its environment form): comma-separated, blanks dropped."""
    return tuple(part.strip() for part in v.split(",") if part.strip()) if isinstance(v, str) else v


def origin(value: str) -> str:
    """`value` as browsers send it in `Origin` (lower case, default port left out), or ValueError."""
    match = _ORIGIN.match(value.lower())
    if not match or (match[3] and not 0 < int(match[3]) < 65536):
        start = _ORIGIN_START.match(value)
        hint = f": use {start[0].lower()!r}" if start else ""
        raise ValueError(f"{value!r} is not an origin (scheme://host[:port], no path){hint}")
    scheme, host, port = match.groups()
    return f"{scheme}://{host}" + (f":{port}" if port and port != _DEFAULT_PORTS[scheme] else "")


def host_name(value: str) -> str:
    """`value` as a Host header names it: lower case, an IPv6 address without brackets; or ValueError."""
    name = value.strip().lower()
    bare = name.removeprefix("[").removesuffix("]")
    if ":" in bare and "%" not in bare:
        try:
            return str(ipaddress.IPv6Address(bare))
        except ValueError:
            pass
    elif _HOST_NAME.fullmatch(bare):
        return bare
    raise ValueError(f"{value!r} is not a host name (llm.example.com, 192.0.2.10; no scheme, no port)")


def network(value: str) -> str:
    """`value` (an address or a CIDR network) as a network in its canonical form, or ValueError."""
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address or CIDR network") from None


def metrics_address(listen: str) -> tuple[str, int]:
    """`metrics_listen` ("127.0.0.1:9464", "[::1]:9464", "localhost:9464") as (host, port); raises
    ValueError unless the host is a loopback address: the listener answers without a key."""
    host, sep, port = listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{listen!r} is not host:port (e.g. 127.0.0.1:9464)")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(
            f"{host!r} is not a loopback address: the metrics listener serves /metrics without a key, so it "
            "may only listen on 127.0.0.1, ::1 or localhost (remote scrapers use /metrics on the main "
            "port with an admin's API key)"
        )
    return host, int(port)
