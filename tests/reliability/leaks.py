"""Looking for what must never be in a run's output: secrets in logs, HTTP answers, results and
exception texts, and ERROR lines for faults the service is built to handle.

Each run uses distinctive secret values; a leak is any of them found in any text collected, raw,
URL-encoded (inside a DSN), JSON-escaped, or just its random core (a partial print).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, Mapping, NamedTuple
from urllib.parse import quote

import redis

from tests.utils.service import ServiceProcess

# GET endpoints whose answers could carry a secret (settings, errors, exchange state, books).
PAGES = ("/", "/health", "/readyz", "/livez", "/status", "/positions", "/trades?limit=1000",
         "/orders?limit=1000", "/orders?status=open", "/metrics", "/openapi.json")


@dataclass(frozen=True)
class Secrets:
    api_key: str = "relKEY-8Tq3Vw6Zx1Lm4Np7"
    api_secret: str = "relSECRET-Hd5Kf2Rj9Ws3Yb6C"
    admin_token: str = "relADMIN-Qe4Tg7Uk1Xo8Ia5Z"
    redis_password: str = "relREDIS-Pv2/Nc6+Bm9=Lz3"

    def forms(self) -> dict[str, str]:
        """Every spelling to look for, named by which secret it is."""
        out: dict[str, str] = {}
        for name, value in vars(self).items():
            core = value.split("-", 1)[1]
            for form in (value, quote(value, safe=""), json.dumps(value)[1:-1], core, quote(core, safe="")):
                out[form] = name
        return out

    def service_env(self) -> dict[str, str]:
        return {"BINANCE_API_KEY": self.api_key, "BINANCE_API_SECRET": self.api_secret,
                "ADMIN_TOKEN": self.admin_token}


class Page(NamedTuple):
    status: int        # 0: no HTTP answer
    text: str


def find_leaks(secrets: Secrets, texts: Mapping[str, str | Page]) -> list[str]:
    """``"<secret name> in <where>"`` for every secret found; empty when nothing leaked."""
    forms = secrets.forms()
    return sorted({f"{name} in {where}" for where, text in texts.items() for form, name in forms.items()
                   if form in (text.text if isinstance(text, Page) else text)})


def logged_errors(logs: Mapping[str, str]) -> list[str]:
    """ERROR lines in JSON logs: a fault the service is built to handle calls for warnings, not alerts."""
    return [line for text in logs.values() for line in text.splitlines() if '"level": "ERROR"' in line]


def pages(service: ServiceProcess, label: str = "") -> dict[str, Page]:
    """Every GET page of a running replica, whatever its status code."""
    out = {}
    for path in PAGES:
        try:
            response = service.get(path)
            out[f"{label or service.name} GET {path}"] = Page(response.status_code, response.text)
        except Exception as exc:  # a replica that cannot answer leaks nothing through this page
            out[f"{label or service.name} GET {path}"] = Page(0, f"no answer: {type(exc).__name__}: {exc}")
    return out


def streams(client: redis.Redis, names: Iterable[str] = ("execution.result", "trade.intent.dlq")) -> dict[str, str]:
    """Every entry of the result and dead-letter streams, as text."""
    out = {}
    for name in names:
        out[f"stream {name}"] = "\n".join(
            " ".join(part.decode(errors="replace") for pair in fields.items() for part in pair)
            for _id, fields in client.xrange(name))
    return out
