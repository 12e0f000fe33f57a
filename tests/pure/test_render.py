"""render(): templates → install SQL, without a database (issue 2, "Rendering")."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from vecs_sqlgen import render
from vecs_sqlgen.render import Capabilities

SQL_DIR = render.sql_dir()
PUBLIC_API = [
    "create_collection", "get_or_create_collection", "drop_collection", "list_collections",
    "upsert", "upsert_from", "fetch", "delete", "query", "create_index", "count",
]
CREATE = re.compile(r'CREATE OR REPLACE FUNCTION\s+"(?P<schema>[^"]+)"\.(?P<name>\w+)\s*\(', re.IGNORECASE)
COMMENT = re.compile(r'COMMENT ON FUNCTION\s+"(?P<schema>[^"]+)"\.(?P<name>\w+)\s*\(', re.IGNORECASE)


def caps(version: str, vector_schema: str = "public") -> Capabilities:
    return Capabilities(pgvector=version, vector_schema=vector_schema)


def statements(sql: str) -> list[str]:
    """Each CREATE FUNCTION statement, from CREATE up to its closing $function$;."""
    return re.findall(r"CREATE OR REPLACE FUNCTION.*?\$function\$;", sql, re.DOTALL | re.IGNORECASE)


def header(stmt: str) -> str:
    """The part of a CREATE FUNCTION before its body."""
    return stmt.split("$function$", 1)[0]


def code_only(sql: str) -> str:
    """The SQL without comments, COMMENT statements and '…' literals (dollar-quoted bodies are kept)."""
    sql = re.sub(r"^COMMENT ON .*? IS\s*'(?:[^']|'')*';", "", sql, flags=re.DOTALL | re.MULTILINE)  # statements, not format() text
    out, i, n = [], 0, len(sql)
    while i < n:
        if sql.startswith("--", i):
            i = sql.find("\n", i)
            i = n if i < 0 else i
        elif sql.startswith("/*", i):
            i = sql.index("*/", i) + 2
        elif sql[i] == "'":
            i += 1
            while i < n:
                if sql[i] == "'" and sql.startswith("''", i):
                    i += 2
                elif sql[i] == "'":
                    i += 1
                    break
                else:
                    i += 1
            out.append("''")
        else:
            out.append(sql[i])
            i += 1
    return "".join(out)


@pytest.fixture(scope="module")
def rendered():
    return render.render("vecs")


# ----------------------------------------------------------------------------- one statement per function


def test_functions_listed(rendered):
    assert set(PUBLIC_API) <= set(rendered.functions)
    assert list(rendered.functions) == sorted(set(m.group("name") for m in CREATE.finditer(rendered.sql)))


def test_one_create_and_one_comment_per_function(rendered):
    creates = Counter(m.group("name") for m in CREATE.finditer(rendered.sql))
    comments = Counter(m.group("name") for m in COMMENT.finditer(rendered.sql))
    # upsert has two forms (JSON records, parallel arrays), fetch two (vector, any vector type);
    # everything else exactly one definition
    assert creates["upsert"] == 2
    assert creates["fetch"] == 2
    assert {name: count for name, count in creates.items() if name not in ("upsert", "fetch")} == {
        name: 1 for name in rendered.functions if name not in ("upsert", "fetch")
    }
    assert comments == creates
    assert {m.group("schema") for m in CREATE.finditer(rendered.sql)} == {"vecs"}
    assert {m.group("schema") for m in COMMENT.finditer(rendered.sql)} == {"vecs"}


def test_comments_are_not_empty(rendered):
    for m in re.finditer(r"COMMENT ON FUNCTION\s+\"vecs\"\.(\w+)\s*\([^)]*\)\s+IS\s*'((?:[^']|'')*)';", rendered.sql):
        assert len(m.group(2)) > 20, m.group(1)
    assert len(re.findall(r"COMMENT ON FUNCTION", rendered.sql)) == len(statements(rendered.sql))


@pytest.mark.parametrize("name", render.render("vecs").functions)
def test_security_invoker_and_pinned_search_path(rendered, name):
    stmts = [s for s in statements(rendered.sql) if CREATE.match(s).group("name") == name]
    assert stmts
    for stmt in stmts:
        head = header(stmt)
        kind = "DEFINER" if name in render.DEFINER_FUNCTIONS else "INVOKER"
        assert re.search(rf"\bSECURITY {kind}\b", head), head
        for setting, value in render.PINNED_SETTINGS.items():
            assert f"SET {setting} = {value}" in head, head
        for setting, value in render.DEFINER_PINNED_SETTINGS.items():
            assert (f"SET {setting} = {value}" in head) is (kind == "DEFINER"), head


def test_security_definer_only_where_declared(rendered):
    definers = {CREATE.match(s).group("name") for s in statements(rendered.sql) if "SECURITY DEFINER" in header(s).upper()}
    assert definers == set(render.DEFINER_FUNCTIONS)
    assert len(re.findall(r"^VOLATILE SECURITY DEFINER$", rendered.sql, re.M)) == len(render.DEFINER_FUNCTIONS)
    for name in render.RESTRICTED_FUNCTIONS:
        assert re.search(rf'REVOKE ALL ON FUNCTION "vecs"\.{name}\([^)]*\) FROM PUBLIC;', rendered.sql), name


# ----------------------------------------------------------------------------- one function per template


def template_files() -> list[str]:
    """The templates of the install SQL (sql/packaging/ holds the extension and upgrade steps)."""
    return sorted(str(p.relative_to(SQL_DIR)) for p in SQL_DIR.rglob("*.sql.j2") if p.parent.name != "packaging")


def test_every_template_is_rendered():
    assert sorted(render.template_names()) == sorted(t for t in template_files() if t != "_macros.sql.j2")
    assert render.template_names()[0] == "schema.sql.j2"


@pytest.mark.parametrize("template", [t for t in template_files() if t != "_macros.sql.j2"])
def test_one_function_per_template(template):
    env = render._environment()
    ctx = {"digest": "0" * 16, **render.context("vecs", Capabilities(), "0.0.0")}
    text = env.get_template(template).render(**ctx)
    creates = CREATE.findall(text)
    if template == "schema.sql.j2":
        assert creates == []
        assert 'CREATE SCHEMA IF NOT EXISTS "vecs"' in text
    else:
        assert len(creates) == 1, (template, creates)
        assert len(COMMENT.findall(text)) == 1, template
        assert template.count("/") == 1, "templates live in folders by concern"


def test_folders_by_concern():
    folders = {Path(t).parent.name for t in template_files() if "/" in t}
    assert {"collections", "records", "search", "indexes", "filters"} <= folders


# ----------------------------------------------------------------------------- capabilities


def test_pgvector_040_has_no_hnsw():
    old = render.render("vecs", caps("0.4.0")).sql
    create_index = next(s for s in statements(old) if CREATE.match(s).group("name") == "create_index")
    assert "v_method := 'ivfflat'" in create_index  # auto → ivfflat
    assert "v_method := 'hnsw'" not in create_index
    assert "HNSW Unavailable. Upgrade your pgvector installation to > 0.5.0" in create_index
    assert "ERRCODE = 'VX007'" in create_index
    query = next(s for s in statements(old) if CREATE.match(s).group("name") == "query")
    assert "hnsw.ef_search" not in code_only(query)
    assert "iterative_scan" not in code_only(query)
    assert "l1_distance needs pgvector 0.7" in old


def test_pgvector_062_has_hnsw_but_no_l1():
    sql = render.render("vecs", caps("0.6.2")).sql
    create_index = next(s for s in statements(sql) if CREATE.match(s).group("name") == "create_index")
    assert "v_method := 'hnsw'" in create_index
    assert "HNSW Unavailable" not in create_index
    assert "<+>" not in sql
    assert "opclass := 'vector_l1_ops'" not in sql  # no l1 measure (vecs._measure)
    assert "l1_distance needs pgvector 0.7 or later (this install found 0.6.2)" in sql
    assert "iterative_scan" not in code_only(sql)
    assert "hnsw.ef_search" in sql


def test_pgvector_07_has_l1_without_iterative_scans():
    sql = render.render("vecs", caps("0.7.4")).sql
    assert 'OPERATOR("public".<+>)' in sql
    assert "l1_distance needs pgvector" not in sql
    assert "iterative_scan" not in code_only(sql)


def test_pgvector_085_has_everything():
    sql = render.render("vecs", caps("0.8.5")).sql
    assert 'OPERATOR("public".<+>)' in sql
    assert "opclass := 'vector_l1_ops'" in sql
    assert "hnsw.iterative_scan" in sql and "ivfflat.iterative_scan" in sql
    assert "HNSW Unavailable" not in sql
    assert "l1_distance needs pgvector" not in sql


def masked(sql: str, *values: str) -> str:
    """``sql`` with the build digest and the given version strings blanked out."""
    sql = re.sub(r'"digest": "[0-9a-f]*"', '"digest": "…"', sql)
    for v in values:
        sql = sql.replace(v, "V")
    return sql


def test_versions_differ_as_expected():
    texts = {v: render.render("vecs", caps(v)).sql for v in ("0.4.0", "0.6.2", "0.7.4", "0.8.5")}
    assert len(set(texts.values())) == 4
    # within one capability level only the recorded version differs
    assert masked(render.render("vecs", caps("0.8.0")).sql, "0.8.0") == masked(texts["0.8.5"], "0.8.5")


def test_capabilities():
    assert (caps("0.4.0").hnsw, caps("0.5.0").hnsw) == (False, True)
    assert (caps("0.6.2").l1, caps("0.7.0").l1) == (False, True)
    assert (caps("0.7.4").iterative_scan, caps("0.8.0").iterative_scan) == (False, True)


# ----------------------------------------------------------------------------- schema names


@pytest.mark.parametrize("schema", ["bad-name", 'a"b', "a" * 64, "", "1abc", "a b", "vecs;drop", "sch\u00e9ma", None])
def test_bad_schema_names(schema):
    with pytest.raises(ValueError):
        render.render(schema)


@pytest.mark.parametrize("vector_schema", ["bad-name", 'x"y', "a" * 64])
def test_bad_vector_schema_names(vector_schema):
    with pytest.raises(ValueError):
        render.render("vecs", caps("0.8.5", vector_schema))


def test_schema_name_is_quoted():
    sql = render.render("my_schema").sql
    assert 'CREATE SCHEMA IF NOT EXISTS "my_schema"' in sql
    assert {m.group("schema") for m in CREATE.finditer(sql)} == {"my_schema"}
    assert '"vecs"' not in sql
    assert render.render("a" * 63).functions == render.render("vecs").functions
    assert render.render("My_Schema").sql.count('"My_Schema".create_collection(') == 2  # CREATE and COMMENT


# ----------------------------------------------------------------------------- pgvector in another schema


def without_comments(sql: str) -> str:
    """The SQL without COMMENT statements and comments; literals (which hold dynamic SQL) are kept."""
    sql = re.sub(r"COMMENT ON .*? IS\s*'(?:[^']|'')*';", "", sql, flags=re.DOTALL)
    sql = re.sub(r"/\*.*?\*/", "", sql, flags=re.DOTALL)
    return re.sub(r"--[^\n]*", "", sql)


def test_vector_schema_qualifies_types_and_operators():
    sql = render.render("vecs", caps("0.8.5", "extensions")).sql
    text = without_comments(sql)
    assert '"extensions".vector' in text
    for op in ("<=>", "<->", "<#>", "<+>"):
        assert f'OPERATOR("extensions".{op})' in text
        # every use of the operator is qualified
        assert text.count(op) == text.count(f'OPERATOR("extensions".{op})'), op
    unqualified = [
        r'(?<![\w".])vector\s*[(\[]',  # vector(3), vector[]
        r"::\s*vector\b(?!_)",  # ::vector
        r'(?<![\w".])vector_dims\s*\(',
        r"\b(?:vec|query_vector|vectors|v_vectors|v_vecs)\s+vector\b",  # declarations
    ]
    for pattern in unqualified:
        for m in re.finditer(pattern, text):
            pytest.fail(f"unqualified pgvector name: …{text[max(0, m.start() - 40): m.end() + 20]}…")
    # outside literals (messages), the word vector only appears qualified
    for m in re.finditer(r'(?<![\w".])vector\b(?!_)', code_only(sql)):
        pytest.fail(f"unqualified vector: …{code_only(sql)[max(0, m.start() - 40): m.end() + 20]}…")
    assert '"public"' not in text
    # operator classes are qualified too, when indexes are created
    assert "'extensions', p_opclass" in sql


def test_default_vector_schema_is_public():
    text = without_comments(render.render("vecs").sql)
    assert '"public".vector' in text
    assert 'OPERATOR("public".<=>)' in text


# ----------------------------------------------------------------------------- determinism, no user data


def test_render_is_deterministic():
    for c in (caps("0.8.5"), caps("0.6.2", "extensions"), caps("0.4.0")):
        assert render.render("vecs", c).sql == render.render("vecs", c).sql


def test_render_depends_only_on_schema_caps_and_version():
    a = render.render("vecs", version="1.2.3").sql
    b = render.render("vecs", version="9.9.9").sql
    assert a != b
    assert masked(a, "1.2.3") == masked(b, "9.9.9")


def test_render_has_no_placeholders_left(rendered):
    assert "{{" not in rendered.sql and "{%" not in rendered.sql and "{#" not in rendered.sql


def test_templates_use_no_user_data():
    """Templates see install-time constants only: the context has no collection, record or filter."""
    ctx = render.context("vecs", Capabilities(), "0.0.0")
    assert set(ctx) <= {"schema", "S", "V", "vector", "vector_schema", "caps", "version", "err", "defaults", "limits",
                        "measures", "digest", "extension", "functions", "pinned_settings",
                        "definer_pinned_settings", "needs", "vector_types", "type_measures", "type_names"}
    env = render._environment()
    for template in template_files():
        source = env.loader.get_source(env, template)[0]
        # names a template may print: the context, the macros' module and the loop/macro variables it binds
        bound = set(re.findall(r"{%-?\s*(?:for|set)\s+([\w, ()]+?)\s+(?:in|=)", source))
        bound = {n.strip("() ") for b in bound for n in b.split(",")}
        bound |= {p.split("=")[0].strip() for params in re.findall(r"{%-?\s*macro\s+\w+\(([^)]*)\)", source)
                  for p in params.split(",") if p.strip()}
        bound |= set(re.findall(r"{%-?\s*macro\s+(\w+)\(", source))  # a macro may call its siblings
        for name in re.findall(r"{{\s*([A-Za-z_]\w*)", source):
            assert name in ctx or name in bound or name in ("m", "digest"), (template, name)
