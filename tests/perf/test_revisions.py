"""bench/revisions.py: another commit's tree in a temporary worktree, removed after, also on failure."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bench.revisions import checkout


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository of two commits: ``app.txt`` says "before", then "after"."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    for text in ("before", "after"):
        (repo / "app.txt").write_text(text)
        git(repo, "add", "app.txt")
        git(repo, "commit", "-q", "-m", text)
    return repo


def test_the_tree_of_the_ref_then_gone(repo: Path) -> None:
    with checkout(repo, "HEAD~1") as tree:
        assert (tree / "app.txt").read_text() == "before"
        assert (repo / "app.txt").read_text() == "after"
        assert git(tree, "rev-parse", "HEAD") == git(repo, "rev-parse", "HEAD~1")
    assert not tree.exists()
    assert git(repo, "worktree", "list").count("\n") == 0  # only the main tree is left


def test_removed_when_the_variant_fails(repo: Path) -> None:
    with pytest.raises(RuntimeError), checkout(repo, "HEAD") as tree:
        assert tree.is_dir()
        raise RuntimeError("consumer died")
    assert not tree.exists()
    assert git(repo, "worktree", "list").count("\n") == 0


def test_an_unknown_ref_is_refused_before_any_checkout(repo: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError):
        with checkout(repo, "no-such-ref"):
            pass
    assert git(repo, "worktree", "list").count("\n") == 0
