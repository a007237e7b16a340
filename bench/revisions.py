"""Another commit's tree for a bench variant (``service@<git ref>``): a detached git worktree.

Before and after are measured in one run on one machine, so the ratio between them holds even
when the machine's speed moves between runs. The tree is checked out in a temporary directory and
removed when the variant ends, also when it fails; it shares the repository's objects, so it
costs a checkout, not a clone.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


@contextmanager
def checkout(repo: Path, ref: str) -> Iterator[Path]:
    """The tree of ``ref`` (any commit-ish) in a temporary directory, for the duration of the block."""
    commit = _git(repo, "rev-parse", "--verify", ref + "^{commit}")
    with tempfile.TemporaryDirectory(prefix="bench-rev-") as parent:
        tree = Path(parent) / commit[:12]
        _git(repo, "worktree", "add", "--detach", str(tree), commit)
        try:
            yield tree
        finally:
            _git(repo, "worktree", "remove", "--force", str(tree))
