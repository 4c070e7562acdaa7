"""Helpers shared by the config tests (tests/unit/config/test_*.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from vio_sbc.config import Config, parse_config_text
from vio_sbc.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]


def parse(text: str, env: dict[str, str] | None = None) -> Config:
    return parse_config_text(textwrap.dedent(text), "vio.yaml", env={} if env is None else env)


def errors(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(text, env)
    return [str(issue) for issue in info.value.issues]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path
