"""config/nginx.conf.example, run by a real nginx in front of `homeroom serve`: `nginx -t` accepts it,
deliveries pass through over TLS, and nginx buffers whole requests, so a client slower than the
service's request-read deadline is still served, and trickling clients hold no service thread.

Needs Debian's nginx (`.ci/ensure-nginx` installs nginx-light). Without it these tests skip with a loud
reason, unless REQUIRE_NGINX_TESTS=1 (CI), which makes them fail instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import TEST_WEBHOOK_SECRET
from tests.factories import calendar_toml
from tests.processes import PROJECT_ROOT, ServiceProcess, free_port
from tests.webhook_bodies import URL, delivery_digests, participant_event, signed_headers, store_known_session
from zoom_homeroom.clock import utc_now
from zoom_homeroom.storage import Storage

pytestmark = pytest.mark.slow

EXAMPLE = PROJECT_ROOT / "config" / "nginx.conf.example"
READ_DEADLINE = 2.0  # the service's request-read deadline (zoom_homeroom/web/server.py)
THREADS = 2 * 8  # two workers of eight threads
ZOOM_WAITS = 3.0


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if found:
        return found
    message = "nginx is not installed (Debian: .ci/ensure-nginx installs nginx-light)"
    if os.environ.get("REQUIRE_NGINX_TESTS") == "1":
        pytest.fail(message + " and REQUIRE_NGINX_TESTS=1", pytrace=False)
    pytest.skip(message + "; set REQUIRE_NGINX_TESTS=1 to make this a failure")


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def replaced(text: str, old: str, new: str) -> str:
    """`text` with `old` replaced; the example must still contain what this test adapts."""
    assert old in text, f"config/nginx.conf.example no longer has {old!r}"
    return text.replace(old, new)


@dataclass
class Proxy:
    folder: Path
    main_conf: Path
    https_port: int
    http_port: int
    cert: Path


def proxy_config(folder: Path, upstream_port: int) -> Proxy:
    """The example with its ports and certificate made local, inside a main nginx.conf of the test's."""
    cert, key = self_signed(folder)
    https_port, http_port = free_port(), free_port()
    site = EXAMPLE.read_text(encoding="utf-8")
    site = replaced(site, "server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};")
    site = replaced(site, "listen 80;", f"listen 127.0.0.1:{http_port};")
    site = replaced(site, "listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
    site = replaced(site, "/etc/letsencrypt/live/homeroom.example.org/fullchain.pem", str(cert))
    site = replaced(site, "/etc/letsencrypt/live/homeroom.example.org/privkey.pem", str(key))
    (folder / "homeroom.conf").write_text(site, encoding="utf-8")
    temp = {kind: folder / kind for kind in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir()
    main = folder / "nginx.conf"
    main.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")  # workers read the test's private folders
        + f"worker_processes 1;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'} info;\n"
        + "events { worker_connections 512; }\nhttp {\n"
        + f"    access_log {folder / 'access.log'};\n"
        + "".join(f"    {kind}_temp_path {path};\n" for kind, path in temp.items()).replace(
            "body_temp_path", "client_body_temp_path"
        )
        + f"    include {folder / 'homeroom.conf'};\n}}\n",
        encoding="utf-8",
    )
    return Proxy(folder, main, https_port, http_port, cert)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServiceProcess]:
    workdir = tmp_path / "service"
    workdir.mkdir()
    (workdir / "homeroom.toml").write_text(calendar_toml(), encoding="utf-8")
    env = {
        "HOMEROOM_DATABASE": str(workdir / "homeroom.db"),
        "HOMEROOM_CONFIG": str(workdir / "homeroom.toml"),
        "HOMEROOM_SECRET_KEY": "nginx-test-secret-key-0123456789ab",
        "HOMEROOM_TRUSTED_PROXIES": "1",
        "ZOOM_WEBHOOK_SECRET_TOKEN": TEST_WEBHOOK_SECRET,
    }
    storage = Storage.open(workdir / "homeroom.db")
    store_known_session(storage, now=utc_now())
    storage.close()
    process = ServiceProcess(workdir, env, workers=2)
    process.start()
    yield process
    process.kill()


