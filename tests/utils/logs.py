"""Capturing the service's JSON log lines in a test."""

from __future__ import annotations

import io
import logging
from typing import Iterator

import pytest


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """A stream for our logging on the root logger during one test; pytest's handlers come back after."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    stream = io.StringIO()
    yield stream
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
