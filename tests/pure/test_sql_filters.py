"""sql_to_filter: SQL boolean expressions → JSON filters (no database)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vecs_sqlgen.exc import FilterError
from vecs_sqlgen.filters import sql_to_filter, validate_filter

CONVERSIONS = [
    (
        "year >= 2000 and genre in ('drama', 'comedy') and not archived and info.lang = 'en'",
        {
            "$and": [
                {"year": {"$gte": 2000}},
                {"genre": {"$in": ["drama", "comedy"]}},
                {"archived": {"$not": {"$eq": True}}},
                {"info": {"lang": {"$eq": "en"}}},
            ]
        },
    ),
    # comparisons
    ("a = 1", {"a": {"$eq": 1}}),
    ("a != 'x'", {"a": {"$ne": "x"}}),
    ("a <> 'x'", {"a": {"$ne": "x"}}),
    ("a > 1.5", {"a": {"$gt": 1.5}}),
    ("a >= -2", {"a": {"$gte": -2}}),
    ("a < 'm'", {"a": {"$lt": "m"}}),
    ("a <= 1e3", {"a": {"$lte": 1000.0}}),
    ("a = .5", {"a": {"$eq": 0.5}}),
    ("a = -0.25", {"a": {"$eq": -0.25}}),
    ("a = 123456789012345678901234567890", {"a": {"$eq": 123456789012345678901234567890}}),
    # literal on the left: the operator flips
    ("1 = a", {"a": {"$eq": 1}}),
    ("1 <> a", {"a": {"$ne": 1}}),
    ("2000 <= year", {"year": {"$gte": 2000}}),
    ("2000 < year", {"year": {"$gt": 2000}}),
    ("2000 >= year", {"year": {"$lte": 2000}}),
    ("2000 > year", {"year": {"$lt": 2000}}),
    ("'en' = info.lang", {"info": {"lang": {"$eq": "en"}}}),
    # literals
    ("a = true", {"a": {"$eq": True}}),
    ("a = FALSE", {"a": {"$eq": False}}),
    ("a = null", {"a": {"$eq": None}}),
    ("a = 'it''s'", {"a": {"$eq": "it's"}}),
    ("a = 'back\\slash'", {"a": {"$eq": "back\\slash"}}),  # standard strings: backslash is literal
    ("a = $$dollar 'quoted'$$", {"a": {"$eq": "dollar 'quoted'"}}),
    ("a = $tag$x$$y$tag$", {"a": {"$eq": "x$$y"}}),
    ("a = 'no -- comment; here /* */'", {"a": {"$eq": "no -- comment; here /* */"}}),
    ("a = 'ünï©ødé'", {"a": {"$eq": "ünï©ødé"}}),
    ("a = (5)", {"a": {"$eq": 5}}),
    # IN / NOT IN
    ("a in (1, 'x', true)", {"a": {"$in": [1, "x", True]}}),
    ("a not in ('x')", {"a": {"$nin": ["x"]}}),
    ("a in ()", {"a": {"$in": []}}),  # sqlglot accepts an empty list; $in [] matches nothing
    ("not (a in (1))", {"a": {"$not": {"$in": [1]}}}),
    # LIKE / ILIKE
    ("name like 'ab%'", {"name": {"$like": "ab%"}}),
    ("name ilike '%AB_'", {"name": {"$ilike": "%AB_"}}),
    ("name not like 'ab%'", {"name": {"$not": {"$like": "ab%"}}}),
    ("name not ilike 'ab%'", {"name": {"$not": {"$ilike": "ab%"}}}),
    # IS NULL / IS NOT NULL
    ("a is null", {"$or": [{"a": {"$exists": False}}, {"a": {"$eq": None}}]}),
    ("a is not null", {"a": {"$ne": None}}),
    # boolean structure
    ("archived", {"archived": {"$eq": True}}),
    # NOT goes down to the keys (De Morgan): a key's $not is "not true", so missing keys match
    ("not archived", {"archived": {"$not": {"$eq": True}}}),
    ("not not a", {"a": {"$not": {"$not": {"$eq": True}}}}),
    ("not (a = 1 or b.c > 2)", {"$and": [{"a": {"$not": {"$eq": 1}}}, {"b": {"$not": {"c": {"$gt": 2}}}}]}),
    ("not (a = 1 and (b = 2 or c is null))",
     {"$or": [{"a": {"$not": {"$eq": 1}}},
              {"$and": [{"b": {"$not": {"$eq": 2}}},
                        {"$and": [{"c": {"$not": {"$exists": False}}}, {"c": {"$not": {"$eq": None}}}]}]}]}),
    ("a = 1 or b = 2", {"$or": [{"a": {"$eq": 1}}, {"b": {"$eq": 2}}]}),
    ("a = 1 or b = 2 or c = 3", {"$or": [{"a": {"$eq": 1}}, {"b": {"$eq": 2}}, {"c": {"$eq": 3}}]}),
    (
        "a = 1 and (b = 2 and (c = 3))",
        {"$and": [{"a": {"$eq": 1}}, {"b": {"$eq": 2}}, {"c": {"$eq": 3}}]},
    ),
    (
        "(a = 1 or b = 2) and c = 3",
        {"$and": [{"$or": [{"a": {"$eq": 1}}, {"b": {"$eq": 2}}]}, {"c": {"$eq": 3}}]},
    ),
    (
        "a = 1 or b = 2 and c = 3",  # AND binds tighter
        {"$or": [{"a": {"$eq": 1}}, {"$and": [{"b": {"$eq": 2}}, {"c": {"$eq": 3}}]}]},
    ),
    ("((a = 1))", {"a": {"$eq": 1}}),
    # keys
    # each name is one key: a dotted column steps into nested objects, a quoted name is literal
    ("info.lang = 'en'", {"info": {"lang": {"$eq": "en"}}}),
    ("a.b.c.d.e = 1", {"a": {"b": {"c": {"d": {"e": {"$eq": 1}}}}}}),
    ('"version.major" = 3', {"version.major": {"$eq": 3}}),
    ('info."a.b" = 1', {"info": {"a.b": {"$eq": 1}}}),
    ('"back\\slash" = 1', {"back\\slash": {"$eq": 1}}),
    ('"$price" > 0', {"$price": {"$gt": 0}}),
    ('"" = 1', {"": {"$eq": 1}}),
    ("info.lang is null", {"$or": [{"info": {"lang": {"$exists": False}}}, {"info": {"lang": {"$eq": None}}}]}),
    ('"Mixed Case" = 1', {"Mixed Case": {"$eq": 1}}),
    ("camelCase = 1", {"camelCase": {"$eq": 1}}),  # kept as written: metadata keys are case-sensitive
    ('"say ""hi""" = 1', {'say "hi"': {"$eq": 1}}),
    ("year = 1 and date = 2 and user = 3", {"$and": [{"year": {"$eq": 1}}, {"date": {"$eq": 2}}, {"user": {"$eq": 3}}]}),
]


