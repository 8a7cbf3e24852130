"""Credentials at the trust boundary: the caller's token for the gateway, the service token for
the stages.

Two token sets, each read from a file (one token a line; blank lines and ``#`` comments are
skipped):

- callers → gateway: ``$S2V_GATEWAY_TOKEN_FILE`` (or, for compatibility, ``$S2V_GATEWAY_TOKEN``
  itself). None configured: the gateway takes any caller (the local stack on 127.0.0.1), and
  says so in its log once.
- gateway → stages: ``$S2V_STAGE_TOKEN_FILE``, default ``$S2V_HOME/secrets/stage_token``, made
  (random, mode 0600) by the first process that needs it when absent. Stages accept this token
  only, never a caller's, so nothing reaches a model except through the gateway.

Every line of a file is accepted; the first is the one this process sends. To rotate, put the
next token on a second line, roll the senders (it becomes first), then drop the old line: the
file is re-read when it changes, with no restart. Tokens are compared in constant time (SHA-256
digests, every token compared) and never logged; only file paths travel in Ray's runtime_env.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from services.errors import RpcError

logger = logging.getLogger("ray.serve")

CALLER_FILE_ENV = "S2V_GATEWAY_TOKEN_FILE"
CALLER_ENV = "S2V_GATEWAY_TOKEN"
STAGE_FILE_ENV = "S2V_STAGE_TOKEN_FILE"
#: A token file's contents are re-read at most this often (seconds).
_RECHECK_S = 2.0
_MAX_HEADER = 4096


def secrets_dir() -> Path:
    from speech2video_mlops.registry import s2v_home

    return s2v_home() / "secrets"


def default_stage_token_file() -> Path:
    return secrets_dir() / "stage_token"


def write_secret(path: Path, value: str) -> Path:
    """Write ``value`` to ``path`` readable by its owner only (0600, directory 0700)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value.strip() + "\n")
    os.replace(tmp, path)
    return path


def ensure_token_file(path: Path) -> Path:
    """``path``, created with a fresh random token when it does not exist (race-safe)."""
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(32) + "\n")
    return path


def _digest(token: str | bytes) -> bytes:
    raw = token.encode("utf-8", "surrogatepass") if isinstance(token, str) else token
    return hashlib.sha256(raw).digest()


@dataclass(frozen=True)
class _Loaded:
    tokens: tuple[str, ...]
    digests: tuple[bytes, ...]
    stamp: tuple[float, int] | None


class TokenSet:
    """The tokens one side accepts (and the first, which it sends), from a file or given."""

    def __init__(
        self,
        name: str,
        *,
        path: str | Path | None = None,
        tokens: tuple[str, ...] = (),
        create: bool = False,
        required: bool = True,
    ) -> None:
        self.name = name
        self.required = required
        self.path = Path(path) if path else None
        self.create = create
        self._lock = threading.Lock()
        self._loaded = _Loaded(tuple(tokens), tuple(_digest(t) for t in tokens), None)
        self._checked = -_RECHECK_S
        self._warned = False

    @property
    def configured(self) -> bool:
        return bool(self._current().tokens)

    def _current(self) -> _Loaded:
        if self.path is None or time.monotonic() - self._checked < _RECHECK_S:
            return self._loaded
        with self._lock:
            self._checked = time.monotonic()
            try:
                if self.create:
                    ensure_token_file(self.path)
                st = self.path.stat()
                stamp = (st.st_mtime, st.st_size)
                if stamp != self._loaded.stamp:
                    lines = self.path.read_text().splitlines()
                    tokens = tuple(
                        s for s in (line.strip() for line in lines) if s and not s.startswith("#")
                    )
                    self._loaded = _Loaded(tokens, tuple(_digest(t) for t in tokens), stamp)
            except OSError as exc:
                # keep what was read before; never log the token, only the path's problem
                logger.warning("%s token file %s unreadable: %s", self.name, self.path, exc.errno)
            return self._loaded

    def token(self) -> str | None:
        """The token this side sends (the file's first), None when none is configured."""
        tokens = self._current().tokens
        return tokens[0] if tokens else None

    def accepts(self, given: str | bytes) -> bool:
        """True when ``given`` equals one of the tokens (constant time, all compared)."""
        digest = _digest(given)
        ok = False
        for known in self._current().digests:
            ok |= hmac.compare_digest(digest, known)
        return ok

    def check(self, grpc_context: Any) -> None:
        """UNAUTHENTICATED unless the metadata carries ``authorization: Bearer <token>`` of this
        set. With no token configured: refused when :attr:`required`, else allowed (logged
        once)."""
        if not self.configured:
            if self.required:
                raise RpcError(
                    grpc.StatusCode.UNAUTHENTICATED, f"{self.name}: no credential configured"
                )
            if not self._warned:
                self._warned = True
                logger.warning("%s: no token configured; every caller is accepted", self.name)
            return
        if not self.accepts(bearer(grpc_context)):
            raise RpcError(grpc.StatusCode.UNAUTHENTICATED, "missing or invalid bearer token")


def bearer(grpc_context: Any) -> bytes:
    """The token of the first ``authorization: Bearer ...`` metadata entry (b"" when none)."""
    try:
        metadata = grpc_context.invocation_metadata() or ()
    except Exception:  # a context without metadata
        return b""
    for entry in metadata:
        try:
            key, value = entry[0], entry[1]
        except (TypeError, IndexError):
            continue
        if str(key).lower() != "authorization":
            continue
        raw = value if isinstance(value, bytes) else str(value).encode("utf-8", "replace")
        raw = raw[:_MAX_HEADER]
        scheme, _, token = raw.partition(b" ")
        return token.strip() if scheme.lower() == b"bearer" else b""
    return b""


def caller_tokens() -> TokenSet:
    """Tokens callers of the gateway may present (``$S2V_GATEWAY_TOKEN_FILE`` /
    ``$S2V_GATEWAY_TOKEN``); may be empty (an open gateway)."""
    path = os.environ.get(CALLER_FILE_ENV)
    if path:
        return TokenSet("gateway", path=path, required=False)
    legacy = os.environ.get(CALLER_ENV, "").strip()
    return TokenSet("gateway", tokens=(legacy,) if legacy else (), required=False)


def stage_tokens() -> TokenSet:
    """The service token stages accept and the gateway sends (``$S2V_STAGE_TOKEN_FILE``, else
    ``$S2V_HOME/secrets/stage_token``, created when missing)."""
    path = os.environ.get(STAGE_FILE_ENV)
    if path:
        return TokenSet("stage", path=path)
    return TokenSet("stage", path=default_stage_token_file(), create=True)
