"""Bearer API keys from the environment and/or a mounted Secret file (one key per line).

The file is re-read when its mtime changes (checked at most every few seconds, so the query path
does not stat the disk on every request): a rotated Secret takes effect without a restart.
Keys are compared with hmac.compare_digest against every accepted key, without early exit.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)


class KeyStore:
    def __init__(self, keys: list[str], path: Path | None = None, recheck_seconds: float = 5.0) -> None:
        self._env_keys = [k.encode() for k in keys if k]
        self._path = path
        self._recheck = recheck_seconds
        self._file_keys: list[bytes] = []
        self._mtime: float | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._reload(force=True)

    @property
    def keys(self) -> list[bytes]:
        self._reload()
        return self._env_keys + self._file_keys

    def _reload(self, force: bool = False) -> None:
        if self._path is None:
            return
        now = time.monotonic()
        if not force and now - self._checked < self._recheck:
            return
        with self._lock:
            self._checked = now
            try:
                mtime = os.stat(self._path).st_mtime
            except OSError:
                if self._file_keys or force:
                    log.warning("API key file unreadable", extra={"path": str(self._path)})
                self._file_keys, self._mtime = [], None
                return
            if mtime == self._mtime and not force:
                return
            lines = self._path.read_text().splitlines()
            self._file_keys = [line.strip().encode() for line in lines if line.strip()]
            self._mtime = mtime
            log.info("API keys loaded", extra={"path": str(self._path), "count": len(self._file_keys)})

    def check(self, token: str | None) -> bool:
        if not token:
            return False
        candidate = token.encode()
        ok = False
        for key in self.keys:
            ok |= hmac.compare_digest(key, candidate)
        return ok


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
