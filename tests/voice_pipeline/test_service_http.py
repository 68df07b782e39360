"""The service's HTTP endpoints, on a real running service."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from tests.voice_pipeline.harness import StartService

STAMP = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [A-Z]+ "


async def test_health_is_ok_with_engines_and_release(
    start_service: StartService,
) -> None:
    service = await start_service()
    async with httpx.AsyncClient(base_url=service.url) as client:
        response = await client.get("/health")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert body["sessions"] == 0
    assert set(body["engines"]) == {"stt", "tts", "vad"}
    assert body["release"]["commit"] is None


async def test_version_reports_the_release_file_and_its_changes(
    start_service: StartService, tmp_path: Path
) -> None:
    record = tmp_path / "release.json"
    release = {
        "commit": "abc123",
        "dirty": True,
        "requirements_hash": "f00",
        "deployed_at": "2026-12-03T18:00:00Z",
        "deployed_by": "ana",
    }
    record.write_text(json.dumps(release))
    service = await start_service(env={"PODTUI_RELEASE_FILE": str(record)})
    async with httpx.AsyncClient(base_url=service.url) as client:
        first = (await client.get("/version")).json()
        record.write_text(json.dumps({**release, "commit": "def4567890"}))
        second = (await client.get("/version")).json()
    assert first["commit"] == "abc123" and first["deployed_by"] == "ana"
    assert first["started_at"].endswith("Z")
    assert second["commit"] == "def4567890"


async def test_connect_offers_a_session_with_websocket_url_and_audio_format(
    start_service: StartService,
) -> None:
    service = await start_service()
    async with httpx.AsyncClient(base_url=service.url) as client:
        offer = (await client.get("/connect")).json()
    host = service.url.removeprefix("http://")
    assert offer["websocket"] == f"ws://{host}/ws/{offer['session']}"
    assert offer["audio"] == {
        "format": "pcm_s16le",
        "sample_rate": 16000,
        "channels": 1,
    }


async def test_test_page_and_sample_speech_are_served(
    start_service: StartService,
) -> None:
    service = await start_service()
    async with httpx.AsyncClient(base_url=service.url) as client:
        page = await client.get("/test-page")
        sample = await client.get("/static/sample.wav")
    assert page.status_code == 200 and "Send sample speech" in page.text
    assert sample.status_code == 200 and sample.content[:4] == b"RIFF"


async def test_every_log_line_starts_with_an_iso_timestamp(
    start_service: StartService,
) -> None:
    service = await start_service()
    lines = service.log_file.read_text().splitlines()
    assert any("listening url=" in line for line in lines)
    assert all(re.match(STAMP, line) for line in lines)


async def test_unknown_pipeline_stage_is_refused_with_a_clear_error(
    start_service: StartService,
) -> None:
    service = start_service("--stages", "input,vad,translate,output", wait_ready=False)
    try:
        await service
    except AssertionError as error:
        assert "unknown pipeline stage translate" in str(error)
    else:
        raise AssertionError("the service started with an unknown stage")
