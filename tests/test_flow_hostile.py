"""Hostile templates: every one is refused when the flow loads, by `flows check` and by `run`,
with one line and exit 2, before any browser starts; and refused again at render time.

The cases come from the usual ways out of a Jinja2 sandbox: walks up the class hierarchy,
format-string tricks, filters that reach attributes, the globals of every built-in, huge
ranges and products, deep nesting, statements, and Jinja's own names."""

import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from jinja2 import TemplateError

from agent.cli import cli
from agent.flow import render
from agent.flow.templates import MAX_OUTPUT_CHARS, MAX_TEMPLATE_CHARS

HOSTILE = [
    # class hierarchy walks
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ().__class__.__base__.__subclasses__() }}",
    "{{ order_id.__class__ }}",
    "{{ order_id['__class__'] }}",
    # the globals of Jinja's built-ins
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__ }}",
    "{{ joiner.__init__.__globals__.os.popen('id').read() }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ range.__self__ }}",
    "{{ dict.__base__.__subclasses__() }}",
    # format strings and `%`
    "{{ '{0.__class__}'.format(order_id) }}",
    "{{ '%s' % order_id }}",
    "{{ order_id|format('%s') }}",
    # filters that reach attributes
    "{{ order_id|attr('__class__') }}",
    "{{ [order_id]|map(attribute='__class__')|list }}",
    "{{ [order_id]|map('attr', '__class__')|first }}",
    r"{{ order_id|attr('\x5f\x5fclass\x5f\x5f') }}",
    r"{{ order_id['\x5f\x5fclass\x5f\x5f'] }}",
    "{{ order_id|join(order_id) }}",
    "{{ order_id|default(secret=order_id) }}",
    # Jinja's globals as values: their repr would go into the URL
    "{{ totp }}",
    "{{ namespace }}",
    "{{ range(3) }}",
    "{{ lipsum }}",
    "{{ dict }}",
    # web-framework globals other sandboxes leak
    "{{ config }}",
    "{{ request.application.__globals__ }}",
    "{{ url_for.__globals__ }}",
    # Jinja's own names
    "{{ self }}",
    "{{ self._TemplateReference__context }}",
    "{{ loop }}",
    "{{ varargs }}",
    "{{ kwargs }}",
    "{{ caller }}",
    "{{ _ }}",
    # size: huge ranges and products, deep nesting, long templates
    "{{ range(10**9)|list }}",
    "{{ 'a' * 10**9 }}",
    "{{ 9**9**9 }}",
    "{{ " + "(" * 200 + "order_id" + ")" * 200 + " }}",
    "{{ order_id" + "|lower" * 50 + " }}",
    "{{ " + "[" * 300 + "]" * 300 + " }}",
    "{{ order_id }}" + "a" * MAX_TEMPLATE_CHARS,
    # statements
    "{% for i in range(10**9) %}x{% endfor %}",
    "{% for x in [1] %}{{ loop.cycle.__globals__ }}{% endfor %}",
    "{% set x = order_id %}{{ x }}",
    "{% include 'login.yaml' %}",
    "{% import 'login.yaml' as m %}",
    "{% from 'login.yaml' import m %}",
    "{% extends 'login.yaml' %}",
    "{% macro m() %}{{ caller() }}{% endmacro %}",
    "{% filter upper %}{{ order_id }}{% endfilter %}",
    "{% if order_id %}x{% endif %}",
    "{% do order_id.append(1) %}",
    # expressions beyond a name and its filters
    "{{ order_id ~ order_id }}",
    "{{ order_id if order_id else order_id }}",
    "{{ order_id is defined }}",
    "{{ order_id == order_id }}",
    "{{ {'a': order_id} }}",
    "{{ none }}",
]

# YAML's own escapes: the file says \u005f, the loaded text says _.
YAML_ESCAPED = [
    r'"{{ \u005f\u005fbuiltins\u005f\u005f }}"',
    r'"{{ order_id.\u005f\u005fclass\u005f\u005f }}"',
    r"""'{{ order_id|attr("\x5f\x5fclass\x5f\x5f") }}'""",
]

CASES = [json.dumps(template) for template in HOSTILE] + YAML_ESCAPED


def flow_text(scalar: str) -> str:
    return textwrap.dedent(
        """\
        name: hostile
        params:
          order_id: {type: string, default: '112-0000001-0000001'}
        steps:
          - goto: GOTO
        """
    ).replace("GOTO", scalar)


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="seller-agent", catch_exceptions=False)


