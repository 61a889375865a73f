"""The command line against a real SQLite file: workspaces, keys, imports (SPEC §9)."""

from __future__ import annotations

import json
from pathlib import Path

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
