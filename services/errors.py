"""Core and transport errors → gRPC status codes with clean messages (no traceback, no Ray text).

Every RPC method is wrapped by :func:`unary_rpc` or :func:`streaming_rpc`. The wrapper first calls
the deployment's ``authorize(grpc_context)`` (see :mod:`services.auth`; a deployment without one
refuses every call), then the method; an exception sets the code and details on the method's
``grpc_context``. A unary method then returns an empty response;
a streaming one raises :class:`RpcAbortError`, whose text is the details the caller sees
(Ray's proxy keeps the code and details set on the context).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from speech2video.errors import InputError, NotFoundError
from speech2video_mlops.registry import RegistryUnavailableError

logger = logging.getLogger("ray.serve")
R = TypeVar("R")

#: Codes whose details a stage wrote itself and a gateway may pass on unchanged.
_PASS_THROUGH = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.FAILED_PRECONDITION,
}
_GENERIC = {
    grpc.StatusCode.RESOURCE_EXHAUSTED: "overloaded; retry later",
    grpc.StatusCode.UNAVAILABLE: "temporarily unavailable; retry later",
    grpc.StatusCode.DEADLINE_EXCEEDED: "deadline exceeded",
    grpc.StatusCode.CANCELLED: "cancelled",
}


class RpcError(Exception):
    """An error with an explicit status code and a message fit for the caller."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class RpcAbortError(Exception):
    """Raised out of a streaming method after the status is set on its context."""


def status_of(exc: BaseException, where: str = "") -> tuple[grpc.StatusCode, str]:
    """The status code and the caller-facing message for an exception."""
    if isinstance(exc, RpcError):
        return exc.code, exc.message
    if isinstance(exc, RegistryUnavailableError):
        return grpc.StatusCode.UNAVAILABLE, "model registry unavailable; retry later"
    if isinstance(exc, NotFoundError):
        return grpc.StatusCode.NOT_FOUND, str(exc)
    if isinstance(exc, InputError):
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc)
    if isinstance(exc, grpc.aio.AioRpcError):  # a stage called through the proxy
        code = exc.code()
        details = exc.details() or ""
        if code in _PASS_THROUGH and "RayServeAPIService" not in details:
            return code, details
        stage = f"the {where} stage" if where else "a stage"
        return (
            code if code in _GENERIC else grpc.StatusCode.INTERNAL,
            f"{stage} is {_GENERIC[code]}" if code in _GENERIC else f"{stage} failed",
        )
    if isinstance(exc, TimeoutError):
        return grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded"
    if _cancelled(exc):
        return grpc.StatusCode.CANCELLED, "cancelled"
    return grpc.StatusCode.INTERNAL, "internal error; the server log has the details"


def _cancelled(exc: BaseException) -> bool:
    """Ray's word that the call's own caller went (a cancelled request or task), which reaches a
    streaming method as an exception: a cancel, not an internal error to log with a traceback."""
    from ray.exceptions import TaskCancelledError
    from ray.serve.exceptions import RequestCancelledError

    return isinstance(exc, TaskCancelledError | RequestCancelledError)


def _report(context: Any, exc: BaseException, name: str) -> str:
    code, message = status_of(exc, getattr(exc, "stage", ""))
    if code == grpc.StatusCode.INTERNAL:
        logger.error("%s failed", name, exc_info=exc)
    else:
        logger.info("%s: %s %s", name, code.name, message)
    context.set_code(code)
    context.set_details(message)
    return message


def unary_rpc(
    response: Callable[[], R],
) -> Callable[[Callable[..., Awaitable[R]]], Callable[..., Awaitable[R]]]:
    """Wrap a unary RPC method ``(self, request, grpc_context)``; errors give ``response()``."""

    def wrap(method: Callable[..., Awaitable[R]]) -> Callable[..., Awaitable[R]]:
        @functools.wraps(method)
        async def wrapper(self: Any, request: Any, grpc_context: Any) -> R:
            try:
                _authorize(self, grpc_context)
                return await method(self, request, grpc_context)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _report(grpc_context, exc, method.__qualname__)
                return response()

        return wrapper

    return wrap


def streaming_rpc(
    method: Callable[..., AsyncIterator[R]],
) -> Callable[..., AsyncIterator[R]]:
    """Wrap a server-streaming RPC method ``(self, request, grpc_context)``."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, grpc_context: Any) -> AsyncIterator[R]:
        try:
            _authorize(self, grpc_context)
            async for item in method(self, request, grpc_context):
                yield item
        except asyncio.CancelledError:
            raise
        except RpcAbortError:
            raise
        except Exception as exc:
            raise RpcAbortError(_report(grpc_context, exc, method.__qualname__)) from None

    return wrapper


def _authorize(deployment: Any, grpc_context: Any) -> None:
    """The deployment's credential check; fails closed when it has none."""
    authorize = getattr(deployment, "authorize", None)
    if authorize is None:
        raise RpcError(grpc.StatusCode.UNAUTHENTICATED, "no credential check configured")
    authorize(grpc_context)
