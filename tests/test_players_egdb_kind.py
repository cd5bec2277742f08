"""`egdb:SPEC` is a player kind wherever specs are read (arena, ladder, play), not only in `kingme egdb`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kingme.common import UserError
from kingme.players import load_player, parse_spec, player_kinds


def test_egdb_kind_is_listed_and_parses() -> None:
    assert "egdb:SPEC" in player_kinds()
    assert parse_spec("egdb:alphabeta:2").kind == "egdb"


def test_egdb_kind_without_a_database_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINGME_EGDB_DIR", str(tmp_path / "none"))
    with pytest.raises(UserError, match="kingme egdb build") as err:
        load_player("egdb:alphabeta:2")
    assert "\n" not in str(err.value)
    assert "kingme.egdb.player" in sys.modules
