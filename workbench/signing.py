"""Ed25519 signatures over a bundle's digest, with keys people already have.

A signature proves who vouched for a bundle: whoever holds the private key signed its
``bundle_sha256`` (which covers the manifest, so every frame hash, row count and the
annotation log's head). An OpenSSH ``~/.ssh/id_ed25519`` (unencrypted) or a PEM PKCS#8
Ed25519 key signs; its ``.pub`` line (``ssh-ed25519 AAAA... comment``), a PEM public
key, or an ``allowed_signers``-style file (``principal ssh-ed25519 AAAA...`` per line)
verifies. Keys are named by their OpenSSH fingerprint (``SHA256:...``, what
``ssh-keygen -lf`` prints).

Signatures live in ``signatures.json`` beside the manifest (they are *about* the
manifest, so they cannot be inside it); signing twice with the same key replaces that
key's signature. What is signed is ``incident-workbench-bundle-signature/1`` + a newline
+ the digest, so a signature cannot be replayed as some other kind of statement.

Needs the ``cryptography`` package (``pip install 'incident-workbench[sign]'``).

Example::

    >>> from workbench.signing import sign_bundle, check_signatures
    >>> sign_bundle("INC-123.bundle", key="~/.ssh/id_ed25519")
    'SHA256:3q2+7w...'
    >>> check_signatures("INC-123.bundle", public_key="~/.ssh/id_ed25519.pub")
    []
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.errors import BadData, ConfigError

__all__ = [
    "SIGNATURES_FILE",
    "PublicKey",
    "check_signatures",
    "load_private_key",
    "load_public_keys",
    "read_signatures",
    "sign_bundle",
    "sign_digest",
]

SIGNATURES_FILE = "signatures.json"
CONTEXT = b"incident-workbench-bundle-signature/1\n"


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:  # pragma: no cover - an optional extra
        raise ConfigError(
            "signing bundles needs the cryptography package",
            hint="pip install 'incident-workbench[sign]'",
        ) from None
    return serialization, ed25519


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key, its OpenSSH line and fingerprint, and who it is."""

    key: Any
    openssh: str
    fingerprint: str
    principal: str | None = None

    @classmethod
    def from_key(cls, key: Any, principal: str | None = None) -> PublicKey:
        serialization, _ = _crypto()
        line = key.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ).decode()
        blob = base64.b64decode(line.split()[1])
        fp = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
        return cls(key, line, fp, principal)

    @property
    def name(self) -> str:
        return f"{self.principal} ({self.fingerprint})" if self.principal else self.fingerprint


def load_private_key(path: str | Path) -> Any:
    """An Ed25519 private key from an OpenSSH (``id_ed25519``) or PEM file."""
    serialization, ed25519 = _crypto()
    p = Path(path).expanduser()
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read key file {p}: {exc.strerror}") from None
    key = None
    errors = []
    for loader in (serialization.load_ssh_private_key, serialization.load_pem_private_key):
        try:
            key = loader(data, password=None)
            break
        except TypeError:
            raise ConfigError(
                f"key file {p} is protected by a passphrase",
                hint="use an unencrypted signing key kept for this purpose, or decrypt a "
                "copy: ssh-keygen -p -N '' -f COPY",
            ) from None
        except (ValueError, serialization.UnsupportedAlgorithm) as exc:
            errors.append(str(exc))
    if key is None:
        raise ConfigError(
            f"{p} is not an OpenSSH or PEM private key",
            hint="give an Ed25519 key: ssh-keygen -t ed25519 -f KEYFILE",
        )
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ConfigError(
            f"{p} is a {type(key).__name__}, not an Ed25519 key",
            hint="make one with: ssh-keygen -t ed25519 -f KEYFILE",
        )
    return key


def load_public_keys(path: str | Path) -> list[PublicKey]:
    """Ed25519 public keys from a ``.pub`` line, a PEM file, or an allowed-signers file
    (one ``[principal] ssh-ed25519 AAAA... [comment]`` per line)."""
    serialization, ed25519 = _crypto()
    p = Path(path).expanduser()
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read public key file {p}: {exc.strerror}") from None
    keys: list[PublicKey] = []
    if b"-----BEGIN" in data:
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError as exc:
            raise ConfigError(f"{p} is not a PEM public key: {exc}") from None
        if isinstance(key, ed25519.Ed25519PublicKey):
            keys.append(PublicKey.from_key(key))
    else:
        for line in data.decode("utf-8", "replace").splitlines():
            parts = line.split()
            if "ssh-ed25519" not in parts:
                continue
            i = parts.index("ssh-ed25519")
            if i + 1 >= len(parts):
                continue
            principal = parts[0] if i > 0 else (parts[i + 2] if len(parts) > i + 2 else None)
            try:
                key = serialization.load_ssh_public_key(f"ssh-ed25519 {parts[i + 1]}".encode())
            except ValueError:
                continue
            keys.append(PublicKey.from_key(key, principal))
    if not keys:
        raise ConfigError(
            f"{p} holds no Ed25519 public key",
            hint="give the signer's id_ed25519.pub, a PEM public key or an allowed-signers file",
        )
    return keys


