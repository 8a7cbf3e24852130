"""Tokens at the trust boundary: files, rotation, the bearer header, failing closed."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any

import grpc
import pytest

from services import auth
from services.errors import RpcError


class Context:
    def __init__(self, *metadata: tuple[Any, Any]) -> None:
        self.metadata = metadata

    def invocation_metadata(self) -> tuple[tuple[Any, Any], ...]:
        return self.metadata


def _bearer(token: str) -> Context:
    return Context(("application", "x"), ("authorization", f"Bearer {token}"))


def _refused(tokens: auth.TokenSet, context: Context) -> str:
    with pytest.raises(RpcError) as info:
        tokens.check(context)
    assert info.value.code == grpc.StatusCode.UNAUTHENTICATED
    return info.value.message


def test_a_token_file_accepts_every_line_and_sends_the_first(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("# current, then next\ncurrent-token\n\nnext-token\n")
    tokens = auth.TokenSet("stage", path=path)
    assert tokens.token() == "current-token"
    tokens.check(_bearer("current-token"))
    tokens.check(_bearer("next-token"))
    for bad in (Context(), _bearer("wrong"), _bearer("current-token2"), _bearer("")):
        assert "current-token" not in _refused(tokens, bad)
    # malformed metadata: another scheme, bytes, junk entries
    _refused(tokens, Context(("authorization", "Basic current-token")))
    _refused(tokens, Context(("authorization", b"\xff\x00"), ("x",), None))  # type: ignore[arg-type]


def test_rotation_is_picked_up_without_a_restart(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(auth, "_RECHECK_S", 0.0)
    path = tmp_path / "tokens"
    path.write_text("old\n")
    tokens = auth.TokenSet("stage", path=path)
    tokens.check(_bearer("old"))
    path.write_text("new\nold\n")
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert tokens.token() == "new"
    tokens.check(_bearer("old"))
    path.write_text("new\n")
    os.utime(path, (time.time() + 10, time.time() + 10))
    _refused(tokens, _bearer("old"))


def test_stages_fail_closed_and_an_open_gateway_is_explicit(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("S2V_HOME", str(tmp_path))
    monkeypatch.delenv(auth.STAGE_FILE_ENV, raising=False)
    monkeypatch.delenv(auth.CALLER_FILE_ENV, raising=False)
    monkeypatch.delenv(auth.CALLER_ENV, raising=False)
    stage = auth.stage_tokens()
    token = stage.token()  # made on first use, owner-only
    assert token and len(token) >= 32
    mode = stat.S_IMODE(auth.default_stage_token_file().stat().st_mode)
    assert mode == 0o600
    assert auth.stage_tokens().token() == token  # every process on the machine shares it
    _refused(stage, Context())
    assert "no credential" in _refused(auth.TokenSet("stage"), _bearer("anything"))
    auth.caller_tokens().check(Context())  # no caller token: the gateway is open
    monkeypatch.setenv(auth.CALLER_ENV, "caller")
    _refused(auth.caller_tokens(), _bearer(token))  # the stage token is no caller token
    auth.caller_tokens().check(_bearer("caller"))


def test_serve_up_passes_token_files_never_tokens(tmp_path: Path, monkeypatch: Any) -> None:
    from services import deploy

    monkeypatch.setenv("S2V_HOME", str(tmp_path))
    monkeypatch.delenv(auth.STAGE_FILE_ENV, raising=False)
    monkeypatch.delenv(auth.CALLER_FILE_ENV, raising=False)
    monkeypatch.setenv(auth.CALLER_ENV, "s3cret-caller")
    env = deploy.runtime_env_vars(9000)
    assert "s3cret-caller" not in repr(env) and auth.CALLER_ENV not in os.environ
    caller_file = Path(env[auth.CALLER_FILE_ENV])
    assert caller_file.read_text().strip() == "s3cret-caller"
    assert stat.S_IMODE(caller_file.stat().st_mode) == 0o600
    assert Path(env[auth.STAGE_FILE_ENV]).is_file()


def test_the_local_stack_binds_loopback_unless_told() -> None:
    from services import deploy

    config = deploy.load_config()
    assert deploy.prepare_config(config)["http_options"]["host"] == "127.0.0.1"
    assert deploy.prepare_config(config, host="0.0.0.0")["http_options"]["host"] == "0.0.0.0"


def test_every_rpc_method_checks_a_credential() -> None:
    """Each app's RPC methods go through the wrappers, which refuse a deployment without a
    credential check (fail closed)."""
    import asyncio

    from services.errors import unary_rpc

    class NoCheck:
        @unary_rpc(lambda: "empty")
        async def Call(self, request: Any, grpc_context: Any) -> str:  # noqa: N802
            return "reached the model"

    class Ctx(Context):
        code = details = None

        def set_code(self, code: Any) -> None:
            self.code = code

        def set_details(self, details: str) -> None:
            self.details = details

    ctx = Ctx()
    assert asyncio.run(NoCheck().Call(None, ctx)) == "empty"
    assert ctx.code == grpc.StatusCode.UNAUTHENTICATED
