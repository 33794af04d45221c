"""Real TLS proxies for tests/process/test_tls_proxy.py, each run from the recipe shipped in packaging/
with only what a test machine needs changed: the name (`llm.test`), local ports, the certificate, where
nginx and Caddy keep their files, and where the proxy's connections to llmgw come from.

- Caddy (`packaging/caddy/Caddyfile`): its internal CA (`local_certs`) issues the certificate; the CA's
  root is written under `$XDG_DATA_HOME/caddy/pki/authorities/local/`. No admin endpoint, nothing
  installed into the system's trust store, listening on 127.0.0.1 only.
- nginx (`packaging/nginx/llmgw.conf`): a self-signed certificate made here, the recipe wrapped in a
  main configuration of its own (foreground, its own prefix, temp and log paths).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.gateway_process import free_port

__all__ = ["NAME", "RECIPES", "TlsProxy", "caddy", "nginx", "spki_sha256"]

NAME = "llm.test"  # the recipes' llm.example.com; reserved (RFC 2606), resolved by the tests themselves
RECIPES = Path(__file__).resolve().parents[2] / "packaging"


def spki_sha256(der: bytes) -> str:
    """Base64 SHA-256 of a DER certificate's public key, as Chromium's
    `--ignore-certificate-errors-spki-list` takes it."""
    spki = (
        x509.load_der_x509_certificate(der)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def substituted(text: str, replacements: dict[str, str]) -> str:
    """`text` with each key replaced by its value; every key must occur, so a recipe that changes
    under the test fails here instead of being silently run differently."""
    for old, new in replacements.items():
        assert old in text, f"the recipe no longer contains {old!r}"
        text = text.replace(old, new)
    return text


class TlsProxy:
    """A proxy process serving https://llm.test:`https_port` from 127.0.0.1 in front of llmgw."""

    def __init__(self, kind: str, command: list[str], env: dict[str, str], log: Path, ca_file: Path) -> None:
        self.kind = kind
        self.command = command
        self.env = env
        self.log_path = log
        self.ca_file = ca_file  # what a client verifies the proxy's certificate with
        self.https_port = 0
        self.http_port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.certificate_der = b""

    @property
    def url(self) -> str:
        return f"https://{NAME}:{self.https_port}"

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this proxy's CA (or self-signed certificate) and nothing else."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = 30.0) -> TlsProxy:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode}:\n{self.log()}")
            try:
                self.certificate_der = self._handshake()
                return self
            except (OSError, ssl.SSLError):  # not listening yet, or its certificate not issued yet
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.kind} did not serve TLS for {NAME}:\n{self.log()}")

    def _handshake(self) -> bytes:
        """The certificate the proxy presents for NAME, verified against `ca_file`."""
        if not self.ca_file.exists():
            raise OSError("no CA yet")
        raw = socket.create_connection(("127.0.0.1", self.https_port), timeout=2)
        with raw, self.ssl_context().wrap_socket(raw, server_hostname=NAME) as tls:
            der = tls.getpeercert(binary_form=True)
        assert der is not None
        return der

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> TlsProxy:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def caddy(tmp: Path, gateway: str) -> TlsProxy:
    """Caddy from the recipe, forwarding to llmgw at `gateway` (`host:port`)."""
    https_port, http_port = free_port(), free_port()
    recipe = (RECIPES / "caddy" / "Caddyfile").read_text(encoding="utf-8")
    site = substituted(
        recipe,
        {"llm.example.com {": f"{NAME} {{", "reverse_proxy 127.0.0.1:4000": f"reverse_proxy {gateway}"},
    )
    # Global options go first in a Caddyfile: what differs from a server on the internet.
    options = (
        "{\n\tadmin off\n\tlocal_certs\n\tskip_install_trust\n\tdefault_bind 127.0.0.1\n"
        f"\thttp_port {http_port}\n\thttps_port {https_port}\n}}\n\n"
    )
    config = tmp / "Caddyfile"
    config.write_text(options + site, encoding="utf-8")
    home = tmp / "home"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
    }
    root = home / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    command = [shutil.which("caddy") or "caddy", "run", "--config", str(config), "--adapter", "caddyfile"]
    proxy = TlsProxy("caddy", command, env, tmp / "caddy.log", root)
    proxy.https_port, proxy.http_port = https_port, http_port
    return proxy


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A key and a self-signed certificate for NAME, valid from yesterday to tomorrow."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def nginx(tmp: Path, gateway: str, bind: str) -> TlsProxy:
    """nginx from the recipe, forwarding to llmgw at `gateway` (`host:port`) from the address `bind`
    (`proxy_bind`: so llmgw tells the proxy's connections from the client's on one loopback)."""
    https_port, http_port = free_port(), free_port()
    cert, key = self_signed(tmp)
    recipe = (RECIPES / "nginx" / "llmgw.conf").read_text(encoding="utf-8")
    server = substituted(
        recipe,
        {
            "server 127.0.0.1:4000;": f"server {gateway};",
            "    listen 80;\n    listen [::]:80;\n": f"    listen 127.0.0.1:{http_port};\n",
            "    listen 443 ssl;\n    listen [::]:443 ssl;\n": f"    listen 127.0.0.1:{https_port} ssl;\n",
            "server_name llm.example.com;": f"server_name {NAME};",
            "/etc/ssl/llm.example.com/fullchain.pem": str(cert),
            "/etc/ssl/llm.example.com/privkey.pem": str(key),
            "proxy_pass http://llmgw;": f"proxy_pass http://llmgw;\n        proxy_bind {bind};",
        },
    )
    temp = tmp / "temp"
    temp.mkdir()
    paths = "".join(
        f"    {kind}_temp_path {temp / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # The main configuration Debian's /etc/nginx/nginx.conf would be, reduced to what the recipe needs.
    main = (
        "daemon off;\nworker_processes 1;\n"
        f"pid {tmp / 'nginx.pid'};\nerror_log {tmp / 'error.log'} info;\n"
        + ("user root;\n" if os.geteuid() == 0 else "")  # workers may then write to this temp dir
        + "events { worker_connections 64; }\n"
        f"http {{\n    access_log {tmp / 'access.log'};\n{paths}\n{server}\n}}\n"
    )
    config = tmp / "nginx.conf"
    config.write_text(main, encoding="utf-8")
    command = [
        shutil.which("nginx") or "/usr/sbin/nginx",
        "-p", str(tmp), "-c", str(config), "-e", str(tmp / "error.log"),
    ]  # fmt: skip
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    proxy = TlsProxy("nginx", command, env, tmp / "error.log", cert)
    proxy.https_port, proxy.http_port = https_port, http_port
    return proxy
