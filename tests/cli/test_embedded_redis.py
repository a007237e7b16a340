"""`make run`'s embedded Redis: its second terminal needs no export, and an export of its address
does not leave a later `make run` waiting for a Redis nobody starts."""

from __future__ import annotations

import os

import pytest

from app.cli.common import cli_settings
from app.cli.serve import embedded_redis
from app.config import Settings, load_settings
from app.redis_server import LocalRedis, answers, embedded_url, free_port


@pytest.fixture(autouse=True)
def no_redis_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.lower() in Settings.model_fields:
            monkeypatch.delenv(name)


def test_send_and_results_use_the_embedded_redis_when_it_answers_and_none_is_named(redis_server: LocalRedis) -> None:
    embedded = embedded_url(redis_server.port)
    assert cli_settings(embedded).redis_dsn == embedded


def test_without_an_embedded_redis_they_use_the_settings_default() -> None:
    assert cli_settings(embedded_url(free_port())).redis_dsn == "redis://localhost:6379/0"


def test_a_redis_named_wins_over_the_embedded_one(monkeypatch: pytest.MonkeyPatch, redis_server: LocalRedis) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6379/2")
    assert cli_settings(embedded_url(redis_server.port)).redis_dsn == "redis://cache.internal:6379/2"


def test_make_run_starts_the_embedded_redis_when_none_is_named() -> None:
    port = free_port()
    embedded = embedded_redis(load_settings(), port)
    assert embedded is not None and embedded.port == port and embedded.password is None
    embedded.cleanup()


@pytest.mark.parametrize("password", [None, "p@ss/word"])
def test_make_run_starts_the_embedded_redis_that_an_exported_address_names(monkeypatch: pytest.MonkeyPatch,
                                                                          password: str | None) -> None:
    """The README's second terminal used to export REDIS_URL; `make run` from that shell, after the
    first one stopped, looped on 'redis unavailable' instead of starting its Redis."""
    port = free_port()
    auth = ":p%40ss%2Fword@" if password else ""
    monkeypatch.setenv("REDIS_URL", f"redis://{auth}127.0.0.1:{port}/0")
    settings = load_settings()
    embedded = embedded_redis(settings, port)
    assert embedded is not None
    try:
        embedded.start()
        assert answers(settings.redis_dsn)  # the service's own URL now reaches it
        assert embedded_redis(settings, port) is None  # and a second `make run` uses it rather than start another
    finally:
        embedded.cleanup()


def test_make_run_uses_a_redis_named_elsewhere_even_when_it_does_not_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("REDIS_HOST", "127.0.0.1")
    monkeypatch.setenv("REDIS_PORT", str(free_port()))
    assert embedded_redis(load_settings(), port) is None
