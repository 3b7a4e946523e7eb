"""Serving the simulator over HTTPS on loopback: a self-signed certificate made at start, uvicorn
in the foreground (`serve`) or on a background thread for tests (`running`), and the info file
`seatwise simulate --info-file` writes once the server accepts connections.

MSAL only accepts https authorities, so the simulator always speaks TLS. The certificate PEM is
its own CA bundle: clients trust exactly that file (requests: `verify=<path>`, with
`trust_env=False` so REQUESTS_CA_BUNDLE cannot override it).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import os
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from starlette.types import ASGIApp

CERT_FILE = "simulator-cert.pem"
KEY_FILE = "simulator-key.pem"
CERT_DAYS = 30


@dataclass(frozen=True, slots=True)
class ServerHandle:
    """A running simulator: where it listens and which CA bundle to trust."""

    base_url: str
    port: int
    ca_bundle: Path


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """Write a fresh self-signed certificate for 127.0.0.1 and localhost into `directory`.

    Returns (certificate PEM, private key PEM). The certificate is also a CA certificate, so the
    PEM file doubles as the CA bundle clients trust. The key file is 0600.
    """
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "seatwise simulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, "seatwise simulator (127.0.0.1)"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CERT_DAYS))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / CERT_FILE
    key_path = directory / KEY_FILE
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_atomically(key_path, key_pem, 0o600)
    _write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert_path, key_path


def write_info_file(path: Path, info: dict[str, Any]) -> None:
    """Write `info` as JSON, atomically (temp file + rename) and 0600: it holds a client secret."""
    data = orjson.dumps(info, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    _write_atomically(Path(path), data, 0o600)


def serve(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    cert_dir: Path | None = None,
    on_ready: Callable[[int], None] | None = None,
    *,
    log_level: str = "warning",
) -> None:
    """Serve `app` over HTTPS in the foreground until SIGINT/SIGTERM.

    `port` 0 picks a free port. `on_ready(port)` is called once the server accepts connections.
    The certificate is made afresh in `cert_dir` (`make_certificate`); without `cert_dir` a
    temporary directory is used and removed on exit.
    """
    with contextlib.ExitStack() as stack:
        if cert_dir is None:
            cert_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        server, sock = _server(app, host, port, cert_dir, log_level)
        actual_port = sock.getsockname()[1]

        async def main() -> None:
            task = asyncio.create_task(server.serve(sockets=[sock]))
            while not server.started and not task.done():
                await asyncio.sleep(0.02)
            if server.started and on_ready is not None:
                on_ready(actual_port)
            await task

        try:
            asyncio.run(main())
        finally:
            sock.close()


@contextlib.contextmanager
def running(
    app: ASGIApp, cert_dir: Path, host: str = "127.0.0.1", *, timeout_s: float = 10.0
) -> Iterator[ServerHandle]:
    """Run `app` over HTTPS on a background thread (tests); stop it cleanly on exit."""
    cert_path, _ = make_certificate(cert_dir)
    server, sock = _server(app, host, 0, cert_dir, "warning", make_cert=False)
    port = sock.getsockname()[1]
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # SystemExit on startup failure included
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"simulator-{port}", daemon=True)
    thread.start()
    try:
        _wait_started(server, thread, timeout_s)
        if failure:
            raise RuntimeError(f"simulator failed to start: {failure[0]!r}")
        yield ServerHandle(f"https://{host}:{port}", port, cert_path)
    finally:
        server.should_exit = True
        thread.join(timeout_s)
        sock.close()


def _wait_started(server: uvicorn.Server, thread: threading.Thread, timeout_s: float) -> None:
    done = threading.Event()
    waited = 0.0
    while not server.started and thread.is_alive() and waited < timeout_s:
        done.wait(0.01)
        waited += 0.01
    if not server.started:
        server.should_exit = True
        raise RuntimeError("simulator did not start in time")


def _server(
    app: ASGIApp,
    host: str,
    port: int,
    cert_dir: Path,
    log_level: str,
    *,
    make_cert: bool = True,
) -> tuple[uvicorn.Server, socket.socket]:
    if make_cert:
        cert_path, key_path = make_certificate(cert_dir)
    else:
        cert_path, key_path = cert_dir / CERT_FILE, cert_dir / KEY_FILE
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit this: without it, Nagle's algorithm holds the body back
        # until the client's delayed ACK (~40 ms) when headers and body go out separately.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    config = uvicorn.Config(
        app,
        host=host,
        port=sock.getsockname()[1],
        ssl_certfile=str(cert_path),
        ssl_keyfile=str(key_path),
        log_level=log_level,
        log_config=None,
        access_log=False,
        ws="none",
        lifespan="auto",
        timeout_graceful_shutdown=2,
    )
    return uvicorn.Server(config), sock


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
