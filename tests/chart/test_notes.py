"""NOTES.txt: what `helm install` prints names the objects the chart really creates and commands that exist."""

from __future__ import annotations

import re
import shlex
import sys

from tests.chart.rendering import CHART, NAMESPACE, RELEASE, app_deployment, one, run, tool


def _notes(*args: str) -> str:
    out = run([tool("helm"), "install", RELEASE, str(CHART), "--namespace", NAMESPACE, "--dry-run=client",
               *args]).stdout
    return out.split("NOTES:", 1)[1]


def test_notes_name_the_rendered_objects(defaults) -> None:
    notes = _notes()
    assert f"deployment/{app_deployment(defaults)['metadata']['name']}" in notes
    service = one(defaults, "Service", f"{RELEASE}-execution")
    port = service["spec"]["ports"][0]["port"]
    assert f"svc/{service['metadata']['name']} {port}:{port}" in notes
    assert f"helm test {RELEASE} -n {NAMESPACE}" in notes
    assert "TESTNET" not in notes


def test_notes_send_command_is_accepted_by_the_cli() -> None:
    notes = _notes()
    line = re.search(r"python -m app send [^\n]+", notes).group(0)
    args = shlex.split(line)[3:]
    help_text = run([sys.executable, "-m", "app", "send", "--help"]).stdout
    for flag in (a for a in args if a.startswith("--")):
        assert flag in help_text, flag


def test_notes_follow_mode_and_monitoring() -> None:
    notes = _notes("--set", "config.EXECUTION_MODE=TESTNET", "--set", "serviceMonitor.enabled=true",
                   "--set", "serviceMonitor.additionalLabels.release=kps")
    assert "TESTNET mode reads BINANCE_API_KEY" in notes
    assert '{"release":"kps"}' in notes
