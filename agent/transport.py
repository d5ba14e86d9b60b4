"""The agent's channels to the controller: Socket.IO first, HTTP as fallback.

:class:`SocketIOChannel` and :class:`HttpChannel` each send one :class:`EventBatch` and return the
controller's :class:`EventAck`, and claim a command (:class:`ClaimAnswer`); :class:`ControllerLink`
picks the channel, reconnects with backoff, drains the spool in order, while Socket.IO is down
polls the HTTP fallback for commands, and fetches a new device secret when the controller asks.
The HTTP side uses urllib (the agent does not ship ``requests``); ``socketio`` is imported only
when a Socket.IO channel is built, so ``borne agent enrol`` stays light.
"""

from __future__ import annotations

import base64
import http.client
import logging
import math
import shutil
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from agent.backoff import Backoff
from agent.protocol import (
    AGENT_FEATURES,
    AGENT_NAMESPACE,
    CLAIM_EVENT,
    EVENTS_EVENT,
    FEATURES_AUTH_KEY,
    FEATURES_HEADER,
    PROTOCOL_VERSION,
    AgentRelease,
    ClaimAnswer,
    ClaimRequest,
    EventAck,
    EventBatch,
    NewSecret,
    from_builtins,
    to_builtins,
)
from agent.spool import Spool

log = logging.getLogger(__name__)

EVENTS_PATH = "/api/v1/agent/events"
COMMANDS_PATH = "/api/v1/agent/commands"
SECRET_PATH = "/api/v1/agent/secret"  # noqa: S105 (a path, not a secret)
RELEASES_PATH = "/api/v1/agent/releases"
# Answers of POST .../commands/<id>/claim that are a refusal (do not run), not a transport failure.
CLAIM_REFUSALS = {404: "unknown", 409: "claimed", 410: "expired"}
POISON_ERROR = "invalid_event"


class TransportError(Exception):
    """The batch did not get through (controller unreachable, timeout, 5xx): try again later."""


class CredentialsRefused(TransportError):
    """The controller does not accept this device's id and secret: it must be enrolled again."""


