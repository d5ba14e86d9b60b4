"""Staff API for commands: send one to devices or a site, follow its state."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec
from flask import Blueprint, Response, request

from controller.accounts.current import signed_in
from controller.api.io import RowId, documented, json_response, parse_body, query_row_id
from controller.commands import service as commands
from controller.commands.delivery import send_now
from controller.context import db_session
from controller.errors import DomainError

commands_api = Blueprint("commands", __name__)


class CommandIn(msgspec.Struct, forbid_unknown_fields=True):
    """Either ``device_ids`` or ``site_id``; ``args`` as the command's schema asks."""

    name: str
    device_ids: Annotated[list[str], msgspec.Meta(max_length=500)] = []
    site_id: RowId | None = None
    args: dict[str, Any] = {}
    ttl_s: Annotated[int, msgspec.Meta(ge=10, le=7 * 86400)] | None = None


class CommandOut(msgspec.Struct):
    id: str
    name: str
    label: str
    device_id: str
    runner_id: str
    site_id: int
    state: str
    requested_by: str
    created_at: datetime
    expires_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    output: str
    duration_ms: int | None
    args: dict[str, Any]


def _out(command: Any) -> CommandOut:
    return msgspec.convert(commands.summary(command), CommandOut)


@commands_api.post("/commands")
@documented(
    "Send a command to devices or to every fitting device of a site",
    body=CommandIn,
    response=list[CommandOut],
    status=201,
    auth="staff",
    errors={
        400: "unknown command or not applicable",
        403: "not allowed",
        404: "no such device",
        409: "nobody online to wake it",
        422: "invalid arguments",
    },
)
def send_command() -> Response:
    body = parse_body(CommandIn)
    user = signed_in()
    session = db_session()
    issued = commands.issue(
        session,
        user,
        commands.parse_name(body.name),
        device_ids=body.device_ids,
        site_id=body.site_id,
        args=body.args,
        ttl=timedelta(seconds=body.ttl_s) if body.ttl_s else None,
        pushed=True,
    )
    session.commit()
    send_now(issued)
    return json_response([_out(c) for c in issued], 201)


@commands_api.get("/commands")
@documented(
    "Recent commands the caller may see; ?device_id= or ?site_id= narrows them",
    response=list[CommandOut],
    auth="staff",
    errors={400: "bad filter"},
)
def list_commands() -> Response:
    limit = request.args.get("limit", "50")
    if not limit.isdigit() or not 1 <= int(limit) <= 500:
        raise DomainError("limit must be a number from 1 to 500")
    found = commands.list_commands(
        db_session(),
        signed_in(),
        device_id=request.args.get("device_id"),
        site_id=query_row_id("site_id"),
        limit=int(limit),
    )
    return json_response([_out(c) for c in found])


@commands_api.get("/commands/<command_id>")
@documented(
    "One command: its state, and its output once it ended",
    response=CommandOut,
    auth="staff",
    errors={403: "outside your places", 404: "no such command"},
)
def get_command(command_id: str) -> Response:
    return json_response(_out(commands.get_command(db_session(), signed_in(), command_id)))
