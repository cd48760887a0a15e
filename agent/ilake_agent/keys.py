"""Where the spool's 32-byte AES key lives: the OS keyring when there is one, else a 0600 file.

Why two stores, and why never next to the spool: the spool holds ciphertext only, so whoever copies
the spool directory (a backup, a sync client, a curious admin) gets nothing readable unless they
also get the key. The OS keyring (macOS Keychain, Windows Credential Locker, Secret Service on a
Linux desktop) keeps the key out of the file system entirely and unlocks it with the user's login,
so it is the default wherever a real backend exists. Headless machines often have none (or only
keyring's "fail" or plaintext backends, which would be no better than a file), so there the key is
a file readable by its owner alone, created atomically, placed beside the spool directory (never
inside it), and refused if anyone else could read it or if it has been truncated or replaced.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import stat
from pathlib import Path
from typing import Any, Protocol

KEY_BYTES = 32  # AES-256-GCM
SERVICE = "interaction-lake-agent"

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_POSIX = os.name == "posix"


class KeyStoreError(Exception):
    """The key cannot be loaded safely; the message names the store, never the key."""


class KeyStore(Protocol):
    def load_or_create(self) -> bytes:
        """The 32-byte key, created on first use and identical on every later call."""
        ...


class KeyFile(KeyStore):
    """A raw 32-byte key in a file that only its owner can read (mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load_or_create(self) -> bytes:
        try:
            return self._load()
        except FileNotFoundError:
            pass
        self._create()
        return self._load()

    def _load(self) -> bytes:
        try:
            fd = os.open(self.path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC | _BINARY)
        except FileNotFoundError:
            raise
        except OSError as exc:  # ELOOP: a symlink planted where the key should be
            raise KeyStoreError(f"cannot open key file {self.path}: {exc.strerror}") from exc
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise KeyStoreError(f"key file {self.path} is not a regular file")
            if _POSIX and st.st_mode & 0o077:
                raise KeyStoreError(
                    f"key file {self.path} is accessible by group or others "
                    f"(mode {stat.S_IMODE(st.st_mode):04o}); refusing it, expected 0600"
                )
            if _POSIX and st.st_uid != os.getuid():
                raise KeyStoreError(f"key file {self.path} is owned by another user")
            if st.st_size != KEY_BYTES:
                raise KeyStoreError(
                    f"key file {self.path} has {st.st_size} bytes, expected {KEY_BYTES}"
                )
            key = os.read(fd, KEY_BYTES + 1)
        finally:
            os.close(fd)
        if len(key) != KEY_BYTES:
            raise KeyStoreError(f"key file {self.path} changed while it was read")
        return key

    def _create(self) -> None:
        """Write a fresh key to a private temporary file, then hard-link it into place.

        The temporary file is created with O_CREAT|O_EXCL and mode 0600, so the key is never
        readable by others, not even for an instant; `os.link` never replaces an existing file, so
        of two agents racing to create the key exactly one wins and both then read the winner's
        key; and nobody can ever observe a half-written key file.
        """
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(8)}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | _BINARY
        fd = os.open(tmp, flags, 0o600)
        try:
            try:
                os.write(fd, secrets.token_bytes(KEY_BYTES))
                os.fsync(fd)
            finally:
                os.close(fd)
            with contextlib.suppress(FileExistsError):  # another process won the race: use theirs
                os.link(tmp, self.path)
        finally:
            os.unlink(tmp)
        _fsync_dir(self.path.parent)


class OsKeyring(KeyStore):
    """The key in the OS keyring, via the optional `keyring` package (base64 text)."""

    def __init__(self, spool_id: str) -> None:
        self.spool_id = spool_id

    @staticmethod
    def available() -> bool:
        """True when `keyring` is importable and its backend really protects secrets."""
        try:
            import keyring  # optional: absent on most agents
        except ImportError:
            return False
        try:
            backend = keyring.get_keyring()
        except Exception:  # a broken keyring configuration must not break the agent
            return False
        return _real_backend(backend)

    def load_or_create(self) -> bytes:
        import keyring

        stored = keyring.get_password(SERVICE, self.spool_id)
        if stored is None:
            keyring.set_password(
                SERVICE, self.spool_id, base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()
            )
            stored = keyring.get_password(SERVICE, self.spool_id)  # whoever stored last wins
        if stored is None:
            raise KeyStoreError(f"the OS keyring did not keep the key for {self.spool_id}")
        try:
            key = base64.b64decode(stored, validate=True)
        except ValueError as exc:
            raise KeyStoreError(f"the OS keyring entry for {self.spool_id} is not a key") from exc
        if len(key) != KEY_BYTES:
            raise KeyStoreError(f"the OS keyring entry for {self.spool_id} has the wrong size")
        return key


def _real_backend(backend: Any) -> bool:
    """Reject keyring's null/fail backends and keyrings.alt's file backends (plaintext or
    password-prompting); a chainer is real when at least one of its backends is."""
    cls = type(backend)
    module, name = cls.__module__, cls.__name__
    if module.startswith(("keyring.backends.fail", "keyring.backends.null", "keyrings.alt")):
        return False
    if "plaintext" in name.lower() or "plaintext" in module.lower():
        return False
    if module.startswith("keyring.backends.chainer"):
        return any(_real_backend(b) for b in getattr(backend, "backends", ()))
    try:
        return float(getattr(backend, "priority", 1)) > 0
    except Exception:
        return False


def spool_id(spool_dir: Path) -> str:
    """A stable, short keyring user name for a spool directory (its path often holds the
    employee's user name, which has no business in keyring item names)."""
    digest = hashlib.sha256(str(Path(spool_dir).resolve()).encode()).hexdigest()
    return f"spool-{digest[:16]}"


def default_key_store(spool_dir: Path) -> KeyStore:
    """The OS keyring where the OS has a real one; else `.<spool dir name>.key`, mode 0600,
    beside the spool directory, so copying the spool alone yields ciphertext only."""
    spool_dir = Path(spool_dir)
    if OsKeyring.available():
        return OsKeyring(spool_id(spool_dir))
    return KeyFile(spool_dir.parent / f".{spool_dir.name}.key")


def _fsync_dir(path: Path) -> None:
    if not _POSIX:
        return
    fd = os.open(path, os.O_RDONLY | _CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