@pytest.fixture
def marker_browser(tmp_path: Path) -> tuple[Path, Path]:
    """An executable that leaves a file behind if anything ever launches it as the browser."""
    marker = tmp_path / "browser-was-started"
    script = tmp_path / "chromium"
    script.write_text(f"#!/bin/sh\ntouch '{marker}'\nexit 1\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, marker


def test_there_are_many_cases():
    assert len(CASES) >= 60


@pytest.mark.parametrize("scalar", CASES)
def test_flows_check_refuses_with_one_line_and_exit_two(tmp_path, scalar):
    path = tmp_path / "hostile.yaml"
    path.write_text(flow_text(scalar), encoding="utf-8")
    result = invoke("flows", "check", str(path))
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Error: {path}:5: steps[0].goto: "), lines[0]
    assert "template" in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("scalar", CASES)
def test_run_refuses_before_starting_a_browser(tmp_path, marker_browser, scalar):
    script, marker = marker_browser
    path = tmp_path / "hostile.yaml"
    path.write_text(flow_text(scalar), encoding="utf-8")
    result = invoke(
        "run", str(path), "--browser-path", str(script), "--portal", "http://127.0.0.1:9"
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"Error: {path}:5: steps[0].goto: ")
    assert len(result.stderr.splitlines()) == 1
    assert not marker.exists()


def test_the_marker_browser_would_show_a_launch(tmp_path, marker_browser):
    """The evidence above means something: a valid flow does reach the browser launch."""
    script, marker = marker_browser
    path = tmp_path / "fine.yaml"
    path.write_text(flow_text('"/orders-v3/search?q={{ order_id | urlencode }}"'))
    assert invoke("flows", "check", str(path)).exit_code == 0
    result = invoke(
        "run", str(path), "--browser-path", str(script), "--portal", "http://127.0.0.1:9"
    )
    assert result.exit_code == 1
    assert marker.exists()


def test_the_installed_command_refuses_without_a_traceback(tmp_path, marker_browser):
    script, marker = marker_browser
    path = tmp_path / "hostile.yaml"
    path.write_text(flow_text(json.dumps("{{ cycler.__init__.__globals__ }}")))
    command = os.path.join(os.path.dirname(sys.executable), "seller-agent")
    for args in (["flows", "check", str(path)], ["run", str(path), "--browser-path", str(script)]):
        done = subprocess.run(
            [command, *args], capture_output=True, text=True, timeout=60, cwd=tmp_path
        )
        assert done.returncode == 2
        assert done.stderr == (
            "Error: hostile.yaml:5: steps[0].goto: template: attribute access ('.') is not "
            "allowed\n"
        )
    assert not marker.exists()


@pytest.mark.parametrize("template", HOSTILE)
def test_render_refuses_them_too(template):
    """The second wall: render() checks the template again and runs in a bare sandbox."""
    with pytest.raises(TemplateError):
        render(template, {"order_id": "112-0000001-0000001"})


def test_messages_say_what_is_refused(tmp_path):
    def error(template: str) -> str:
        path = tmp_path / "f.yaml"
        path.write_text(flow_text(json.dumps(template)))
        result = invoke("flows", "check", str(path))
        assert result.exit_code == 2
        return result.stderr.strip().split(": steps[0].goto: ", 1)[1]

    assert error("{{ range(3) }}") == "template: calls are not allowed"
    assert error("{{ 'a' * 10**9 }}") == "template: operator '*' is not allowed"
    assert error("{{ _x }}") == "template: name '_x' begins with '_'"
    assert error("{{ order_id.upper }}") == "template: attribute access ('.') is not allowed"
    assert error("{{ order_id['upper'] }}") == (
        "template: '[...]' is only NAME[N], item N (a whole number from 0) of a list"
    )
    assert error("{{ self }}") == "template: 'self' is one of Jinja's own names"
    assert error("{% set x = 1 %}") == (
        "template: '{% set %}' is not allowed (only {{ value | filter }})"
    )
    assert error("{{ order_id|attr('a') }}").startswith(
        "template: unknown filter 'attr' (filters: default, first, join, last, length, lower, "
    )
    assert error("{{ order_id|lowr }}").startswith(
        "template: unknown filter 'lowr' (did you mean 'lower'?"
    )
    assert error("{{ order_id|replace('a') }}") == "template: filter 'replace' takes (old, new)"
    assert error("{{ totp }}") == (
        "template names 'totp', which is not a param, a secret or a value extracted earlier "
        "('totp' is a filter: {{ value | totp }})"
    )
    assert error("{{ order_id }}" + "a" * MAX_TEMPLATE_CHARS) == (
        f"template: longer than {MAX_TEMPLATE_CHARS} characters"
    )
    assert error("{% for i in x %}").startswith("bad template: ")


def test_only_a_list_extracted_with_all_takes_an_item(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text(flow_text(json.dumps("/search?q={{ order_id[0] }}")))
    result = invoke("flows", "check", str(path))
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {path}:5: steps[0].goto: template takes an item of 'order_id' (order_id[N]), "
        "which is not a list extracted with 'all: true'\n"
    )
    # A value extracted without `all` is a text too; with it, a list that takes items - until
    # the name is extracted again as a text.
    path.write_text(
        textwrap.dedent(
            """\
            name: lists
            steps:
              - extract: {target: {css: a}, as: ids, all: true}
              - goto: /o/{{ ids[0] }}/{{ ids[1] | upper }}
              - extract: {target: {css: b}, as: one}
              - goto: /o/{{ one[0] }}
            """
        )
    )
    result = invoke("flows", "check", str(path))
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {path}:6: steps[3].goto: template takes an item of 'one' (one[N]), which is "
        "not a list extracted with 'all: true'\n"
    )
    path.write_text(path.read_text().replace("as: one}", "as: ids}").replace("one[0]", "ids[0]"))
    assert "ids[N]" in invoke("flows", "check", str(path)).stderr
    path.write_text(path.read_text().replace("as: ids}", "as: ids, all: true}"))
    assert invoke("flows", "check", str(path)).exit_code == 0
    # The sandbox never takes a character of a text either.
    with pytest.raises(TemplateError, match="only item N of a list, not of a text"):
        render("{{ q[0] }}", {"q": "mug"})


