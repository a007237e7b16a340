"""Rendered chart output, once per values file per session (helm is the slow part)."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from tests.chart.rendering import VALUES_CASES, render_case

Docs = list[dict[str, Any]]


@pytest.fixture(scope="session")
def rendered() -> Callable[[str], Docs]:
    cache: dict[str, Docs] = {}

    def get(case: str) -> Docs:
        assert case in VALUES_CASES, f"unknown values case {case}"
        if case not in cache:
            cache[case] = render_case(case)
        return cache[case]

    return get


@pytest.fixture(scope="session")
def defaults(rendered: Callable[[str], Docs]) -> Docs:
    return rendered("defaults")
