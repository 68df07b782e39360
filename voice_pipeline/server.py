"""The HTTP and WebSocket service.

It uses aiohttp because that one small dependency gives both HTTP and
WebSocket, with no separate ASGI server to install, configure and start.

Endpoints: `/health`, `/version`, `/connect` (opens a session), `/test-page`
(a browser page that talks to the service), `/ws/{session}` (the audio
pipeline) and `/static/...` (the page's files and the sample speech).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import secrets
import signal
import time
from collections.abc import Sequence
from pathlib import Path

from aiohttp import WSMsgType, web

from voice_pipeline.engines import Engines
from voice_pipeline.frames import (
    SAMPLE_RATE,
    AudioFrame,
    ControlFrame,
    Frame,
    TextFrame,
)
from voice_pipeline.logs import quoted
from voice_pipeline.pipeline import Context, Pipeline, check_stages
from voice_pipeline.release import ReleaseRecord

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
AUDIO_FORMAT = {"format": "pcm_s16le", "sample_rate": SAMPLE_RATE, "channels": 1}


class Service:
    """The state of one running service: engines, sessions, draining."""

    def __init__(
        self, engines: Engines, stages: Sequence[str], release: ReleaseRecord
    ) -> None:
        self.engines = engines
        self.stages = check_stages(stages)
        self.release = release
        self.started = time.monotonic()
        self.started_at = _now()
        self.offered: set[str] = set()
        """Sessions opened by /connect whose WebSocket has not come yet."""
        self.active: dict[str, web.WebSocketResponse] = {}
        """Sessions with an open WebSocket."""
        self.draining = False
        self.idle = asyncio.Event()
        self.idle.set()

    def app(self) -> web.Application:
        """The aiohttp application with every route."""
        app = web.Application()
        app.add_routes(
            [
                web.get("/health", self.health),
                web.get("/version", self.version),
                web.get("/connect", self.connect),
                web.get("/test-page", self.test_page),
                web.get("/ws/{session}", self.websocket),
                web.static("/static", STATIC),
            ]
        )
        return app

    async def health(self, request: web.Request) -> web.Response:
        """200 when ready; 503 while engines load or while draining."""
        status = "ok"
        if self.draining:
            status = "draining"
        elif self.engines.loading:
            status = "starting"
        body = {
            "status": status,
            "uptime": round(time.monotonic() - self.started, 3),
            "release": self.release.read(),
            "sessions": len(self.active),
            "engines": self.engines.report(),
        }
        return web.json_response(body, status=200 if status == "ok" else 503)

    async def version(self, request: web.Request) -> web.Response:
        """The release this service runs and when it started."""
        return web.json_response({**self.release.read(), "started_at": self.started_at})

    async def connect(self, request: web.Request) -> web.Response:
        """Open a session and say how to reach its WebSocket."""
        if self.draining:
            return _refuse_draining()
        session = secrets.token_hex(4)
        self.offered.add(session)
        scheme = "wss" if request.secure else "ws"
        log.info("session=%s offered", session)
        return web.json_response(
            {
                "session": session,
                "websocket": f"{scheme}://{request.host}/ws/{session}",
                "audio": AUDIO_FORMAT,
            }
        )

    async def test_page(self, request: web.Request) -> web.FileResponse:
        """The browser page that talks to the service."""
        return web.FileResponse(STATIC / "test-page.html")

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        """Run one session: audio in, transcripts, replies and audio out."""
        session = request.match_info["session"]
        if self.draining:
            return _refuse_draining()
        if session not in self.offered:
            raise web.HTTPNotFound(text="unknown session: open one with /connect")
        self.offered.discard(session)
        socket = web.WebSocketResponse(heartbeat=30)
        await socket.prepare(request)
        self.active[session] = socket
        self.idle.clear()
        log.info("session=%s opened", session)
        started = time.monotonic()
        try:
            await Session(session, socket, self).run()
        finally:
            del self.active[session]
            if not self.active:
                self.idle.set()
            log.info(
                "session=%s closed ms=%d", session, (time.monotonic() - started) * 1000
            )
        return socket


class Session:
    """One WebSocket session and its own pipeline."""

    def __init__(
        self, session: str, socket: web.WebSocketResponse, service: Service
    ) -> None:
        self.session = session
        self.socket = socket
        context = Context(session, service.engines, self.send)
        self.pipeline = Pipeline(service.stages, context)
        self.notices = _engine_notices(service.engines)

    async def run(self) -> None:
        """Read messages until the client closes; each goes down the pipeline."""
        await self.socket.send_json(
            {"type": "event", "event": "session", "session": self.session}
        )
        for notice in self.notices:
            await self.send(notice)
        async for message in self.socket:
            if message.type == WSMsgType.BINARY:
                await self._push(AudioFrame(message.data))
            elif message.type == WSMsgType.TEXT:
                await self._control(message.data)

    async def _control(self, data: str) -> None:
        try:
            command = json.loads(data)
            kind = command["type"]
        except (ValueError, KeyError, TypeError):
            await self.send(
                ControlFrame("error", {"message": "expected JSON with a type"})
            )
            return
        if kind in ("start", "end"):
            await self._push(ControlFrame(kind, command))
        elif kind == "text":
            await self._push(TextFrame(str(command.get("text", "")), "transcript"))
        else:
            await self.send(
                ControlFrame("error", {"message": f"unknown message type {kind!r}"})
            )

    async def _push(self, frame: Frame) -> None:
        try:
            await self.pipeline.push(frame)
        except ValueError as error:
            await self.send(ControlFrame("error", {"message": str(error)}))
        except Exception as error:
            log.exception(
                "session=%s error message=%s", self.session, quoted(str(error))
            )
            await self.send(
                ControlFrame("error", {"message": f"pipeline failed: {error}"})
            )

    async def send(self, frame: Frame) -> None:
        """Deliver one frame to the client as JSON or framed binary audio."""
        if self.socket.closed:
            return
        if isinstance(frame, TextFrame):
            await self.socket.send_json({"type": frame.role, "text": frame.text})
        elif isinstance(frame, AudioFrame):
            header = {
                "type": "audio",
                "sample_rate": frame.sample_rate,
                "bytes": len(frame.pcm),
            }
            await self.socket.send_json(header)
            await self.socket.send_bytes(frame.pcm)
        elif frame.kind == "error":
            await self.socket.send_json({"type": "error", **frame.data})
        else:
            await self.socket.send_json({"type": "event", **frame.data})


def _engine_notices(engines: Engines) -> list[Frame]:
    """Tell a new session which engines it will go without."""
    notices: list[Frame] = []
    for name, status in engines.report().items():
        if not status["available"]:
            event = {
                "event": "engine_unavailable",
                "engine": name,
                "detail": status["detail"],
            }
            notices.append(ControlFrame("event", event))
    return notices


def _refuse_draining() -> web.Response:
    return web.json_response(
        {"status": "draining", "message": "the service is stopping; try another pod"},
        status=503,
    )


def _now() -> str:
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


async def serve(service: Service, host: str, port: int, drain_timeout: float) -> None:
    """Serve until SIGTERM or SIGINT, then drain the sessions and stop."""
    runner = web.AppRunner(service.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    log.info("listening url=http://%s:%s", bound[0], bound[1])
    service.engines.start_loading()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()

    await drain(service, drain_timeout)
    await runner.cleanup()
    log.info("stopped")


async def drain(service: Service, timeout: float) -> None:
    """Refuse new sessions and give the active ones `timeout` s to finish."""
    service.draining = True
    log.info("draining sessions=%d timeout=%s", len(service.active), timeout)
    try:
        await asyncio.wait_for(service.idle.wait(), timeout)
    except TimeoutError:
        log.warning("drain timeout sessions=%d closing them", len(service.active))
    for socket in list(service.active.values()):
        await socket.close(message=b"service stopping")