class BatchRejected(Exception):
    """The controller refused the batch itself (``invalid_event``): resending cannot help."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


# -- HTTP ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes

    def error(self) -> tuple[str, str]:
        """``(code, message)`` of an error body, or a generic pair if it is not one."""
        try:
            data = msgspec.json.decode(self.body)
        except msgspec.DecodeError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            return data["error"], str(data.get("message", ""))
        return f"http_{self.status}", self.body[:200].decode(errors="replace")


def post_json(
    url: str,
    body: bytes,
    *,
    timeout_s: float,
    basic_auth: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpAnswer:
    """POST a JSON body and return the status and body of any HTTP answer, 4xx/5xx included.

    Raises :class:`TransportError` when no HTTP answer came back (refused, DNS, timeout, TLS).
    """
    return _request("POST", url, body, timeout_s=timeout_s, basic_auth=basic_auth, headers=headers)


def get_json(
    url: str,
    *,
    timeout_s: float,
    basic_auth: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpAnswer:
    """GET ``url`` (JSON expected); like :func:`post_json`."""
    return _request("GET", url, None, timeout_s=timeout_s, basic_auth=basic_auth, headers=headers)


def _request(
    method: str,
    url: str,
    body: bytes | None,
    *,
    timeout_s: float,
    basic_auth: tuple[str, str] | None,
    headers: dict[str, str] | None = None,
) -> HttpAnswer:
    headers = {"Accept": "application/json", **(headers or {})}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if basic_auth is not None:
        pair = f"{basic_auth[0]}:{basic_auth[1]}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    if not url.startswith(("http://", "https://")):
        raise TransportError(f"not an http(s) URL: {url!r}")
    request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            return HttpAnswer(response.status, response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return HttpAnswer(exc.code, exc.read())
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise TransportError(f"cannot reach {url}: {reason}") from exc


class HttpChannel:
    """``POST {controller}/api/v1/agent/events`` with HTTP Basic ``device_id:secret``."""

    name = "HTTP"

    def __init__(self, controller_url: str, device_id: str, secret: str, *, timeout_s: float = 10):
        self.url = controller_url.rstrip("/") + EVENTS_PATH
        self.commands_url = controller_url.rstrip("/") + COMMANDS_PATH
        self.secret_url = controller_url.rstrip("/") + SECRET_PATH
        self.releases_url = controller_url.rstrip("/") + RELEASES_PATH
        self._auth = (device_id, secret)
        self._timeout_s = timeout_s

    def use_secret(self, secret: str) -> None:
        """Authenticate with the device's new secret from now on."""
        self._auth = (self._auth[0], secret)

    def send(self, batch: EventBatch) -> EventAck:
        answer = post_json(
            self.url,
            msgspec.json.encode(batch),
            timeout_s=self._timeout_s,
            basic_auth=self._auth,
            headers={FEATURES_HEADER: ",".join(AGENT_FEATURES)},
        )
        if answer.status == 200:
            try:
                return msgspec.json.decode(answer.body, type=EventAck)
            except msgspec.DecodeError as exc:
                raise TransportError(f"unreadable acknowledgement from {self.url}: {exc}") from exc
        code, message = answer.error()
        if answer.status in (401, 403):
            raise CredentialsRefused(f"{code}: {message}")
        # 422: the body itself failed validation; the same bytes would fail again, so it is
        # poison, whatever code a controller version gives it.
        if code == POISON_ERROR or answer.status == 422:
            raise BatchRejected(code, message)
        raise TransportError(f"{self.url} answered {answer.status} {code}: {message}")

    def pending_commands(self) -> list[Any]:
        """``GET …/agent/commands``: the commands waiting for this device, as parsed JSON.

        Each item is checked by the command runner, not here, so one bad item does not hide the
        others.
        """
        answer = get_json(self.commands_url, timeout_s=self._timeout_s, basic_auth=self._auth)
        if answer.status != 200:
            code, message = answer.error()
            if answer.status in (401, 403):
                raise CredentialsRefused(f"{code}: {message}")
            raise TransportError(f"{self.commands_url} answered {answer.status} {code}: {message}")
        try:
            commands = msgspec.json.decode(answer.body)
        except msgspec.DecodeError as exc:
            raise TransportError(f"unreadable command list from {self.commands_url}") from exc
        if not isinstance(commands, list):
            raise TransportError(f"{self.commands_url} did not answer a list")
        return commands

    def release(self, version: str) -> AgentRelease:
        """``GET …/agent/releases/<version>``: the wheel the controller serves for it."""
        url = f"{self.releases_url}/{urllib.parse.quote(version)}"
        answer = get_json(url, timeout_s=self._timeout_s, basic_auth=self._auth)
        if answer.status != 200:
            code, message = answer.error()
            raise TransportError(f"{url} answered {answer.status} {code}: {message}")
        try:
            return msgspec.json.decode(answer.body, type=AgentRelease)
        except msgspec.DecodeError as exc:
            raise TransportError(f"unreadable release from {url}: {exc}") from exc

    def download_release(self, version: str, target: Path) -> None:
        """``GET …/agent/releases/<version>/wheel`` into ``target``, streamed (the caller checks
        its digest against :meth:`release`)."""
        url = f"{self.releases_url}/{urllib.parse.quote(version)}/wheel"
        pair = f"{self._auth[0]}:{self._auth[1]}".encode()
        request = urllib.request.Request(  # noqa: S310 (checked: the controller's http(s) URL)
            url, headers={"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        )
        try:
            with (
                urllib.request.urlopen(request, timeout=self._timeout_s) as response,  # noqa: S310
                target.open("wb") as out,
            ):
                shutil.copyfileobj(response, out, 1 << 20)
        except urllib.error.HTTPError as exc:
            with exc:
                raise TransportError(f"{url} answered {exc.code}") from exc
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise TransportError(f"cannot download {url}: {getattr(exc, 'reason', exc)}") from exc

    def new_secret(self) -> str | None:
        """``POST …/agent/secret``: the device's next secret, or None if nobody asks for one
        any more (409). It is valid beside the current one until it is first used."""
        answer = post_json(self.secret_url, b"{}", timeout_s=self._timeout_s, basic_auth=self._auth)
        if answer.status == 200:
            try:
                return msgspec.json.decode(answer.body, type=NewSecret).device_secret
            except msgspec.DecodeError as exc:
                raise TransportError(f"unreadable answer from {self.secret_url}: {exc}") from exc
        code, message = answer.error()
        if answer.status == 409:
            return None
        if answer.status in (401, 403):
            raise CredentialsRefused(f"{code}: {message}")
        raise TransportError(f"{self.secret_url} answered {answer.status} {code}: {message}")

    def claim(self, command_id: str) -> ClaimAnswer:
        """``POST …/agent/commands/<id>/claim``: 200 is the answer, 404/409/410 a refusal."""
        url = f"{self.commands_url}/{urllib.parse.quote(command_id, safe='')}/claim"
        answer = post_json(url, b"{}", timeout_s=self._timeout_s, basic_auth=self._auth)
        if answer.status == 200:
            try:
                return msgspec.json.decode(answer.body, type=ClaimAnswer)
            except msgspec.DecodeError as exc:
                raise TransportError(f"unreadable claim answer from {url}: {exc}") from exc
        code, message = answer.error()
        if answer.status in CLAIM_REFUSALS:
            reason = code if code in ("expired", "claimed", "cancelled", "unknown") else None
            return ClaimAnswer(
                ok=False, reason=reason or CLAIM_REFUSALS[answer.status], message=message
            )
        if answer.status in (401, 403):
            raise CredentialsRefused(f"{code}: {message}")
        raise TransportError(f"{url} answered {answer.status} {code}: {message}")


# -- Socket.IO ----------------------------------------------------------------------------------


class SocketIOChannel:
    """A persistent Socket.IO connection to namespace ``/agent`` (WebSocket transport only).

    Reconnection is :class:`ControllerLink`'s job (with its own backoff), so the client's built-in
    reconnection is off. ``on_disconnect`` is called from the client's thread when the connection
    drops, so the agent can wake up and reconnect.
    """

    name = "Socket.IO"

    def __init__(
        self,
        controller_url: str,
        device_id: str,
        secret: str,
        *,
        timeout_s: float = 10,
        on_disconnect: Callable[[], None] | None = None,
    ):
        parts = urllib.parse.urlsplit(controller_url)
        self.url = f"{parts.scheme}://{parts.netloc}"
        # A controller behind a path prefix (https://city.example/borne) serves /borne/socket.io.
        self.socketio_path = (parts.path.strip("/") + "/socket.io").lstrip("/")
        self._auth = {
            "device_id": device_id,
            "secret": secret,
            "protocol": PROTOCOL_VERSION,
            FEATURES_AUTH_KEY: list(AGENT_FEATURES),
        }
        self._timeout_s = timeout_s
        self.on_disconnect = on_disconnect
        self._handlers: dict[str, Callable[..., Any]] = {}
        self._client: Any = None
        self._refusal: str | None = None

    @property
    def connected(self) -> bool:
        client = self._client
        return client is not None and client.connected and AGENT_NAMESPACE in client.namespaces

    def use_secret(self, secret: str) -> None:
        """Authenticate with the device's new secret at the next connection."""
        self._auth = {**self._auth, "secret": secret}

    def on(self, event: str, handler: Callable[..., Any]) -> None:
        """Handle a server event on ``/agent`` (commands, later); kept across reconnections."""
        self._handlers[event] = handler

    def connect(self) -> None:
        """Open the connection; raises :class:`CredentialsRefused` or :class:`TransportError`."""
        import socketio  # the heaviest import of the agent: only when it runs

        self.close()
        client = socketio.Client(
            reconnection=False, logger=False, engineio_logger=False, handle_sigint=False
        )
        self._refusal = None
        client.on("connect_error", self._remember_refusal, namespace=AGENT_NAMESPACE)
        client.on("disconnect", self._disconnected, namespace=AGENT_NAMESPACE)
        for event, handler in self._handlers.items():
            client.on(event, handler, namespace=AGENT_NAMESPACE)
        try:
            client.connect(
                self.url,
                auth=self._auth,
                transports=["websocket"],
                namespaces=[AGENT_NAMESPACE],
                socketio_path=self.socketio_path,
                wait_timeout=self._timeout_s,
            )
        except socketio.exceptions.ConnectionError as exc:
            # The server answered but turned the namespace down: its connect handler refused us.
            if client.failed_namespaces:
                raise CredentialsRefused(self._refusal or str(exc)) from exc
            raise TransportError(f"cannot connect to {self.url}: {exc}") from exc
        self._client = client

    def send(self, batch: EventBatch) -> EventAck:
        import socketio

        client = self._client
        if client is None:
            raise TransportError("not connected")
        try:
            answer = client.call(
                EVENTS_EVENT, to_builtins(batch), namespace=AGENT_NAMESPACE, timeout=self._timeout_s
            )
        except socketio.exceptions.TimeoutError as exc:
            raise TransportError(f"no acknowledgement within {self._timeout_s} s") from exc
        except socketio.exceptions.SocketIOError as exc:
            raise TransportError(f"Socket.IO send failed: {exc or type(exc).__name__}") from exc
        if isinstance(answer, dict) and "error" in answer:
            code, message = str(answer["error"]), str(answer.get("message", ""))
            if code == POISON_ERROR:
                raise BatchRejected(code, message)
            raise TransportError(f"controller error {code}: {message}")
        try:
            ack = from_builtins(answer, EventAck)
        except msgspec.ValidationError as exc:
            raise TransportError(f"unreadable acknowledgement {answer!r}: {exc}") from exc
        assert isinstance(ack, EventAck)
        return ack

    def claim(self, command_id: str) -> ClaimAnswer:
        """``call("claim", ClaimRequest)``; raises :class:`TransportError` without an answer."""
        import socketio

        client = self._client
        if client is None:
            raise TransportError("not connected")
        request = to_builtins(ClaimRequest(command_id=command_id))
        try:
            answer = client.call(
                CLAIM_EVENT, request, namespace=AGENT_NAMESPACE, timeout=self._timeout_s
            )
        except socketio.exceptions.TimeoutError as exc:
            raise TransportError(f"no claim answer within {self._timeout_s} s") from exc
        except socketio.exceptions.SocketIOError as exc:
            raise TransportError(f"Socket.IO claim failed: {exc or type(exc).__name__}") from exc
        try:
            claim = from_builtins(answer, ClaimAnswer)
        except msgspec.ValidationError as exc:
            raise TransportError(f"unreadable claim answer {answer!r}: {exc}") from exc
        assert isinstance(claim, ClaimAnswer)
        return claim

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()

    def _remember_refusal(self, data: Any = None, *_: Any) -> None:
        if isinstance(data, dict):
            self._refusal = str(data.get("message") or data)
        elif data is not None:
            self._refusal = str(data)

    def _disconnected(self, *_: Any) -> None:
        if self.on_disconnect is not None:
            self.on_disconnect()


# -- Channel choice, backoff and draining the spool ---------------------------------------------


class ControllerLink:
    """Sends the spool's events in order over Socket.IO, or over HTTP while Socket.IO is down.

    :meth:`flush` never blocks longer than a connection attempt and a send per batch; it returns
    the :func:`time.monotonic` time at which it wants to be called again.

    Commands: Socket.IO pushes them (the channel's ``"command"`` handler, set by the agent); while
    Socket.IO is down, :meth:`flush` polls the HTTP fallback every ``command_poll_s`` and hands
    each item to ``on_command``. :meth:`claim` claims over whichever channel is up.

    Secret rotation: when an acknowledgement says ``rotate_secret``, :meth:`flush` fetches the new
    secret, has ``keep_secret`` save it (it must be durable when it returns), then uses it on
    both channels, reconnecting Socket.IO so that the controller sees it at once (its first use
    retires the old one). Should anything fail before it is saved, the old secret still works
    and the next acknowledgement asks again.
    """

    def __init__(
        self,
        spool: Spool,
        socket: SocketIOChannel,
        http: HttpChannel,
        *,
        backoff_min_s: float = 1.0,
        backoff_max_s: float = 60.0,
        command_poll_s: float = 10.0,
        on_command: Callable[[Any], None] | None = None,
        keep_secret: Callable[[str], object] | None = None,
        on_acknowledged: Callable[[], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._spool = spool
        self._socket = socket
        self._http = http
        self._clock = clock
        self.command_poll_s = command_poll_s
        self.on_command = on_command
        self.keep_secret = keep_secret
        # Called after each batch the controller acknowledged: it has accepted this device and
        # stored what it sent (an upgraded agent's proof that it came back, agent/upgrade.py).
        self.on_acknowledged = on_acknowledged
        self._poll_at = 0.0
        self._new_secret_asked = False
        self._new_secret_at = 0.0
        self._new_secret_backoff = Backoff(backoff_min_s, backoff_max_s)
        self._connect_backoff = Backoff(backoff_min_s, backoff_max_s)
        self._send_backoff = Backoff(backoff_min_s, backoff_max_s)
        self._connect_at = 0.0
        self._send_at = 0.0
        self._refused = False
        self._was_connected = False
        self._last_channel: str | None = None
        # After the controller refused a batch as invalid: its events go one by one up to this
        # seq, so that only the faulty ones are set aside (0: whole batches).
        self._one_by_one_through = 0
        self._lock = threading.Lock()

    @property
    def refused(self) -> bool:
        """The controller turned our credentials down (until it accepts them again)."""
        return self._refused

    def flush(self) -> float:
        with self._lock:
            self._maybe_connect()
            self._drain()
            self._maybe_take_new_secret()
            self._maybe_poll_commands()
            return self._next_due()

    def claim(self, command_id: str) -> ClaimAnswer:
        """Claim a command over Socket.IO if it is up, else over HTTP (no link lock: a claim
        must not wait behind a long flush). Raises :class:`TransportError` without an answer."""
        if self._socket.connected:
            try:
                return self._socket.claim(command_id)
            except TransportError as exc:  # dropped meanwhile: HTTP may still get through
                log.warning("claim over Socket.IO failed (%s); trying HTTP", exc)
        return self._http.claim(command_id)

    def _maybe_poll_commands(self) -> None:
        if self.on_command is None or self._socket.connected or self._refused:
            return
        now = self._clock()
        if now < self._poll_at:
            return
        self._poll_at = now + self.command_poll_s
        try:
            commands = self._http.pending_commands()
        except TransportError as exc:
            log.debug("polling commands over HTTP failed: %s", exc)
            return
        for command in commands:
            self.on_command(command)

    def _maybe_take_new_secret(self) -> None:
        if not self._new_secret_asked or self._refused:
            return
        now = self._clock()
        if now < self._new_secret_at:
            return
        self._new_secret_asked = False
        if self.keep_secret is None:
            log.warning("the controller asks for a new device secret; nothing here keeps one")
            return
        try:
            secret = self._http.new_secret()
        except CredentialsRefused as exc:
            self._credentials_refused(exc)
            return
        except TransportError as exc:
            self._new_secret_later(now, f"fetching the new device secret failed: {exc}")
            return
        if secret is None:
            log.info("the controller no longer asks for a new device secret")
            return
        try:
            self.keep_secret(secret)
        except Exception as exc:  # a full or read-only disk: the old secret still works
            self._new_secret_later(now, f"could not save the new device secret ({exc})")
            return
        self._new_secret_backoff.reset()
        self._http.use_secret(secret)
        self._socket.use_secret(secret)
        log.info("new device secret saved; the controller refuses the old one once it sees it")
        if self._socket.connected:  # reconnect now: the connection shows the new one
            self._socket.close()
            self._was_connected = False  # on purpose, not a lost connection
            self._maybe_connect()

    def _new_secret_later(self, now: float, why: str) -> None:
        delay = self._new_secret_backoff.next_delay()
        self._new_secret_at = now + delay
        log.warning(
            "%s; keeping the current one, which still works; next try in %.1f s", why, delay
        )

    def close(self) -> None:
        with self._lock:
            self._socket.close()

    def _maybe_connect(self) -> None:
        if self._socket.connected:
            return
        if self._was_connected:
            log.warning("Socket.IO connection to the controller lost")
            self._was_connected = False
        now = self._clock()
        if now < self._connect_at:
            return
        try:
            self._socket.connect()
        except CredentialsRefused as exc:
            self._credentials_refused(exc)
            return
        except TransportError as exc:
            delay = self._connect_backoff.next_delay()
            self._connect_at = now + delay
            log.warning("%s; HTTP fallback meanwhile, next try in %.1f s", exc, delay)
            return
        self._connect_backoff.reset()
        self._send_backoff.reset()
        self._send_at = 0.0
        self._refused = False
        self._was_connected = True
        log.info("connected to the controller over Socket.IO at %s", self._socket.url)

    def _next_batch(self) -> EventBatch | None:
        if not self._one_by_one_through:
            return self._spool.pending_batch()
        batch = self._spool.pending_batch(limit=1)
        if batch is None or batch.events[0].seq > self._one_by_one_through:
            self._one_by_one_through = 0
            return self._spool.pending_batch()
        return batch

    def _set_aside(self, batch: EventBatch, exc: BatchRejected) -> None:
        """The controller refused the batch as invalid: resending it cannot help. Its events
        go again one by one, so that only the faulty ones are dropped (logged: type and seq,
        never their content) and the others still count."""
        first, last = batch.events[0].seq, batch.events[-1].seq
        if len(batch.events) > 1:
            log.warning(
                "controller rejected events %d..%d as invalid (%s); sending them one by one "
                "to set aside only the faulty ones",
                first,
                last,
                exc.message,
            )
            self._one_by_one_through = last
            return
        event = batch.events[0]
        log.error(
            "controller rejected event %d (%s) as invalid (%s); set it aside so later events "
            "can go",
            first,
            type(event).__struct_config__.tag,
            exc.message,
        )
        self._spool.discard(batch)

    def _continue_after(self, controller_seq: int, batch: EventBatch) -> None:
        """The controller acknowledged beyond what this device sent: it knows a longer history
        of this device than the spool does, which was lost. Nothing it sent was stored (taken
        for replays): its events are numbered after the controller's and sent again."""
        moved = self._spool.continue_after(controller_seq)
        log.warning(
            "the controller holds events up to %d while this spool restarted at %d (lost or "
            "reset): numbered the waiting events after it (+%d) and sending them again",
            controller_seq,
            batch.events[0].seq,
            moved,
        )

    def _drain(self) -> None:
        while self._clock() >= self._send_at:
            batch = self._next_batch()
            if batch is None:
                return
            channel: SocketIOChannel | HttpChannel
            if self._socket.connected:
                channel = self._socket
            elif self._refused:
                return
            else:
                channel = self._http
            try:
                ack = channel.send(batch)
            except BatchRejected as exc:
                self._set_aside(batch, exc)
                continue
            except CredentialsRefused as exc:
                self._credentials_refused(exc)
                return
            except TransportError as exc:
                delay = self._send_backoff.next_delay()
                self._send_at = self._clock() + delay
                log.warning(
                    "sending over %s failed: %s; next try in %.1f s", channel.name, exc, delay
                )
                return
            if ack.acked_seq > batch.events[-1].seq:
                self._continue_after(ack.acked_seq, batch)
                continue
            removed = self._spool.ack(ack.acked_seq)
            if channel.name != self._last_channel:
                log.info("sending events over %s", channel.name)
                self._last_channel = channel.name
            log.debug(
                "sent %d events over %s, acked up to %d (%d stored, %d duplicates)",
                len(batch.events),
                channel.name,
                ack.acked_seq,
                ack.stored,
                ack.duplicates,
            )
            self._refused = False
            if self.on_acknowledged is not None:
                self.on_acknowledged()
            if ack.rotate_secret:
                self._new_secret_asked = True
            if removed == 0:  # the controller acknowledged nothing we hold: do not spin
                delay = self._send_backoff.next_delay()
                self._send_at = self._clock() + delay
                log.warning(
                    "controller acked up to %d, which frees nothing in the spool (oldest %d); "
                    "next try in %.1f s",
                    ack.acked_seq,
                    batch.events[0].seq,
                    delay,
                )
                return
            self._send_backoff.reset()

    def _credentials_refused(self, exc: Exception) -> None:
        delay = self._connect_backoff.max_delay()
        self._connect_at = self._send_at = self._clock() + delay
        self._refused = True
        log.error(
            "the controller refused this device's credentials (%s): enrol it again with "
            "'borne agent enrol --force'; next try in %.0f s",
            exc,
            delay,
        )

    def _next_due(self) -> float:
        due = math.inf
        if not self._socket.connected:
            due = min(due, self._connect_at)
            if self.on_command is not None and not self._refused:
                due = min(due, self._poll_at)
        if len(self._spool) and not self._refused:
            due = min(due, self._send_at)
        if self._new_secret_asked and not self._refused:
            due = min(due, self._new_secret_at)
        return due
