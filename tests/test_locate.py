import re

import pytest

from agent.flow.targets import TargetError, as_regex, describe, is_spec, parse_spec, parse_target


def test_each_kind_of_spec_normalises():
    assert parse_spec({"role": "button", "name": "Submit", "exact": True}) == {
        "kind": "role",
        "value": "button",
        "name": "Submit",
        "exact": True,
    }
    assert parse_spec({"testid": "cancel-order"}) == {"kind": "testid", "value": "cancel-order"}
    assert parse_spec("#go") == {"kind": "selector", "value": "#go"}
    assert parse_spec({"css": "tr", "nth": -1, "has_text": "x", "frame": "iframe#a"}) == {
        "kind": "css",
        "value": "tr",
        "nth": -1,
        "has_text": "x",
        "frame": "iframe#a",
    }


def test_a_list_is_an_ordered_set_of_fallbacks():
    specs = parse_target([{"testid": "a"}, {"label": "Email"}, "input[name=email]"])
    assert [s["kind"] for s in specs] == ["testid", "label", "selector"]
    assert parse_target({"xpath": "//tr"}) == [{"kind": "xpath", "value": "//tr"}]


@pytest.mark.parametrize(
    ("raw", "message", "field"),
    [
        (
            {},
            "a target needs one of: role, label, text, placeholder, testid, alt, title, css, xpath",
            "",
        ),
        ({"testid": "a", "css": "b"}, "a target has one kind, not testid and css", "css"),
        ({"label": "x", "name": "y"}, "'name' goes with 'role' only", "name"),
        ({"testid": "a", "colour": "red"}, "unknown key 'colour' in a target", "colour"),
        ({"testid": ""}, "'testid' needs a non-empty text", "testid"),
        ({"css": "a", "nth": "1"}, "'nth' is a whole number (0 is the first, -1 the last)", "nth"),
        ({"css": "a", "exact": "yes"}, "'exact' is true or false", "exact"),
        (
            {"text": "/a(/"},
            "'text' is not a valid regular expression (missing ), unterminated subpattern at position 1)",
            "text",
        ),
        ("", "a target selector cannot be empty", ""),
        (3, "a target is a mapping such as {testid: x} or a selector, not 3", ""),
    ],
)
def test_bad_specs_say_what_is_wrong(raw, message, field):
    with pytest.raises(TargetError) as caught:
        parse_spec(raw)
    assert str(caught.value) == message
    assert caught.value.field == field


def test_errors_in_a_fallback_list_name_the_position():
    with pytest.raises(TargetError) as caught:
        parse_target([{"testid": "a"}, {"role": "button", "nme": "x"}])
    assert caught.value.field == "[1].nme"
    with pytest.raises(TargetError):
        parse_target([])


def test_regex_texts():
    assert as_regex("plain") is None
    pattern = as_regex("/^(Submit|提交)$/i")
    assert pattern is not None and pattern.flags & re.IGNORECASE
    assert pattern.search("submit") and pattern.search("提交") and not pattern.search("Submit now")
    assert as_regex("/a/") and as_regex("/a/").pattern == "a"


def test_templates_in_regex_fields_are_checked_only_after_rendering():
    assert parse_spec({"text": "/{{ x }/"})["value"] == "/{{ x }/"


def test_describe_is_short_and_readable():
    assert (
        describe(parse_spec({"role": "button", "name": "Submit"})) == 'role=button[name="Submit"]'
    )
    assert describe(parse_spec({"testid": "row", "nth": 0})) == "testid=row nth=0"
    assert describe(parse_spec("text=Go")) == "text=Go"
    assert describe(parse_spec({"css": "a", "frame": "#f"})) == "frame=#f >> css=a"


def test_is_spec():
    assert is_spec({"testid": "x"}) and not is_spec({"target": "x"}) and not is_spec("x")