def sign_digest(digest: str, key: Any) -> dict[str, str]:
    """A signature record over ``digest`` (hex SHA-256) with an Ed25519 private key."""
    pub = PublicKey.from_key(key.public_key())
    sig = key.sign(CONTEXT + digest.encode())
    return {
        "algorithm": "ed25519",
        "signed": "bundle_sha256",
        "digest": digest,
        "public_key": pub.openssh,
        "fingerprint": pub.fingerprint,
        "signature": base64.b64encode(sig).decode(),
        "signed_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }


def read_signatures(bundle: str | Path) -> list[dict[str, Any]]:
    """The signature records of a bundle (``[]`` when it has none)."""
    p = Path(bundle) / SIGNATURES_FILE
    if not p.exists():
        return []
    try:
        doc = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise BadData(f"{p} is not valid JSON: {type(exc).__name__}", path=str(p)) from None
    sigs = doc.get("signatures") if isinstance(doc, dict) else None
    if not isinstance(sigs, list) or not all(isinstance(s, dict) for s in sigs):
        raise BadData(f"{p} has no list of signatures", path=str(p), field="signatures")
    return sigs


def sign_bundle(bundle: str | Path, *, key: str | Path | Any) -> str:
    """Sign the bundle's digest with ``key`` (a key file path or a loaded private key);
    returns the key's fingerprint. The bundle must be intact."""
    from workbench.bundle import load_manifest, verify_bundle

    root = Path(bundle)
    problems = verify_bundle(root)
    if problems:
        raise BadData(
            f"{root} is not intact; refusing to sign it: {problems[0]}",
            path=str(root),
            hint="sign only what `workbench bundle verify` reports intact",
        )
    digest = load_manifest(root)["bundle_sha256"]
    private = load_private_key(key) if isinstance(key, (str, Path)) else key
    record = sign_digest(digest, private)
    others = [s for s in read_signatures(root) if s.get("fingerprint") != record["fingerprint"]]
    doc = {"format": "incident-workbench-signatures/1", "signatures": [*others, record]}
    tmp = root / (SIGNATURES_FILE + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    tmp.replace(root / SIGNATURES_FILE)
    return record["fingerprint"]


def check_signatures(
    bundle: str | Path, *, public_key: str | Path | list[PublicKey], digest: str | None = None
) -> tuple[list[str], list[str]]:
    """``(problems, signers)``: whether the bundle carries a valid signature over its
    current digest by one of the keys in ``public_key``. ``problems`` is empty when at
    least one signature by a trusted key is valid; ``signers`` names the keys that
    signed it validly."""
    from cryptography.exceptions import InvalidSignature

    from workbench.bundle import load_manifest

    root = Path(bundle)
    if digest is None:
        digest = load_manifest(root)["bundle_sha256"]
    trusted = load_public_keys(public_key) if isinstance(public_key, (str, Path)) else public_key
    sigs = read_signatures(root)
    if not sigs:
        return [f"{root} carries no signature ({SIGNATURES_FILE} is missing or empty)"], []
    signers: list[str] = []
    problems: list[str] = []
    by_fp = {k.fingerprint: k for k in trusted}
    for s in sigs:
        fp = str(s.get("fingerprint"))
        k = by_fp.get(fp)
        if k is None:
            problems.append(f"signature by {fp}: not a trusted key (foreign signature)")
            continue
        if s.get("digest") != digest:
            problems.append(
                f"signature by {k.name}: signs digest {str(s.get('digest'))[:16]}…, but the "
                f"bundle's digest is {digest[:16]}… (the bundle was rewritten after signing)"
            )
            continue
        try:
            k.key.verify(base64.b64decode(str(s.get("signature"))), CONTEXT + digest.encode())
        except (InvalidSignature, ValueError):
            problems.append(f"signature by {k.name}: does not verify (wrong or damaged)")
            continue
        signers.append(k.name)
    if signers:
        return [], signers
    return problems or [f"{root}: no valid signature by a trusted key"], []
