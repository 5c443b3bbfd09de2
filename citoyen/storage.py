"""Where the files families send are kept.

One small interface — ``save(data) -> key``, ``open(key)``, ``read(key)``,
``delete(key)`` — so that the rest of the portal never builds a path. Keys are
random (``secrets.token_urlsafe``), never derived from the name a family gave,
so a file name cannot reach the file system.

``LocalStorage`` keeps the files under ``<instance>/uploads/`` (or
``UPLOAD_FOLDER``), never under ``static/``: they are served only by views
that check the household or the agent role. An S3-compatible store (Garage,
MinIO, Scaleway, OVH) fits the same four methods — ``put_object`` under the
key, ``get_object``, ``delete_object`` with a private bucket — and would be
chosen here from the configuration; nothing else needs to change."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import BinaryIO

KEY_ALPHABET = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class LocalStorage:
    """Files in a folder, two levels deep, readable by the portal's user only."""

    def __init__(self, root: str):
        self.root = os.path.abspath(root)

    def _path(self, key: str) -> str:
        if not key or len(key) > 64 or not set(key) <= KEY_ALPHABET:
            raise KeyError(key)
        return os.path.join(self.root, key[:2], key)

    def save(self, data: bytes) -> str:
        """Store ``data`` under a new random key and return the key."""
        key = secrets.token_urlsafe(32)
        path = self._path(key)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        temporary = f"{path}.part"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
        return key

    def open(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

    def read(self, key: str) -> bytes:
        with self.open(key) as fh:
            return fh.read()

    def delete(self, key: str) -> None:
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            pass

    def exists(self, key: str) -> bool:
        return os.path.exists(self._path(key))


def from_config(config: Mapping, instance_path: str) -> LocalStorage:
    """The storage the configuration names (the instance folder by default)."""
    return LocalStorage(config.get("UPLOAD_FOLDER") or os.path.join(instance_path, "uploads"))
