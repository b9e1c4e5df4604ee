"""
Who may see and settle campaigns: Airflow's auth manager decides, the page only asks it.

Airflow does not authenticate a plugin's FastAPI app, so every route of the FullSMS page depends
on :func:`reader` or :func:`editor`. They take the user the way Airflow's own API does (a Bearer
JWT, or the UI's session cookie; none is 401, a bad one 403) and ask the auth manager the same
question Airflow asks before reading task instances (``GET``) or changing them (``PUT``).

A write authenticated by the session cookie alone must also carry the page's CSRF token in the
:data:`CSRF_HEADER` header: an HMAC of that session's token, which another site cannot read. A
write with a Bearer token needs none (a browser never adds one by itself).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser  # noqa: TC002 (FastAPI reads it)
from airflow.api_fastapi.auth.managers.models.resource_details import (
    ConnectionDetails,
    DagAccessEntity,
    DagDetails,
)
from airflow.api_fastapi.core_api.security import get_user
from airflow.configuration import conf
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

CSRF_HEADER = "X-FullSMS-CSRF"
_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class Caller:
    """An authenticated request: the user, and the credential to call Airflow's API on their behalf."""

    user: BaseUser
    token: str
    #: The credential came from the session cookie (a write then needs the CSRF token too).
    by_cookie: bool

    def may_read_task_instances(self, dag_id: str) -> bool:
        return _may(self.user, "GET", dag_id)

    def may_edit_task_instances(self, dag_id: str) -> bool:
        return _may(self.user, "PUT", dag_id)

    def may_read_connection(self, conn_id: str) -> bool:
        return get_auth_manager().is_authorized_connection(
            method="GET", details=ConnectionDetails(conn_id=conn_id), user=self.user
        )

    def readable_dag_ids(self, dag_ids: set[str]) -> set[str]:
        """The DAGs among ``dag_ids`` whose task instances this user may read."""
        return {dag_id for dag_id in dag_ids if self.may_read_task_instances(dag_id)}


def _may(user: BaseUser, method: str, dag_id: str) -> bool:
    return get_auth_manager().is_authorized_dag(
        method=method,  # type: ignore[arg-type]
        access_entity=DagAccessEntity.TASK_INSTANCE,
        details=DagDetails(id=dag_id),
        user=user,
    )


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session: an HMAC of its JWT with the api-server's secret key."""
    secret = conf.get("api", "secret_key", fallback="") or ""
    return hmac.new(secret.encode(), f"fullsms-csrf:{session_token}".encode(), hashlib.sha256).hexdigest()


async def caller(
    request: Request,
    user: Annotated[BaseUser, Depends(get_user)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The authenticated caller (``get_user`` has already answered 401/403 for anybody else)."""
    if bearer is not None and bearer.scheme.lower() == "bearer":
        return Caller(user, bearer.credentials, by_cookie=False)
    return Caller(user, request.cookies.get(COOKIE_NAME_JWT_TOKEN, ""), by_cookie=True)


async def writer(request: Request, who: Annotated[Caller, Depends(caller)]) -> Caller:
    """A caller allowed to write: Bearer-authenticated, or carrying the session's CSRF token."""
    if who.by_cookie:
        sent = request.headers.get(CSRF_HEADER, "")
        if not who.token or not hmac.compare_digest(sent, csrf_token(who.token)):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"A change through the session cookie needs the page's {CSRF_HEADER} header.",
            )
    return who


def require(allowed: bool, what: str) -> None:
    """Answer 403 unless ``allowed``."""
    if not allowed:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"You may not {what}.")


Reader = Annotated[Caller, Depends(caller)]
Writer = Annotated[Caller, Depends(writer)]
