"""docs/configuration.md documents every setting, with the default the code really has."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path

import pytest

from app.config import Settings

DOC = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
ROWS = dict(re.findall(r"^\| `([A-Z0-9_]+)` \| ([^|]+) \|", DOC, re.M))  # variable -> default cell


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    assert name.upper() in ROWS, f"{name.upper()} is missing from docs/configuration.md"


def test_no_documented_variable_is_unknown() -> None:
    assert set(ROWS) == {name.upper() for name in Settings.model_fields}


def as_text(value: object) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_documented_defaults_match_the_code(name: str) -> None:
    field = Settings.model_fields[name]
    cell = ROWS[name.upper()].strip()
    if field.default_factory is not None:
        assert "`" not in cell, f"{name.upper()}: computed default should be described, not given as a literal"
        return
    if field.default is None:
        assert cell == "unset" or cell.startswith("`<"), f"{name.upper()} has no default; the doc says {cell}"
        return
    literal = re.match(r"`([^`]*)`", cell)
    assert literal, f"{name.upper()}: give the default as a literal"
    assert literal.group(1) == as_text(field.default), f"{name.upper()}: doc {literal.group(1)}, code {field.default}"


@pytest.mark.parametrize("secret", ["BINANCE_API_KEY", "BINANCE_API_SECRET", "REDIS_PASSWORD", "ADMIN_TOKEN"])
def test_secrets_are_named_as_secrets(secret: str) -> None:
    assert f"`{secret}`" in DOC.split("## Redis")[0], "the introduction lists every secret"
