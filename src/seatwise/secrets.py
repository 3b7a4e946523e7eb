"""Encryption at rest of tenant secrets (client secrets, refresh tokens) with Fernet.

The key comes from `SEATWISE_SECRET_KEY` (a Fernet key, or any passphrase, stretched with
PBKDF2) or from a key file `secret.key` in the data directory, created 0600 on first use (the
directory 0700), whatever the umask; a key file others can read is refused.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from seatwise.config import Settings
from seatwise.errors import ConfigError

KEY_FILE = "secret.key"
_SALT = b"seatwise secret key v1"


def _from_passphrase(passphrase: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(passphrase.encode())
        if len(raw) == 32:
            return passphrase.encode()
    except (ValueError, TypeError):
        pass
    derived = hashlib.pbkdf2_hmac("sha256", passphrase.encode(), _SALT, 200_000)
    return base64.urlsafe_b64encode(derived)


def _key_file(data_dir: Path) -> bytes:
    path = data_dir / KEY_FILE
    if path.exists():
        if path.stat().st_mode & 0o077:
            raise ConfigError(f"The key file {path} is readable by others; run chmod 600 on it.")
        return path.read_bytes().strip()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
    return key


class SecretBox:
    """Encrypts and decrypts tenant secrets with the installation's key."""

    def __init__(self, settings: Settings) -> None:
        if settings.secret_key is not None:
            key = _from_passphrase(settings.secret_key.get_secret_value())
        else:
            key = _key_file(settings.data_dir)
        try:
            self._fernet = Fernet(key)
        except ValueError:
            raise ConfigError("The secret key is not a valid Fernet key.") from None
        self._key = key

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for `purpose` (e.g. signing web sessions), derived from the installation
        key with HKDF, so one secret serves every use without reusing it directly."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        info = f"seatwise {purpose}".encode()
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(self._key)

    def seal(self, secret: str) -> bytes:
        """The encrypted form of `secret`."""
        return self._fernet.encrypt(secret.encode())

    def open(self, sealed: bytes) -> str:
        """`secret` again; ConfigError when it was sealed with another key."""
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken:
            raise ConfigError(
                "A stored secret cannot be decrypted with this installation's key "
                "(SEATWISE_SECRET_KEY or the data directory's secret.key changed)."
            ) from None