def test_jinja_names_cannot_be_declared(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text("name: f\nparams:\n  self: {}\nsteps:\n  - goto: /x\n")
    result = invoke("flows", "check", str(path))
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {path}:3: params.self: 'self' is reserved (a secret or one of Jinja's own names)\n"
    )
    path.write_text("name: f\nsteps:\n  - extract: {target: {css: a}, as: loop}\n")
    result = invoke("flows", "check", str(path))
    assert (
        result.stderr
        == f"Error: {path}:3: steps[0].extract.as: 'loop' is one of Jinja's own names\n"
    )


def test_the_allowed_language_renders_text_and_numbers():
    context = {
        "order_id": "112-0000001-0000001",
        "ids": ["a", "b", "c"],
        "count": 3,
        "empty": "",
        "query": "mug & cup/2",
        "secret": "JBSWY3DPEHPK3PXP",
    }
    assert render("/o/{{ order_id }}?n={{ count }}", context) == "/o/112-0000001-0000001?n=3"
    assert render("{{ ids | join(',') }} {{ ids|first }}{{ ids|last }}", context) == "a,b,c ac"
    assert render("{{ ids | length }} {{ order_id | length }}", context) == "3 19"
    assert render("{{ ids[1] }}{{ ids[2] | upper }}", context) == "bC"
    assert render("q={{ query | urlencode }}", context) == "q=mug%20%26%20cup%2F2"
    assert render("{{ empty | default('none') }}", context) == "none"
    assert render("{{ ' A ' | trim | lower }}{{ 'b' | upper }}", context) == "aB"
    assert render("{{ order_id | replace('-', '') }}", context) == "11200000010000001"
    assert render("{{ secret | totp }}", context).isdigit()
    assert render("{% raw %}{{ literal }}{% endraw %}", context) == "{{ literal }}"


def test_render_never_gives_a_python_repr():
    for value in (["a"], ("a",), True, None, {"k": "v"}, object()):
        with pytest.raises(TemplateError, match="not a text or a number"):
            render("/o/{{ x }}", {"x": value})
    with pytest.raises(TemplateError, match="has no element 5"):
        render("{{ x[5] }}", {"x": ["a"]})
    # The sandbox refuses what the check would have: items only of lists, by a number.
    with pytest.raises(TemplateError, match="only item N of a list, not of a mapping"):
        render("{{ x[0] }}", {"x": {0: "a"}})
    with pytest.raises(TemplateError, match="filter 'first' needs a list, got a text"):
        render("{{ x | first }}", {"x": "abc"})
    with pytest.raises(TemplateError, match="filter 'totp': TOTP secret is not valid base32"):
        render("{{ x | totp }}", {"x": "not base32!"})


def test_render_output_is_capped_before_it_is_built():
    big = "x" * (MAX_OUTPUT_CHARS // 2 + 1)
    with pytest.raises(TemplateError, match="longer than"):
        render("{{ v }}{{ v }}{{ v }}", {"v": big})
    # replace and join work out their size first: a 1,000-character template cannot ask for
    # gigabytes.
    with pytest.raises(TemplateError, match="filter 'replace' gives more than"):
        render("{{ v | replace('', '" + "a" * 900 + "') }}", {"v": big})
    with pytest.raises(TemplateError, match="filter 'join' gives more than"):
        render("{{ v | join('" + "a" * 900 + "') }}", {"v": ["x"] * 10_000})


def test_import_refuses_a_recording_that_carries_one(tmp_path):
    recording = tmp_path / "rec.json"
    recording.write_text(
        json.dumps(
            {
                "title": "hostile",
                "steps": [
                    {
                        "type": "navigate",
                        "url": "http://127.0.0.1:8600/orders-v3/?q={{ lipsum.__globals__ }}",
                    }
                ],
            }
        )
    )
    output = tmp_path / "out.yaml"
    result = invoke("import", str(recording), "-o", str(output))
    assert result.exit_code == 2
    assert result.stderr.endswith(
        "steps[0].goto: template: attribute access ('.') is not allowed\n"
    )
    assert not output.exists()


def nested_aliases(levels: int, width: int = 9) -> str:
    """A flow whose outcomes nest aliases: each level repeats the one before `width` times."""
    lines = ["  a: &a {any: [" + ", ".join(["{text: x}"] * width) + "]}"]
    names = "abcdefghijklmnop"[:levels]
    for before, name in zip(names, names[1:], strict=False):
        lines.append(f"  {name}: &{name} {{any: [" + ", ".join([f"*{before}"] * width) + "]}")
    return "name: laughs\noutcomes:\n" + "\n".join(lines) + f"\nsteps:\n  - expect: *{names[-1]}\n"


def test_nested_aliases_are_refused_at_once_naming_the_file_and_line(tmp_path):
    path = tmp_path / "laughs.yaml"
    text = nested_aliases(8)  # 9**8 values once expanded, from 522 bytes
    assert len(text) < 800
    path.write_text(text, encoding="utf-8")
    # In a child process with a deadline: before the guard, checking this took minutes.
    started = time.monotonic()
    done = subprocess.run(
        [
            os.path.join(os.path.dirname(sys.executable), "seller-agent"),
            "flows",
            "check",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=20,
        env={**os.environ, "LANG": "C"},
    )
    assert time.monotonic() - started < 5
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    # Line 7: `e`, the first level past the limit.
    assert done.stderr == (
        f"Error: {path}:7: its aliases (*name) expand it to more than 100,000 values; "
        "write the parts out or share fewer\n"
    )


def test_aliases_that_share_a_part_still_load(tmp_path):
    path = tmp_path / "shared.yaml"
    path.write_text(nested_aliases(4), encoding="utf-8")  # 9**4 values: an ordinary size
    result = invoke("flows", "check", str(path))
    assert result.exit_code == 0, result.output
    shared = tmp_path / "anchor.yaml"
    shared.write_text(
        "name: shared\nsteps:\n  - click: &submit [{role: button, name: Submit}, {testid: go}]\n"
        "  - click: *submit\n",
        encoding="utf-8",
    )
    assert invoke("flows", "check", str(shared)).exit_code == 0


def test_a_secrets_file_with_nested_aliases_is_refused_at_once(tmp_path):
    from agent.errors import SecretsError
    from agent.play.secrets import load_secrets

    path = tmp_path / "secrets.yaml"
    path.write_text(nested_aliases(8).replace("name: laughs\n", ""), encoding="utf-8")
    path.chmod(0o600)
    started = time.monotonic()
    with pytest.raises(SecretsError) as caught:
        load_secrets(path)
    assert time.monotonic() - started < 2
    assert str(caught.value) == (
        f"{path}:6: not valid YAML: its aliases (*name) expand it to more than 100,000 values; "
        "write the parts out or share fewer"
    )