@pytest.fixture
def proxy(tmp_path: Path, service: ServiceProcess) -> Iterator[Proxy]:
    nginx = nginx_binary()
    folder = tmp_path / "nginx"
    folder.mkdir()
    config = proxy_config(folder, service.port)
    check = subprocess.run(
        [nginx, "-t", "-p", str(folder), "-c", str(config.main_conf)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(
        [nginx, "-p", str(folder), "-c", str(config.main_conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own group: the master and its worker are stopped together
    )
    try:
        wait_for_port(config.https_port, process)
        yield config
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        process.stderr.close()


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode(errors="replace")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nginx did not listen on {port}")


def tls_connect(proxy: Proxy) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=str(proxy.cert))
    raw = socket.create_connection(("127.0.0.1", proxy.https_port), timeout=10)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def webhook_request(raw: bytes) -> tuple[bytes, bytes]:
    """(head, body) of a signed POST /webhooks/zoom that closes the connection after its answer."""
    head = b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\nConnection: close\r\n" % (
        URL.encode(),
        len(raw),
    )
    head += b"".join(
        f"{name}: {value}\r\n".encode() for name, value in signed_headers(raw, at=utc_now()).items()
    )
    return head + b"\r\n", raw


def answer(sock: ssl.SSLSocket) -> tuple[bytes, float]:
    started = time.monotonic()
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received, time.monotonic() - started


def body(n: int) -> bytes:
    return json.dumps(participant_event(user_id=f"nginx-{n}")).encode()


def stored(service: ServiceProcess) -> set[str]:
    storage = Storage.open(service.workdir / "homeroom.db", migrate=False)
    try:
        return delivery_digests(storage)
    finally:
        storage.close()


def test_nginx_accepts_the_example_and_passes_a_delivery_over_tls(proxy, service):
    raw = body(1)
    head, payload = webhook_request(raw)
    with tls_connect(proxy) as sock:
        sock.sendall(head + payload)
        received, _ = answer(sock)
    assert received.startswith(b"HTTP/1.1 204 "), received[:300]
    assert hashlib.sha256(raw).hexdigest() in stored(service)


def test_plain_http_is_sent_to_https(proxy):
    with socket.create_connection(("127.0.0.1", proxy.http_port), timeout=10) as sock:
        sock.sendall(
            b"GET /webhooks/zoom HTTP/1.1\r\nHost: homeroom.example.org\r\nConnection: close\r\n\r\n"
        )
        received = sock.recv(65536)
    assert received.startswith(b"HTTP/1.1 301 ")
    assert b"Location: https://homeroom.example.org/webhooks/zoom\r\n" in received


def test_a_client_slower_than_the_read_deadline_is_served_because_nginx_buffers(proxy, service):
    raw = body(2)
    head, payload = webhook_request(raw)
    with tls_connect(proxy) as sock:
        sock.sendall(head + payload[:20])
        time.sleep(READ_DEADLINE + 0.5)  # direct to the service this request would be a 408
        sock.sendall(payload[20:])
        received, _ = answer(sock)
    assert received.startswith(b"HTTP/1.1 204 "), received[:300]
    assert hashlib.sha256(raw).hexdigest() in stored(service)


def test_trickling_clients_at_the_proxy_hold_no_service_thread(proxy, service):
    # More half-sent requests than the service has threads, each waiting at nginx for its body.
    slow = []
    try:
        for n in range(2 * THREADS):
            head, payload = webhook_request(body(100 + n))
            sock = tls_connect(proxy)
            sock.sendall(head + payload[:10])
            slow.append(sock)
        raw = body(3)
        head, payload = webhook_request(raw)
        with tls_connect(proxy) as sock:
            started = time.monotonic()
            sock.sendall(head + payload)
            received, _ = answer(sock)
            waited = time.monotonic() - started
    finally:
        for sock in slow:
            sock.close()
    assert received.startswith(b"HTTP/1.1 204 "), received[:300]
    # Well inside Zoom's 3 s and below the service's own deadline: no thread was waiting on a slow client.
    assert waited < READ_DEADLINE, f"the delivery waited {waited:.2f} s"
    assert hashlib.sha256(raw).hexdigest() in stored(service)
