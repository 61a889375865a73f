"""The command line against a real SQLite file: workspaces, keys, imports (SPEC §9)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from seam.cli import main
from seam.store.engine import open_database
from seam.store.tables import api_keys, contacts, traits


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_workspace_create_prints_keys_stored_only_as_hashes(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'seam.db'}"
    created = json.loads(
        run("workspace", "create", "acme", "--domain", "acme.com", "--json", "--db", db)
    )
    assert created["write_key"].startswith("wk_") and created["secret_key"].startswith("sk_")
    with open_database(db).reader.connect() as conn:
        hashes = set(conn.execute(select(api_keys.c.key_hash)).scalars())
    assert created["write_key"] not in hashes and created["secret_key"] not in hashes
    assert all(len(h) == 64 for h in hashes)


def test_key_create_and_revoke(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'seam.db'}"
    ws = json.loads(run("workspace", "create", "acme", "--json", "--db", db))
    key = json.loads(
        run(
            "key", "create", "--workspace", ws["id"], "--scope", "events:read", "--json", "--db", db
        )
    )
    assert key["scopes"] == ["events:read"] and key["key"].startswith("sk_")
    run("key", "revoke", key["id"], "--db", db)
    result = CliRunner().invoke(main, ["key", "revoke", key["id"], "--db", db])
    assert result.exit_code != 0


def test_import_csv_upserts_contacts_and_reports_bad_rows(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'seam.db'}"
    ws = json.loads(run("workspace", "create", "acme", "--json", "--db", db))
    csv_file = tmp_path / "crm.csv"
    csv_file.write_text(
        "external_id,email,updated_at,plan\n"
        "usr_1,ada@example.com,2026-01-02T00:00:00Z,pro\n"
        ",grace@example.com,2026-01-01T00:00:00Z,team\n"
        "undefined,x@example.com,,free\n"
    )
    output = run(
        "import", str(csv_file), "--workspace", ws["id"], "--source", "hubspot", "--db", db
    )
    assert "created 2, updated 0, rejected 1" in output
    older = tmp_path / "older.jsonl"
    older.write_text(
        json.dumps(
            {
                "external_id": "usr_1",
                "updated_at": "2025-01-01T00:00:00Z",
                "traits": {"plan": "free"},
            }
        )
        + "\n"
    )
    run("import", str(older), "--workspace", ws["id"], "--db", db)
    with open_database(db).reader.connect() as conn:
        assert len(conn.execute(select(contacts)).all()) == 2
        plan = conn.execute(
            select(traits).where(traits.c.key == "plan", traits.c.value == '"pro"')
        ).one()
    assert plan.source == "import:hubspot"  # the older sync did not clobber the newer value


def test_import_jsonl_skips_blank_lines_and_refuses_bad_ones_as_records(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'seam.db'}"
    ws = json.loads(run("workspace", "create", "acme", "--json", "--db", db))
    jsonl = tmp_path / "crm.jsonl"
    jsonl.write_text(
        '{"external_id": "usr_1", "traits": {"plan": "pro"}}\n'
        "\n"
        "not json\n"
        '"usr_2"\n'
        '{"external_id": "usr_3", "traits": {"plan": "team"}}\n'
    )
    output = run("import", str(jsonl), "--workspace", ws["id"], "--db", db)
    assert "record 2: line 3 is not JSON (Expecting value at column 1)" in output
    assert "record 3: a record must be an object" in output
    assert "created 2, updated 0, rejected 2" in output
    with open_database(db).reader.connect() as conn:
        assert len(conn.execute(select(contacts)).all()) == 2


def test_import_reads_a_csv_with_a_byte_order_mark(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'seam.db'}"
    ws = json.loads(run("workspace", "create", "acme", "--json", "--db", db))
    csv_file = tmp_path / "EXPORT.CSV"  # as spreadsheets save it
    csv_file.write_bytes(b"\xef\xbb\xbfexternal_id,plan\r\nusr_1,pro\r\n")
    output = run("import", str(csv_file), "--workspace", ws["id"], "--db", db)
    assert "created 1, updated 0, rejected 0" in output


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("crm.txt", b"external_id\nusr_1\n", "is not a .csv, .jsonl or .ndjson file"),
        ("crm.csv", b"external_id,plan\nusr_1,caf\xe9\n", "line 2 is not UTF-8 text"),
        ("crm.jsonl", b'{"external_id": "usr_1"}\n{"plan": "\xff"}\n', "line 2 is not UTF-8"),
        ("crm.csv", b"external_id,plan\nusr_1," + b"x" * 200_000 + b"\n", "record 1: field larger"),
    ],
)
def test_import_refuses_an_unreadable_file_with_a_clear_error(
    tmp_path: Path, name: str, content: bytes, error: str
) -> None:
    db = f"sqlite:///{tmp_path / 'seam.db'}"
    ws = json.loads(run("workspace", "create", "acme", "--json", "--db", db))
    path = tmp_path / name
    path.write_bytes(content)
    result = CliRunner().invoke(main, ["import", str(path), "--workspace", ws["id"], "--db", db])
    assert result.exit_code in (1, 2) and isinstance(result.exception, SystemExit)
    assert error in result.output
    with open_database(db).reader.connect() as conn:
        assert conn.execute(select(contacts)).all() == []


@pytest.mark.parametrize("limit", ["0", "-5"])
def test_workspace_rate_limit_must_be_positive(tmp_path: Path, limit: str) -> None:
    db = f"sqlite:///{tmp_path / 'seam.db'}"
    ws = json.loads(run("workspace", "create", "acme", "--json", "--db", db))
    result = CliRunner().invoke(
        main, ["workspace", "update", ws["id"], "--rate-limit", limit, "--db", db]
    )
    assert result.exit_code == 2 and "--rate-limit" in result.output


@pytest.mark.parametrize("limit", ["0", "-5", "0.5", "lots"])
def test_serve_refuses_a_bad_seam_rate_limit_before_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: str
) -> None:
    started: list[object] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: started.append(args))
    result = CliRunner().invoke(
        main,
        ["serve", "--db", f"sqlite:///{tmp_path / 'seam.db'}"],
        env={"SEAM_RATE_LIMIT": limit},
    )
    assert result.exit_code == 1 and "SEAM_RATE_LIMIT must be" in result.output
    assert not started
