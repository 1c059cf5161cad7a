"""The calculated-field expression language at definition time: syntax and type errors,
the names an expression reads, and that it cannot reach Python."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from nodespace_lab.entities.calc import expression as expression_module
from nodespace_lab.entities.calc.expression import (
    BUILTIN_ATTRIBUTES,
    SOURCES,
    check_expression,
    parse_expression,
)
from nodespace_lab.errors import ValidationError
from tests.entities.test_expressions import OWNER, DictScope, ev, node

OWN = {
    "hours": "number",
    "rate": "number",
    "bonus": "number",
    "units": "integer",
    "label": "text",
    "stage": "enum",
    "born": "date",
    "seen": "datetime",
    "flag": "bool",
    "tags": "list",
    "author": "ref",
    "reviewers": "refs",
    "blob": "json",  # a type the checker does not know: treated as any
}
PERSON = {"name": "text", "salary": "number", "boss": "ref"}


def target(field: str) -> Mapping[str, str] | None:
    """Reviewers and the author are persons; other references may be any kind."""
    return PERSON if field in ("author", "reviewers") else None


def typed(text: str) -> str:
    """The checked result type of `text` on a kind with fields OWN."""
    return check_expression(parse_expression(text, owner=OWNER), OWN, target)


def error(text: str) -> str:
    """The message of the ValidationError that parsing or checking `text` raises."""
    with pytest.raises(ValidationError) as info:
        typed(text)
    return str(info.value)


def assert_error(text: str, column: int, *fragments: str) -> str:
    """The error names the owner, quotes the text with a caret at `column`, and says these."""
    message = error(text)
    head, shown, caret = message.split("\n")
    assert head.startswith(OWNER + ": ")
    assert f"at column {column};" in head
    assert shown == "  " + text
    assert caret == "  " + " " * (column - 1) + "^"
    for fragment in fragments:
        assert fragment in message
    return message


# -- types ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hours * rate", "number"),
        ("units + 1", "number"),
        ("if(hours > 8, hours * rate, 0) + coalesce(bonus, 0)", "number"),
        ('label + "!"', "text"),
        ('stage = "draft"', "bool"),
        ('stage + "x"', "text"),
        ("born + 1", "date"),
        ("1 + born", "date"),
        ("born - born", "number"),
        ("seen - born", "number"),
        ("seen + 0.5", "datetime"),
        ("born < seen", "bool"),
        ("flag and hours > 1", "bool"),
        ("not flag", "bool"),
        ("null", "null"),
        ("hours + null", "null"),
        ("if(flag, label, null)", "text"),
        ("coalesce(null, null)", "null"),
        ("tags", "list"),
        ("len(tags)", "number"),
        ('contains(tags, "x")', "bool"),
        ("author is null", "bool"),
        ("author.boss is not null", "bool"),
        ("reviewers is not null", "bool"),
        ("author.name", "text"),
        ("author.salary * 2", "number"),
        ("author.due", "date"),
        ("parent.due", "date"),
        ("parent.anything", "any"),
        ("parent.anything + 1", "any"),
        ("parent.anything * 2", "number"),
        ("blob", "any"),
        ("count(children)", "number"),
        ("count(reviewers.boss)", "number"),
        ("count(reviewers where boss is null)", "number"),
        ("sum(children.hours)", "number"),
        ("avg(reviewers.salary)", "number"),
        ("min(children.due)", "date"),
        ("max(reviewers.name)", "text"),
        ("min(children.whatever)", "any"),
        ('any(children where status = "done")', "bool"),
        ("all(links.done)", "bool"),
        ("count(author)", "number"),
        ("max(hours, rate, 3)", "number"),
        ("min(born, today())", "date"),
        ("add_days(born, 1)", "date"),
        ("add_months(seen, 1)", "datetime"),
        ("add_days(parent.x, 1)", "any"),
        ("text(hours)", "text"),
        ("date(label)", "date"),
        ("age(born)", "number"),
        ("today()", "date"),
        ("now()", "datetime"),
        ('status in ["todo", "doing"]', "bool"),
        ("round(hours, 1)", "number"),
        ("-hours", "number"),
        ("created_at < now()", "bool"),
        ("priority + 1", "number"),
        ("archived or done", "bool"),
    ],
)
def test_inferred_types(text: str, expected: str) -> None:
    assert typed(text) == expected


def test_builtin_attributes_and_sources() -> None:
    assert BUILTIN_ATTRIBUTES["due"] == "date"
    assert BUILTIN_ATTRIBUTES["priority"] == "integer"
    assert BUILTIN_ATTRIBUTES["completed_at"] == "datetime"
    assert set(BUILTIN_ATTRIBUTES) == {
        "id", "kind", "title", "content", "created_at", "updated_at", "status", "done",
        "priority", "due", "scheduled", "completed_at", "archived",
    }  # fmt: skip
    assert {"children", "links", "backlinks", "parent"} == SOURCES


# -- syntax errors -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "fragments"),
    [
        ("1 +", 4, ("ends too early",)),
        ("(1 + 2", 7, ("expected ')'", "close the bracket")),
        ("1 + 2)", 6, ("unbalanced ')'",)),
        ("1 < 2 < 3", 7, ("cannot be chained", "0 < hours and hours < 8")),
        ("hours = 1 = 2", 11, ("cannot be chained",)),
        ("hours rate", 7, ("missing operator before 'rate'",)),
        ('"abc', 1, ("not closed", 'end it with "')),
        (r'"a\qb"', 3, ("unknown escape", "backslash")),
        ("1 $ 2", 3, ("unexpected character '$'",)),
        ("flag && hours", 6, ("unexpected character '&'", "write and")),
        ("2 ^ 3", 3, ("no power operator",)),
        ("hours is 3", 10, ("must be followed by null or not null",)),
        ("hours in 3", 10, ("'in' needs a list", "in [")),
        ("[1, 2]", 1, ("can only follow in",)),
        ("1e999", 1, ("too large",)),
        ("author.boss.name", 12, ("only one '.'", "one level deep")),
        ("(hours).x", 8, ("'.' can only follow a name",)),
        ("parent.", 8, ("expected an attribute name",)),
        ("round(hours", 12, ("expected ',' or ')'",)),
        ("round(,)", 7, ("expected a value",)),
    ],
)
def test_syntax_errors(text: str, column: int, fragments: tuple[str, ...]) -> None:
    assert_error(text, column, *fragments)


def test_empty_and_too_long_expressions() -> None:
    for text in ("", "   ", "# just a comment\n"):
        assert "the expression is empty" in error(text)
        assert error(text).startswith(OWNER)
    long = "1" + " + 1" * 600
    message = error(long)
    assert "2401 characters long" in message
    assert "keep it under 2000" in message
    assert "..." in message  # a long line is shown around the caret, not in full


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    assert "nests more than" in error("(" * 40 + "1" + ")" * 40)
    assert "nests more than" in error("-" * 60 + "1")
    assert "nests more than" in error("not " * 60 + "true")
    assert "nested more than 100 levels" in error("1" + " + 1" * 150)
    assert typed("1" + " + 1" * 90) == "number"
    assert ev("1" + " + 1" * 90) == 91


def test_error_in_a_multi_line_expression() -> None:
    message = error("hours *\n\trate +\n\tcout(children)")
    head, shown, caret = message.split("\n")
    assert "at line 3, column 2;" in head
    assert shown == "  \tcout(children)"
    assert caret == "  \t^"


# -- static errors -------------------------------------------------------------


def test_unknown_function_suggests_a_close_match() -> None:
    text = 'cout(children where status = "done") / count(children)'
    assert_error(text, 1, "unknown function 'cout'", "did you mean count", "the functions are")
    assert_error("hours + roud(hours)", 9, "did you mean round")
    assert_error('__import__("os")', 1, "unknown function '__import__'")


def test_unknown_name_lists_the_available_names() -> None:
    message = assert_error("hour * rate", 1, "unknown name 'hour'", "did you mean hours")
    assert "the names are" in message
    assert "rate" in message and "created_at" in message and "children" in message
    assert_error("stage = draft", 9, "unknown name 'draft'", 'put text in quotes ("...")')


def test_unknown_attribute_of_a_known_target() -> None:
    assert_error("author.nmae", 8, "unknown name 'nmae'", "did you mean name")
    assert_error("sum(reviewers.salry)", 15, "did you mean salary")
    # A reference that may point anywhere, and parent/children items: any attribute goes.
    assert typed("count(children where anything > 1)") == "number"


@pytest.mark.parametrize(
    ("text", "column", "fragments"),
    [
        ("round()", 1, ("round takes 1 to 2 arguments, got 0", "round(number[, digits])")),
        ("round(1, 2, 3)", 1, ("got 3",)),
        ('left("a")', 1, ("left takes 2 arguments, got 1", "left(text, count)")),
        ("if(flag, 1)", 1, ("if takes 3 arguments", "if(condition, then, else)")),
        ("today(1)", 1, ("today takes 0 arguments",)),
        ("coalesce()", 1, ("at least 1 argument",)),
        ("min()", 1, ("at least 2 arguments", "min(a, b, ...)")),
        ("count(children, links)", 1, ("count takes one collection", "count(children")),
    ],
)
def test_wrong_number_of_arguments(text: str, column: int, fragments: tuple[str, ...]) -> None:
    assert_error(text, column, *fragments)


@pytest.mark.parametrize(
    ("text", "column", "fragments"),
    [
        ("sum(1 + 2)", 5, ("the argument of sum is not a collection", "a collection is")),
        ("count(round(hours))", 7, ("not a collection",)),
        ("sum(children)", 5, ("does not say which values", "sum(children.hours)")),
        ("avg(reviewers)", 5, ("does not say which values",)),
        ("any(children)", 5, ("has no condition", 'any(children where status = "done")')),
        ("count(hours)", 7, ("'hours' is a number field, not a collection", "aggregate over")),
        ("max(label)", 5, ("does not say which values", "max(a, b)")),
        ("min(label.x)", 5, ("'label' is a text field, not a collection",)),
        ("count(nothing)", 7, ("unknown name 'nothing'",)),
    ],
)
def test_aggregate_needs_a_collection(text: str, column: int, fragments: tuple[str, ...]) -> None:
    assert_error(text, column, *fragments)


@pytest.mark.parametrize(
    ("text", "column", "fragments"),
    [
        ("children.hours + 1", 1, ("collection of values", "wrap it in an aggregate",
                                   "sum(children.hours)")),
        ("children + 1", 1, ("'children' is a collection of nodes", "count(children)")),
        ("round(links.priority)", 7, ("collection of values",)),
        ("min(children.hours, 3)", 5, ("collection of values",)),
        ("upper(backlinks)", 7, ("collection of nodes",)),
        ("parent + 1", 1, ("'parent' is a node", "parent.title")),
        ("parent", 1, ("'parent' is a node",)),
    ],
)  # fmt: skip
def test_collection_outside_an_aggregate(
    text: str, column: int, fragments: tuple[str, ...]
) -> None:
    assert_error(text, column, *fragments)


@pytest.mark.parametrize(
    ("text", "column", "fragments"),
    [
        ("hours where flag", 7, ("'where' outside an aggregate", "count(children where")),
        ("round(hours where flag)", 13, ("not an aggregate",)),
        ("min(hours where flag, 2)", 11, ("not an aggregate",)),
        ("count(children where parent.done)", 22, ("inside the where filter", "alone")),
        ("count(children where count(links) > 0)", 22, ("cannot be nested",)),
        ("count(children where children)", 22, ("inside the where filter",)),
    ],
)
def test_where_outside_an_aggregate(text: str, column: int, fragments: tuple[str, ...]) -> None:
    assert_error(text, column, *fragments)


@pytest.mark.parametrize(
    ("text", "column", "fragments"),
    [
        ("title.upper", 1, ("'.upper' on 'title', a text field", "upper(title)")),
        ("hours.x + 1", 1, ("a number field",)),
        ("nothing.x", 1, ("unknown name 'nothing'",)),
        ("reviewers.name", 1, ("many references", "min(reviewers.name)", "count(reviewers)")),
        ("author + 1", 1, ("'author' is a reference field", "author.title", "author is null")),
        ("upper(author)", 7, ("reference field",)),
        ("reviewers = 1", 1, ("many references, not a value", "count(reviewers)")),
        (
            "count(reviewers where boss = 1)",
            23,
            ("'boss' of the nodes reviewers refers to is a reference", "test boss is null"),
        ),
        (
            "count(children where boss = 1) + author.boss",
            41,
            ("author.boss is a reference", "one level deep"),
        ),
    ],
)
def test_attributes_and_references(text: str, column: int, fragments: tuple[str, ...]) -> None:
    assert_error(text, column, *fragments)


@pytest.mark.parametrize(
    ("text", "column", "fragments"),
    [
        ("label + 1", 7, ("'+' cannot combine text and number", "text(...)")),
        ("born * 2", 6, ("'*' cannot combine date and number", "numbers only")),
        ("label = 1", 7, ("'=' cannot combine text and number", "same type")),
        ("hours < label", 7, ("number and text",)),
        ("born - seen + label", 13, ("number and text",)),
        ("flag + 1", 6, ("bool and number",)),
        ("parent.x + flag", 10, ("any and bool",)),
        ("sum(reviewers.name)", 15, ("sum over 'name', which is text", "number")),
        ("avg(children.title)", 14, ("avg over 'title', which is text",)),
        ("min(children.done)", 14, ("min over 'done', which is bool",)),
        ("any(children.title)", 14, ("bool",)),
        ("if(hours, 1, 2)", 4, ("if expects bool as argument 1, got number", "if(condition")),
        ("hours and flag", 1, ("'and' needs true/false values, got number", "hours > 0")),
        ("flag or label", 9, ("'or' needs true/false values, got text",)),
        ("not hours", 5, ("'not' needs a true/false value",)),
        ("-label", 1, ("'-' needs a number",)),
        ("count(children where title)", 22, ("where filter must be true/false",)),
        ('round("2.5")', 7, ("round expects number as argument 1, got text",)),
        ("lower(hours)", 7, ("expects text",)),
        ("days_until(label)", 12, ("expects date or datetime",)),
        ("add_days(born, label)", 16, ("argument 2",)),
        ('if(flag, 1, "one")', 1, ("different types (number, text)", "text(...)")),
        ('coalesce(hours, "none")', 1, ("different types",)),
        ("min(born, seen)", 1, ("different types (date, datetime)", "date(...)")),
        ('status in ["a", 1]', 17, ("the list holds number, compared with text",)),
        ("hours = null", 7, ("always null", "is null")),
        ("null != label", 6, ("always null",)),
    ],
)
def test_certain_type_mismatches(text: str, column: int, fragments: tuple[str, ...]) -> None:
    assert_error(text, column, *fragments)


def test_any_is_compatible_with_everything() -> None:
    for text in (
        "parent.x + 1",
        'parent.x + "a"',
        "parent.x = born",
        "parent.x and flag",
        "if(parent.x, 1, 2)",
        "sum(children.x)",
        "blob * 2",
        "lower(blob)",
    ):
        typed(text)


# -- names read ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "own", "sources", "volatile"),
    [
        ("if(hours > 8, hours * rate, 0) + coalesce(bonus, 0)", {"hours", "rate", "bonus"},
         {}, False),
        ('count(children where status = "done") / count(children)', set(),
         {"children": {"status"}}, False),
        ("count(children)", set(), {"children": set()}, False),
        ("author.name", set(), {"author": {"name"}}, False),
        ("sum(reviewers.salary where active and salary > 0) + parent.budget + days_until(due)",
         {"due"}, {"reviewers": {"salary", "active"}, "parent": {"budget"}}, True),
        ("author is null or status = 'x'", {"author", "status"}, {}, False),
        ("count(children where due < TODAY())", set(), {"children": {"due"}}, True),
        ("hours + count(children.hours where status = 'done')", {"hours"},
         {"children": {"hours", "status"}}, False),
        ("now()", set(), {}, True),
        ("age(born)", {"born"}, {}, True),
        ("days_since(parent.due)", set(), {"parent": {"due"}}, True),
        ("days_between(born, due)", {"born", "due"}, {}, False),
        ("count(parent) + count(links) + count(backlinks)", set(),
         {"parent": set(), "links": set(), "backlinks": set()}, False),
        ("x in [y, z]", {"x", "y", "z"}, {}, False),
    ],
)  # fmt: skip
def test_names_read(text: str, own: set[str], sources: dict[str, set[str]], volatile: bool) -> None:
    expr = parse_expression(text, owner=OWNER)
    assert expr.own_names == frozenset(own)
    assert dict(expr.sources) == {name: frozenset(attrs) for name, attrs in sources.items()}
    assert expr.volatile is volatile
    assert expr.text == text
    assert expr.owner == OWNER


# -- no way out to Python --------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '__import__("os")',
        '__import__("os").system("true")',
        "().__class__",
        "title.__class__",
        "title.upper",
        "title.upper()",
        '"abc".upper',
        '"abc".upper()',
        'eval("1")',
        'exec("x = 1")',
        "lower.__globals__",
        "open('/etc/passwd')",
        "[c for c in title]",
        "lambda: 1",
        "hours; 1",
        "getattr(title, 'upper')",
    ],
)
def test_cannot_reach_python(text: str) -> None:
    with pytest.raises(ValidationError):
        typed(text)


def test_attribute_syntax_only_reads_through_the_scope() -> None:
    # Without a check, title.upper asks the scope for the items of 'title':
    # a plain text field has none, so the value is null, never a bound method.
    scope = DictScope({"title": "abc"})
    assert parse_expression("title.upper", owner=OWNER).evaluate(scope) is None
    assert parse_expression("title.__class__", owner=OWNER).evaluate(scope) is None


def test_the_language_modules_never_evaluate_python() -> None:
    folder = Path(expression_module.__file__).parent
    forbidden = re.compile(r"(?<![.\w])(eval|exec|compile)\(|^\s*(import|from) ast\b", re.M)
    for name in ("expression", "syntax", "functions", "evaluate", "types", "values"):
        source = (folder / f"{name}.py").read_text()
        assert not forbidden.search(source), name


def test_checked_expression_still_evaluates() -> None:
    expr = parse_expression("sum(reviewers.salary) / count(reviewers)", owner=OWNER)
    assert check_expression(expr, OWN, target) == "number"
    scope = DictScope(reviewers=[node(salary=10), node(salary=30)])
    assert expr.evaluate(scope) == 20.0
