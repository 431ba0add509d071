"""Per-user state: one lock per account wherever the plan lives, named without the key;
a private plan-sealing key; the state folder can be moved by the environment."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from audit.core.errors import UsageError
from audit.core.secrets import Secret
from audit.core.userstate import ENV_STATE_DIR, SEAL_KEY_FILE, account_id, account_lock, seal_key
from audit.core.userstate import state_dir as user_state_dir

KEY = "sk_live_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
URL = "https://api.smallest.ai"


def test_the_state_folder_is_the_one_the_environment_names_and_is_private(state_dir: Path) -> None:
    assert os.environ[ENV_STATE_DIR] == str(state_dir)
    nested = state_dir / "a" / "b"
    assert user_state_dir({ENV_STATE_DIR: str(nested)}) == nested
    assert stat.S_IMODE(nested.stat().st_mode) == 0o700


def test_the_account_id_is_stable_per_account_and_never_holds_the_key() -> None:
    one = account_id(URL, Secret(KEY))
    assert one == account_id(URL + "/", Secret(KEY))  # the same account
    assert one != account_id("http://127.0.0.1:9", Secret(KEY)) and one != account_id(URL, Secret(KEY + "x"))
    assert KEY not in one and KEY[3:15] not in one and len(one) == 24


def test_one_apply_per_account_and_the_lock_file_name_does_not_hold_the_key(state_dir: Path) -> None:
    with account_lock(URL, Secret(KEY)):
        with pytest.raises(UsageError, match="another clone-audit apply is working on this account"):
            account_lock(URL + "/", Secret(KEY))
        account_lock(URL, Secret("sk_another_key_entirely")).close()  # another account is free
    account_lock(URL, Secret(KEY)).close()  # released
    names = [p.name for p in state_dir.rglob("*")]
    assert names and not any(KEY in n or KEY[3:] in n for n in names)
    assert not any(KEY.encode() in p.read_bytes() for p in state_dir.rglob("*") if p.is_file())


def test_the_seal_key_is_made_once_private_and_refused_when_others_can_read_it(state_dir: Path) -> None:
    assert seal_key(create=False) is None
    key = seal_key(create=True)
    assert key is not None and len(key) == 32 and seal_key(create=False) == key == seal_key(create=True)
    path = state_dir / SEAL_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in state_dir.iterdir()] == [SEAL_KEY_FILE]  # no temporary file left behind
    path.chmod(0o644)
    with pytest.raises(UsageError, match="can be read or changed by other users") as caught:
        seal_key(create=False)
    assert "chmod 600" in caught.value.hint
    path.chmod(0o600)
    path.write_bytes(b"short")
    with pytest.raises(UsageError, match="damaged"):
        seal_key(create=False)


def test_the_level_a_discovering_run_held_is_kept_per_account_without_the_key(state_dir: Path) -> None:
    from audit.core.userstate import remember_limit, remembered_limit

    assert remembered_limit(URL, Secret(KEY), 64) is None  # nothing kept yet: slow start
    remember_limit(URL, Secret(KEY), 10, True, "2026-11-23T02:00:00+00:00")
    assert remembered_limit(URL, Secret(KEY), 64) == 10
    assert remembered_limit(URL, Secret(KEY), 6) == 6  # never above this run's ceiling
    assert remembered_limit(URL, Secret(KEY + "x"), 64) is None  # another account starts afresh
    assert remembered_limit("https://other.example", Secret(KEY), 64) is None
    kept = list((state_dir / "limits").iterdir())
    assert len(kept) == 1 and KEY not in kept[0].name and KEY not in kept[0].read_text(encoding="utf-8")


@pytest.mark.parametrize("content", ["", "{", "[]", '{"limit": "ten"}', '{"limit": 0}', '{"limit": true}', "\x00\xff"])
def test_a_damaged_limit_file_only_costs_the_slow_start(state_dir: Path, content: str) -> None:
    from audit.core.userstate import remember_limit, remembered_limit

    remember_limit(URL, Secret(KEY), 5, False, "2026-11-23T02:00:00+00:00")
    (path,) = (state_dir / "limits").iterdir()
    path.write_text(content, encoding="utf-8", errors="surrogateescape")
    assert remembered_limit(URL, Secret(KEY), 64) is None


def test_a_state_folder_that_cannot_be_made_costs_a_scan_only_its_remembered_level(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from audit.core.userstate import remember_limit, remembered_limit

    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv(ENV_STATE_DIR, str(tmp_path / "a-file" / "state"))
    assert remembered_limit(URL, Secret(KEY), 64) is None
    remember_limit(URL, Secret(KEY), 4, True, "2026-11-23T02:00:00+00:00")  # no error either


AS_ROOT = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                             reason="giving a file to another user needs root")
STRANGER = 54321  # a uid no test runs as


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702, 0o720], ids=lambda m: f"{m:o}")
def test_a_state_folder_others_can_write_is_made_private_again_with_a_warning(
        state_dir: Path, mode: int, caplog: pytest.LogCaptureFixture) -> None:
    state_dir.chmod(mode)
    (state_dir / "locks").mkdir(mode=0o700)
    (state_dir / "locks").chmod(0o777)
    with caplog.at_level("WARNING", logger="audit.core.userstate"):
        account_lock(URL, Secret(KEY)).close()
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((state_dir / "locks").stat().st_mode) == 0o700
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert f"{state_dir} could be changed by other users" in warned and "locks could be changed" in warned


def test_a_state_folder_others_can_only_read_is_left_as_it_is(state_dir: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    state_dir.chmod(0o755)
    with caplog.at_level("WARNING", logger="audit.core.userstate"):
        assert user_state_dir() == state_dir
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o755 and not caplog.records


@AS_ROOT
def test_a_state_folder_of_another_user_is_refused(state_dir: Path) -> None:
    os.chown(state_dir, STRANGER, STRANGER)
    with pytest.raises(UsageError, match="belongs to another user") as caught:
        seal_key(create=True)
    assert caught.value.exit_code == 2 and ENV_STATE_DIR in caught.value.hint
    assert not (state_dir / SEAL_KEY_FILE).exists()


@AS_ROOT
def test_a_seal_key_of_another_user_is_refused(state_dir: Path) -> None:
    seal_key(create=True)
    os.chown(state_dir / SEAL_KEY_FILE, STRANGER, STRANGER)
    with pytest.raises(UsageError, match="belongs to another user"):
        seal_key(create=False)


def test_a_seal_key_that_is_a_link_is_refused(state_dir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "chosen.key"
    elsewhere.write_bytes(bytes(32))
    elsewhere.chmod(0o600)
    (state_dir / SEAL_KEY_FILE).symlink_to(elsewhere)
    with pytest.raises(UsageError, match="not a regular file"):
        seal_key(create=False)
