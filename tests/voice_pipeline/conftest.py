"""Fixtures of the voice_pipeline tests; they live in harness.py so that test
modules can import its helpers (`require_tool`, `speak`, ...) by name."""

from tests.voice_pipeline.harness import require_tool, speak, start_service

__all__ = ["require_tool", "speak", "start_service"]
