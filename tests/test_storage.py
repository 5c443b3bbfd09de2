"""The file storage: random keys, files outside static/, nothing reachable by a crafted key."""

from __future__ import annotations

import os
import stat

import pytest

from citoyen import storage as file_storage
from citoyen.storage import LocalStorage


def test_save_open_delete(tmp_path):
    store = LocalStorage(str(tmp_path / "uploads"))
    first, second = store.save(b"un"), store.save(b"un")
    assert first != second and len(first) >= 40
    assert store.read(first) == b"un"
    path = os.path.join(store.root, first[:2], first)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    store.delete(first)
    assert not store.exists(first) and store.exists(second)
    store.delete(first)  # deleting twice is harmless


@pytest.mark.parametrize("key", ["../../etc/passwd", "/etc/passwd", "", "a" * 65, "ab/../cd", "é"])
def test_a_crafted_key_reaches_nothing(tmp_path, key):
    store = LocalStorage(str(tmp_path))
    with pytest.raises(KeyError):
        store.open(key)


def test_files_go_under_the_instance_folder_unless_configured(tmp_path):
    assert file_storage.from_config({}, str(tmp_path)).root == str(tmp_path / "uploads")
    elsewhere = str(tmp_path / "ailleurs")
    assert file_storage.from_config({"UPLOAD_FOLDER": elsewhere}, "/x").root == elsewhere