@pytest.mark.parametrize(("sql", "expected"), CONVERSIONS, ids=[c[0] for c in CONVERSIONS])
def test_converts(sql, expected):
    result = sql_to_filter(sql)
    assert result == expected
    assert validate_filter(result) == result


def test_long_chains_flatten_without_recursion():
    result = sql_to_filter(" and ".join(f"k{i} = {i}" for i in range(333)))
    assert len(result["$and"]) == 333 and result["$and"][-1] == {"k332": {"$eq": 332}}
    # a chain too deep for naive recursion still reaches the filter size limit, not a RecursionError
    with pytest.raises(FilterError, match="^filter: holds 6001 JSON objects, more than 1000"):
        sql_to_filter(" or ".join(f"k{i} = {i}" for i in range(3000)))


REJECTIONS = [
    # function calls
    ("lower(name) = 'a'", "function call lower(name)"),
    ("myFunc(x) = 1", "function call myfunc(x)"),
    ("a = coalesce(b, 1)", "function call coalesce(b, 1)"),
    ("current_date = a", "function call CURRENT_DATE"),
    # subqueries
    ("a in (select id from t)", "subquery (SELECT id FROM t)"),
    ("exists (select 1)", "subquery EXISTS(SELECT 1)"),
    ("a = (select 1)", "subquery (SELECT 1)"),
    ("select 1", "subquery SELECT 1"),
    # casts
    ("a::int = 1", "cast CAST(a AS INT)"),
    ("cast(a as text) = 'x'", "cast CAST(a AS TEXT)"),
    ("a = '1'::int", "cast CAST('1' AS INT)"),
    ("a = date '2020-01-01'", "cast CAST('2020-01-01' AS DATE)"),
    # arithmetic and other operators
    ("a + 1 > 2", "arithmetic a + 1"),
    ("a = 2 * 3", "arithmetic 2 * 3"),
    ("a = -(1)", "arithmetic -(1)"),
    ("a || 'x' = 'yx'", "operator a || 'x'"),
    ("metadata->>'a' = 'x'", "operator metadata ->> 'a'"),
    ("a ~ 'x'", "operator a ~ 'x'"),
    ("a is true", "operator a IS TRUE"),
    ("a like 'x' escape '!'", "operator a LIKE 'x' ESCAPE '!'"),
    ("a between 1 and 2", "expression a BETWEEN 1 AND 2"),
    # columns and literals in the wrong places
    ("a = b", "comparison between columns a = b"),
    ("info.x < info.y", "comparison between columns info.x < info.y"),
    ("1 = 1", "comparison without a column 1 = 1"),
    ("true", "literal TRUE"),
    ("'x' like a", "literal 'x'"),
    ("a in (b)", "expression b"),
    # placeholders
    ("a = $1", "placeholder $1"),
    ("a = %s", "placeholder %s"),
    ("a = ?", "placeholder ?"),
    ("a = :name", "placeholder %(name)s"),
    # star, alias, other literals
    ("*", "star *"),
    ("t.* = 1", "star *"),
    ("a = 1 x", "alias a = 1 AS x"),
    ("a = 0x1f", "expression x'1f'"),
]


