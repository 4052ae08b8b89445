"""The versioned artifact folder: atomic, idempotent, names cannot escape."""

from __future__ import annotations

import pytest

from gosales_assets.lib.artifacts import ArtifactStore, slug


def test_put_get_idempotent(tmp_path):
    store = ArtifactStore(tmp_path)
    first = store.put("models", "Success Plan", "abc123", {"model.bin": b"x"})
    again = store.put("models", "Success Plan", "abc123", {"model.bin": b"x"})
    assert first == again
    assert store.get("models", "Success Plan", "abc123", "model.bin") == b"x"
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".")]


def test_names_are_safe_and_distinct(tmp_path):
    assert slug("Success Plan") != slug("Success_Plan")
    assert "/" not in slug("../../etc")
    store = ArtifactStore(tmp_path)
    with pytest.raises(ValueError):
        store.put("models", "x", "../evil", {"a": b""})
    with pytest.raises(ValueError):
        store.put("models", "x", "v1", {"../a": b""})


def test_missing_artifact_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="re-materialize"):
        ArtifactStore(tmp_path).get("models", "x", "v1", "model.bin")
