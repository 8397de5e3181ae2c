"""The fleet's pure rules and the token directory: user names, token hashes, no file outside
the directory; and the emulator's quota on its own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from groove_async.fleet import DirectoryTokens, TokenUnavailable, check_user, token_hash
from groove_async.testing import TokenQuota


@pytest.mark.parametrize("name", ["alice", "a.b@c-d_e", "0", "x" * 128])
def test_plain_user_names_are_accepted(name: str) -> None:
    assert check_user(name) == name


@pytest.mark.parametrize(
    "name", ["", ".", "..", ".hidden", "a/b", "../x", "a b", "x" * 129, "é", "a\0b", "a\nb"]
)
def test_anything_else_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="not a user name"):
        check_user(name)


def test_a_token_hash_does_not_hold_the_token() -> None:
    token = "secret-token-value"
    assert token not in token_hash(token) and token_hash(token) == token_hash(token)
    assert token_hash(token) != token_hash(token + "x")


async def test_the_token_directory_reads_a_file_when_asked(tmp_path: Path) -> None:
    (tmp_path / "alice").write_text("  first \n")
    tokens = DirectoryTokens(tmp_path)
    assert await tokens("alice") == "first"
    (tmp_path / "alice").write_text("second\n")  # an outside refresher rotated it
    assert await tokens("alice") == "second"
    assert "first" not in repr(tokens)


async def test_the_token_directory_opens_nothing_outside_it(tmp_path: Path) -> None:
    inside = tmp_path / "tokens"
    inside.mkdir()
    (tmp_path / "outside").write_text("leaked\n")
    os.symlink(tmp_path / "outside", inside / "mallory")
    (inside / "empty").write_text("\n")
    tokens = DirectoryTokens(inside)
    for user, says in [
        ("mallory", "no token file"),
        ("../outside", "not a user name"),
        ("nobody", "no token file for the user 'nobody'"),
        ("empty", "is empty"),
    ]:
        with pytest.raises(TokenUnavailable, match=says) as caught:
            await tokens(user)
        assert "leaked" not in str(caught.value) and str(tmp_path) not in str(caught.value)


def test_the_quota_pauses_a_token_and_counts_the_requests_inside_the_pause() -> None:
    quota = TokenQuota(rate=2)
    assert quota.arrive("t", 10.0) is None
    assert quota.arrive("t", 10.1) is None
    assert quota.arrive("other", 10.1) is None  # per token
    until = quota.arrive("t", 10.2)
    assert until == 11.0
    assert quota.arrive("t", 10.25) == until  # before the announcement: not a violation
    assert quota.announce("t", until, 10.3) == pytest.approx(0.7)
    assert quota.arrive("t", 10.5) == until  # inside the announced pause
    assert quota.violations[0].after == pytest.approx(0.2)
    assert quota.violation_count(grace=0.1) == 1 and quota.violation_count(grace=0.3) == 0
    assert quota.arrive("t", 11.0) is None  # the pause is over: a new window
    assert quota.throttled == {"t": 3} and quota.admitted == {"t": 3, "other": 1}