@pytest.mark.parametrize(("sql", "fragment"), REJECTIONS, ids=[r[0] for r in REJECTIONS])
def test_rejects_unsupported_sql(sql, fragment):
    with pytest.raises(FilterError) as info:
        sql_to_filter(sql)
    assert str(info.value) == f"filter: unsupported SQL in filter: {fragment}"


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("a = 1; b = 2", "filter: only one expression is allowed"),
        ("a = 1;", "filter: only one expression is allowed"),
        ("; drop table x", "filter: only one expression is allowed"),
        ("a = 1 -- and b = 2", "filter: comments are not allowed"),
        ("a = 1 /* and b = 2 */", "filter: comments are not allowed"),
        ("a = '1' --", "filter: comments are not allowed"),
        ("a = $$x$$ -- c", "filter: comments are not allowed"),
        ('"a" = 1/**/', "filter: comments are not allowed"),
        ("", "filter: SQL filter is empty"),
        ("  \n\t ", "filter: SQL filter is empty"),
        ("a in (1, null)", 'filter on "a": $in expects an array of scalars'),
        ("a like 5", 'filter on "a": $like expects a string pattern, got number'),
        ("a > null", 'filter on "a": $gt expects a number or a string, got null'),
        ("a = 1e999", 'filter on "a": values must be finite numbers'),
        ('"$and" = 1', 'filter: the key "$and" cannot be filtered on (it is an operator)'),
        ('info."$x" = 1', 'filter: the nested key "$x" cannot be filtered on (nested keys starting with $ are operators)'),
        ("a = 'x\x00'", "filter: NUL characters are not allowed"),
    ],
)
def test_rejects_with_message(sql, message):
    with pytest.raises(FilterError) as info:
        sql_to_filter(sql)
    assert str(info.value) == message


@pytest.mark.parametrize("sql", ["a =", "a = 'unterminated", "(a = 1", "and", "a = 'x\\'y'"])
def test_parse_errors(sql):
    with pytest.raises(FilterError, match=r"^filter: cannot parse SQL filter: \S") as info:
        sql_to_filter(sql)
    assert "\n" not in str(info.value)


def test_deep_nesting_is_a_filter_error():
    with pytest.raises(FilterError, match="^filter: "):
        sql_to_filter("(" * 400 + "a = 1" + ")" * 400)
    with pytest.raises(FilterError, match="nested deeper than 32 levels"):
        sql_to_filter("not " * 33 + "a")


SQL_BITS = st.sampled_from(
    ["'", '"', "\\", "$$", "$t$", ";", "--", "/*", "*/", "E'", "a", "b.c", " = ", " <> ", " and ", " or ",
     "not ", "(", ")", "1", "-2.5e3", "'x'", " in ", ",", " like ", " is ", "null", "true", "::", "$1", "%s",
     "?", "é", "日本", "🙂", "\x00", "\n", " ", "lower(", "*", "+", "->", "select "]
)  # fmt: skip


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.lists(SQL_BITS, max_size=16).map("".join), st.text(max_size=60)))
def test_random_input_gives_valid_filter_or_filter_error(sql):
    try:
        result = sql_to_filter(sql)
    except FilterError:
        return
    assert isinstance(result, dict)
    assert validate_filter(result) == result
