"""The extension bundle and the upgrade rule, without a database (issue 5)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vecs_sqlgen import __version__, bundle, render, upgrade
from vecs_sqlgen.render import Capabilities

ROOT = Path(__file__).resolve().parents[2]
GUARD = '\\echo Use "CREATE EXTENSION vecs" to load this file. \\quit'


def control_values(text: str) -> dict[str, str]:
    return dict(re.findall(r"^(\w+) = (.*)$", text, re.M))


def test_control_file():
    values = control_values(bundle.control("vecs", Capabilities("0.8.5")))
    assert values == {
        "comment": values["comment"],
        "default_version": f"'{__version__}'",
        "requires": "'vector'",
        "relocatable": "false",
        "schema": "'vecs'",
        "trusted": "true",
    }
    assert control_values(bundle.control("my_vecs"))["schema"] == "'my_vecs'"
    with pytest.raises(ValueError):
        bundle.control("bad'name")


def test_install_script_is_the_cli_install_without_create_schema():
    caps = Capabilities("0.8.5")
    script = bundle.install_script("vecs", caps)
    assert script.splitlines()[0] == GUARD
    assert "CREATE SCHEMA" not in script
    cli = render.render("vecs", caps).sql
    assert cli.count('CREATE SCHEMA IF NOT EXISTS "vecs";\n\n') == 1
    assert script.endswith(cli.replace('CREATE SCHEMA IF NOT EXISTS "vecs";\n\n', ""))
    ext = render.render("vecs", caps, extension=True)
    assert (ext.functions, ext.digest, ext.manifest) == (render.render("vecs", caps).functions, render.render("vecs", caps).digest,
                                                         render.render("vecs", caps).manifest)
    # the guard runs first: CLI install in the schema, pgvector's schema and version
    head = script[: script.index("-- schema.sql.j2")]
    assert "ERRCODE = '42723'" in head and "IF v_schema IS DISTINCT FROM 'public'" in head
    assert "IF v_have OPERATOR(pg_catalog.<) ARRAY[0, 8, 0]" in head and "ARRAY[0, 9" not in head


@pytest.mark.parametrize("version", ["0.4.0", "0.4.4", "0.5.0", "0.5.1", "0.6.2", "0.7.0", "0.7.4", "0.8.0", "0.8.5", "0.9.1"])
def test_pgvector_range_matches_the_capabilities(version):
    def level(v):
        c = Capabilities(v)
        return (c.hnsw, c.l1, c.halfvec, c.iterative_scan)

    low, high = bundle.pgvector_range(Capabilities(version))
    assert level(".".join(map(str, low))) == level(version)
    if low > (0, 0, 0):
        before = (low[0], low[1] - 1, 99)
        assert level(".".join(map(str, before))) != level(version)
    if high:
        assert level(".".join(map(str, high))) != level(version)


def test_manifest_is_about_declarations():
    sql = render.render().sql
    manifest = render.manifest(sql, "public")
    assert manifest == render.render().manifest
    assert set(manifest) >= {"create_collection(text, integer, text)", "upsert(text, text[], @V@.vector[], jsonb[])",
                             "query(text, @V@.vector, integer, jsonb, text, boolean, boolean, boolean, integer, integer, integer, anyelement)"}
    assert len(manifest) == sql.count("CREATE OR REPLACE FUNCTION")
    # pgvector's schema and the function bodies do not count; names, defaults and results do
    assert render.render("vecs", Capabilities("0.8.5", "extensions")).manifest == manifest
    assert render.render("vecs", Capabilities("0.6.2")).manifest == manifest
    body = sql.replace("collection name must be a non-empty string", "another message")
    assert render.manifest(body, "public") == manifest
    for old, new in [("RETURNS regclass", "RETURNS oid"), ("(name text, dimension integer, vector_type text", "(p_name text, dimension integer, vector_type text"),
                     ("k integer DEFAULT 10", "k integer DEFAULT 20")]:
        assert old in sql, old
        changed = render.manifest(sql.replace(old, new, 1), "public")
        assert changed.keys() == manifest.keys() and changed != manifest, old
    with pytest.raises(ValueError, match="COMMENT ON FUNCTION"):
        render.manifest(re.sub(r"COMMENT ON FUNCTION \"vecs\"\.count\(text\) IS", "COMMENT ON SCHEMA vecs IS", sql), "public")


def test_build_info_records_the_manifest():
    info = bundle.script_info(bundle.install_script())
    assert (info.version, info.schema, info.vector_schema) == (__version__, "vecs", "public")
    assert info.manifest == render.render().manifest
    literal = re.search(r"SELECT '(\{.*?\})'::jsonb", render.render().sql).group(1)
    assert '"functions": {' in literal and "'" not in literal


def test_upgrade_plan():
    old = {"a(text)": "1", "b(integer)": "2", "c()": "3", 'd("public".vector)': "4"}
    new = {"a(text)": "1", "b(integer)": "9", "e()": "5"}
    assert upgrade.plan(old, new) == upgrade.Plan(removed=("c()", 'd("public".vector)'), redeclared=("b(integer)",))
    assert not upgrade.plan(new, new) and not upgrade.plan(None, new)


def test_upgrade_carries_grants_to_a_signature_that_gained_a_parameter():
    """create_collection(text, integer) became create_collection(text, integer, text) (issue 13): the
    old one is dropped and its EXECUTE privileges go to the new one; a name with two new signatures,
    or two removed ones, is ambiguous and only dropped."""
    old = {"create_collection(text, integer)": "1", "q(int)": "2", "q(text)": "3", "r(int)": "4"}
    new = {"create_collection(text, integer, text)": "5", "q(int, int)": "6", "r(int, int)": "7", "r(text)": "8"}
    plan = upgrade.plan(old, new)
    assert plan.moved == (("create_collection(text, integer)", "create_collection(text, integer, text)"),)
    before, after = upgrade.steps("vecs", Capabilities(), old, render.render(), version="9.9.9")
    assert "GRANT EXECUTE ON FUNCTION %s TO %s%s', '\"vecs\".create_collection(text, integer, text)'" in before
    assert 'DROP FUNCTION IF EXISTS "vecs".create_collection(text, integer);' in before
    assert before.count('DROP FUNCTION IF EXISTS "vecs".q(') == 2 and "vecs.upgrade_grants" in after


@pytest.mark.parametrize("signature", ["a(text); drop table x", "a(text) cascade", "a(text), b(", "a('x')", 'a("x""y")',
                                       "a(text)) --", "a(text", "(text)", 'a(text, "pub lic".vector)'])
def test_upgrade_plan_refuses_what_is_not_a_signature(signature):
    """Old manifests come from a database or a file and are rendered into DROP statements."""
    with pytest.raises(ValueError, match="not a function signature"):
        upgrade.plan({signature: "x"}, {})


def test_upgrade_steps():
    caps = Capabilities("0.8.5", "extensions")
    new = render.render("vecs", caps)
    old = {**new.manifest, "_gone(integer)": "0", "version()": "0", "upsert(text, text[], @V@.vector[], jsonb[])": "0"}
    before, after = upgrade.steps("vecs", caps, old, new, version=__version__)
    assert 'DROP FUNCTION IF EXISTS "vecs"._gone(integer);' in before
    assert 'DROP FUNCTION IF EXISTS "vecs".upsert(text, text[], "extensions".vector[], jsonb[]);' in before
    assert "to_regprocedure('\"vecs\".version()')" in before
    assert "EXECUTE v_grants" in after
    assert upgrade.steps("vecs", caps, new.manifest, new, version=__version__) == ("", "")
    before, after = upgrade.steps("vecs", caps, {**new.manifest, "_gone(integer)": "0"}, new, version=__version__)
    assert "_gone" in before and after == ""


def test_upgrade_script_checks_its_input():
    old = bundle.install_script("vecs", version="0.0.9")
    version, text = bundle.upgrade_script(old, "vecs")
    assert version == "0.0.9"
    assert text.splitlines()[0] == f"\\echo Use \"ALTER EXTENSION vecs UPDATE TO '{__version__}'\" to load this file. \\quit"
    assert "-- dropped: none; dropped and created again: none" in text
    assert "DROP FUNCTION" not in text and "CREATE SCHEMA" not in text and "ERRCODE = '42723'" not in text
    with pytest.raises(ValueError, match="not older than"):
        bundle.upgrade_script(bundle.install_script("vecs"), "vecs")
    with pytest.raises(ValueError, match="installs into schema 'vecs', not 'other'"):
        bundle.upgrade_script(old, "other")
    with pytest.raises(ValueError, match="not a vecs-sqlgen script"):
        bundle.upgrade_script("select 1;", "vecs")


def test_write(tmp_path):
    files = bundle.write(tmp_path, caps=Capabilities("0.8.5"))
    assert [f.name for f in files] == ["vecs.control", f"vecs--{__version__}.sql"]
    assert all(oct(f.stat().st_mode & 0o777) == "0o644" for f in files)
    assert not list(tmp_path.glob(".vecs*"))  # no temporary files left
    assert bundle.committed_upgrades() == sorted((ROOT / "extension").glob("vecs--*--*.sql"))


def test_dockerfile_uses_the_bundle():
    text = (ROOT / "Dockerfile.postgres").read_text()
    assert re.search(r"^FROM pgvector/pgvector:\$\{PGVECTOR\}-pg\$\{PG_MAJOR\}$", text, re.M)
    assert "COPY extension/vecs.control extension/vecs--*.sql /usr/share/postgresql/${PG_MAJOR}/extension/" in text
    assert "CREATE EXTENSION IF NOT EXISTS vecs CASCADE;" in text and "/docker-entrypoint-initdb.d/" in text
