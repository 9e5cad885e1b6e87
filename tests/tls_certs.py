"""Throw-away certificate authorities and server certificates for the TLS tests.

    pki = make_pki(folder, "Audit test CA")      # a CA and a server certificate it signed
    pki.ca_file, pki.cert_file, pki.key_file      # PEM files: what a client trusts, what a server presents
    pki.server_context()                          # an ssl.SSLContext for a test server

The server certificate names `localhost` and 127.0.0.1 (or the names given). Made with the `cryptography`
package when it is installed, else with the `openssl` command; both write the same kinds of files, with the
extensions a strict verifier wants (key identifiers, key usages, a critical CA basic constraint), so a
failure in a test is about trust, never about a sloppy certificate.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import shutil
import ssl
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

SERVER_NAMES: tuple[str, ...] = ("localhost", "127.0.0.1")
VALID_FOR = timedelta(days=2)  # long enough for any test run, short enough to be useless if it leaks


@dataclass(frozen=True, slots=True)
class Pki:
    """One CA and one server certificate signed by it, as PEM files in one folder."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def have_cryptography() -> bool:
    return importlib.util.find_spec("cryptography") is not None


def make_pki(
    folder: Path, ca_name: str, server_names: Sequence[str] = SERVER_NAMES, *, use_openssl: bool = False
) -> Pki:
    """A new CA and a server certificate for `server_names` (host names and IP addresses) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    pki = Pki(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    if use_openssl or not have_cryptography():
        _make_with_openssl(pki, ca_name, server_names)
    else:
        _make_with_cryptography(pki, ca_name, server_names)
    return pki


def _make_with_cryptography(pki: Pki, ca_name: str, server_names: Sequence[str]) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_subject)
        .issuer_name(ca_subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(key_cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = []
    for name in server_names:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server_names[0])]))
        .issuer_name(ca_subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(key_cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pki.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pki.key_file.chmod(0o600)


def _usage(*, key_cert_sign: bool) -> object:
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=not key_cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=key_cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _make_with_openssl(pki: Pki, ca_name: str, server_names: Sequence[str]) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("neither the cryptography package nor the openssl command is installed")
    folder = pki.ca_file.parent
    ca_key, csr, extensions = folder / "ca.key", folder / "server.csr", folder / "server.ext"
    days = str(VALID_FOR.days)
    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run(
            [openssl, *args], check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=60
        )

    run(
        "req", "-x509", *curve, "-keyout", str(ca_key), "-out", str(pki.ca_file), "-days", days,
        "-subj", f"/CN={ca_name}",
        "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-addext", "subjectKeyIdentifier=hash",
    )  # fmt: skip
    alt_names = ",".join(f"{'IP' if _is_ip(name) else 'DNS'}:{name}" for name in server_names)
    extensions.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        f"subjectAltName={alt_names}\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n",
        encoding="utf-8",
    )
    run("req", "-new", *curve, "-keyout", str(pki.key_file), "-out", str(csr), "-subj", f"/CN={server_names[0]}")  # fmt: skip
    run(
        "x509", "-req", "-in", str(csr), "-CA", str(pki.ca_file), "-CAkey", str(ca_key),
        "-set_serial", str(int.from_bytes(ca_name.encode()[:8].ljust(8, b"\0"), "big") | 1),
        "-days", days, "-sha256", "-extfile", str(extensions), "-out", str(pki.cert_file),
    )  # fmt: skip
    pki.key_file.chmod(0o600)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class TestPkis:
    """Three unrelated CAs, each with its server certificate.

    `trusted`: the tests' own CA (their `ca_file`); `stranger`: a CA the tests never trust; `wrong_name`:
    trusted where a test names its CA file, but its certificate is for a host the tests never connect to.
    """

    __test__ = False  # not a test class, despite the name

    trusted: Pki
    stranger: Pki
    wrong_name: Pki


@pytest.fixture(scope="session")
def tls_pkis(tmp_path_factory: pytest.TempPathFactory) -> TestPkis:
    root = tmp_path_factory.mktemp("tls")
    return TestPkis(
        trusted=make_pki(root / "trusted", "Audit test CA"),
        stranger=make_pki(root / "stranger", "Some other CA"),
        wrong_name=make_pki(root / "wrong-name", "Audit test CA for another host", ("mail.example.test",)),
    )
