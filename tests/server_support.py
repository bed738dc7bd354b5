"""Helpers for the server tests: real servers (in process or as `citc server`
subprocesses) on Unix sockets in short temporary directories, and small bases.

Unix socket paths are limited to 107 bytes, so sockets live in a short directory of
their own under /tmp rather than in pytest's long tmp_path. Every subprocess server
is stopped by its pid in a `finally`, even when the test fails.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from citcfs.client.rpc import Client
from citcfs.entries import Entry
from citcfs.server.app import CitcServer, ServerConfig

ROOT = Path(__file__).resolve().parent.parent
SERVER_COMMAND = [sys.executable, "-m", "citcfs.cmd.main", "server"]
"""`citc server`, run with this interpreter."""

BASE_FILES = {
    "README": b"hello\n",
    "src/main.c": b"int main(void) { return 0; }\n",
    "src/lib/util.c": b"/* util */\n",
    "docs/guide.txt": b"read me\n",
}


@contextmanager
def socket_dir() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="citc", dir="/tmp")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def running_server(data_dir: Path, **config: object) -> Iterator[CitcServer]:
    """An in-process server on a fresh Unix socket, stopped at the end."""
    with socket_dir() as sockets:
        server = CitcServer.start(ServerConfig(data_dir=str(data_dir),
                                               listen=f"unix:{sockets}/citc.sock",
                                               **config))  # type: ignore[arg-type]
        try:
            yield server
        finally:
            server.stop(grace=5)


TOKENS = {"alice": "tok-alice-0123456789", "bob": "tok-bob-0123456789",
          "root": "tok-admin-0123456789"}


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost / 127.0.0.1, and its key."""
    from cryptography import x509  # a test-only dependency, for the TLS tests alone
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def tls_server_config(tmp_path: Path) -> ServerConfig:
    """A server config with TLS (a certificate made here) and the bearer tokens of
    TOKENS (root is an administrator), on a non-loopback TCP listener."""
    cert, key = make_certificate(tmp_path)
    tokens = tmp_path / "tokens"
    tokens.write_text("# token user [admin]\n"
                      f"{TOKENS['alice']} alice\n{TOKENS['bob']} bob\n{TOKENS['root']} root admin\n")
    # A non-loopback listener: allowed only because TLS and tokens are configured.
    return ServerConfig(data_dir=str(tmp_path / "data"), listen="0.0.0.0:0", tls_cert=str(cert),
                        tls_key=str(key), tokens_file=str(tokens), sync=False)


def connect(server: CitcServer, token: str | None) -> Client:
    """A client of a TLS server (see `tls_server_config`) with bearer `token`."""
    port = server.address.rsplit(":", 1)[1]
    ca = Path(server.config.tls_cert or "").read_bytes()
    return Client.connect(f"127.0.0.1:{port}", token=token, tls_ca=ca)


def verify_server(address: str) -> None:
    """Fail unless the server's `Verify` (fsck) finds its log, objects and references
    whole: every record's checksum and the LSN sequence, every stored object against
    its id, every object a live state reaches present."""
    with Client.connect(address) as client:
        report = client.verify()
    assert not report.corrupt and not report.missing, (
        f"verify found {len(report.corrupt)} corrupt and {len(report.missing)} missing "
        f"objects: corrupt {[oid.hex() for oid in report.corrupt[:5]]}, "
        f"missing {[oid.hex() for oid in report.missing[:5]]}")


def import_small_base(client: Client, base: str = "main") -> None:
    client.import_base(base, entries=[(p, Entry.file(d)) for p, d in BASE_FILES.items()],
                       message="first import")


class ServerProcess:
    """`citc server` as a subprocess; `stop()`/`kill()` act on its pid only. Its
    stderr goes to a log file beside `data_dir` (`log()`). The benchmarks use it too."""

    def __init__(self, data_dir: Path, listen: str, *extra: str,
                 command: Sequence[str] = SERVER_COMMAND,
                 env: dict[str, str] | None = None) -> None:
        self.listen = listen
        self.log_path = data_dir.parent / f"server-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [*command, "--data", str(data_dir), "--listen", listen, *extra],
            stdout=subprocess.PIPE, stderr=self._log, cwd=ROOT, env=env)
        self.pid = self.proc.pid
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        if "listening on" not in line:
            self.kill()
            raise AssertionError(f"server did not start: {line!r}\n{self.log()}")
        self.address = line.strip().rsplit(" ", 1)[-1]

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait; SIGKILL if it does not stop in time. Returns the exit code."""
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait()
        self._log.close()


@contextmanager
def server_process(data_dir: Path, listen: str, *extra: str,
                   env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    server = ServerProcess(data_dir, listen, *extra, env=env)
    try:
        yield server
    finally:
        server.kill()
