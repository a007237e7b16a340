"""The secret check the reliability runs end with can fail: it finds each secret however it is spelled."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.reliability.leaks import Page, Secrets, find_leaks

SECRETS = Secrets()


@pytest.mark.parametrize("name", list(vars(SECRETS)))
def test_each_secret_is_found_raw_url_encoded_json_escaped_or_as_its_core(name: str) -> None:
    value = getattr(SECRETS, name)
    spellings = {
        "raw": f"connecting with {value} now",
        "url": f"redis://:{quote(value, safe='')}@127.0.0.1:6379/0",
        "json": json.dumps({"message": f"key {value}"}),
        "core": f"signed with …{value.split('-', 1)[1]}",
        "page": Page(500, f"<pre>{value}</pre>"),
    }
    assert find_leaks(SECRETS, spellings) == sorted(f"{name} in {where}" for where in spellings)


def test_text_without_secrets_passes() -> None:
    assert find_leaks(SECRETS, {"log": "password=[REDACTED] api_key=********** token=<REDACTED>"}) == []
