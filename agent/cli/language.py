"""The command line in the reader's language: help, Click's own words and `--lang`.

Click reads a command's help when the module is imported, long before any option is parsed,
so the help stays English in the code and is translated when it is shown: the command and
group classes here pass the docstring (paragraph by paragraph) and each option's help
through gettext as they format them. A paragraph that starts with Click's no-rewrap marker
(a line holding only \\b) is a block of example commands and is shown as written.

The language of help has to be known before Click parses the command line (`--help` is
answered while options are still being read, so a `--lang` after it would come too late):
the group's `main` looks for `--lang` among the arguments first. Every command, and the group
itself, accepts `--lang`.

Click's own words ("Usage:", "Options", "Error: ...", "Invalid value for ...") come from the
same catalog: Click asks the standard gettext module for them, through names bound in each of
its modules, which `speak_clicks_words` points at ours.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

import click

from agent import i18n
from agent.i18n import N_, Nn_

NO_REWRAP = "\b"


# The words of Click's own that a seller meets (help headings, errors about the command line),
# for extraction: Click translates them itself, through gettext (speak_clicks_words).
CLICK_WORDS = (
    N_("Usage:"),
    # Translators: a heading of help ("Options:", "Commands:"); Chinese ends it with "：".
    N_("{heading}:"),
    N_("Options"),
    N_("Commands"),
    N_("Show this message and exit."),
    N_("Show the version and exit."),
    N_("default: {default}"),
    N_("env var: {var}"),
    N_("required"),
    N_("Error: {message}"),
    N_("Try '{command} {option}' for help."),
    N_("Invalid value for {param_hint}: {message}"),
    N_("Missing argument"),
    N_("Missing option"),
    N_("Missing parameter"),
    N_("Missing {param_type}"),
    N_("No such option {name!r}."),
    N_("No such option: {name}"),
    N_("No such command {name!r}."),
    N_("Option {name!r} does not take a value."),
    N_("{value} is not in the range {range}."),
    N_("{value!r} is not a valid {number_type}."),
    N_("{name} {filename!r} does not exist."),
    N_("{name} {filename!r} is a directory."),
    N_("Aborted!"),
    # What a click.Path names in its errors ("File 'x' is a directory.").
    N_("file"),
    N_("directory"),
    N_("path"),
    N_("Error: invalid input"),
)
CLICK_PLURAL_WORDS = (
    Nn_("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})"),
    Nn_("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments."),
    Nn_("{value!r} is not {choice}.", "{value!r} is not one of {choices}."),
)


# A Chinese character (or a full-width sign) with the punctuation that must not start a line.
_WIDE_PIECE = re.compile(
    r"[\u2e80-\u303f\u3040-\u9fff\uac00-\ud7af\uf900-\ufaff\uff01-\uff60\uffe0-\uffe6]"
    r"[，。、；：！？）」』》\uff09\uff0c\u3002]*"
    r"|[^\u2e80-\u303f\u3040-\u9fff\uac00-\ud7af\uf900-\ufaff\uff01-\uff60\uffe0-\uffe6]+"
)


_OPENING = "（“‘「『《"
# Punctuation that closes or ends what comes before it: never the first thing on a line.
_CLOSING = "）」』》”’。，、；：！？"


def _columns(text: str) -> int:
    """Terminal columns of `text`: styles take none, a Chinese character takes two."""
    return i18n.display_width(click.unstyle(text))


def _wide_wrapper(base: type) -> type:
    class WideTextWrapper(base):  # type: ignore[misc, valid-type]
        """Wraps Chinese too: textwrap breaks lines only at spaces, which Chinese does not
        write, so each Chinese character is a place a line may end."""

        def _split(self, text: str) -> list[str]:
            pieces: list[str] = []
            for chunk in super()._split(text):
                pieces.extend(_WIDE_PIECE.findall(chunk) if not chunk.isascii() else [chunk])
            # An opening bracket or quote stays with what it opens, not at a line's end; a
            # closing one (or a full stop, a comma) with what it closes, also after a word
            # ("CSV）。"); a template expression ({{ password }}) is one piece.
            joined: list[str] = []
            for piece in pieces:
                if joined and (
                    (joined[-1][-1] in _OPENING and not piece.isspace())
                    or (piece[0] in _CLOSING and not joined[-1].isspace())
                    or _open_template(joined[-1])
                ):
                    joined[-1] += piece
                else:
                    joined.append(piece)
            return joined

    return WideTextWrapper


def _open_template(text: str) -> bool:
    """`text` has a `{{` not yet closed by `}}`."""
    return text.rfind("{{") > text.rfind("}}")


def _heading_writer(base: type) -> Any:
    def write_heading(self: Any, heading: str) -> None:
        # Click writes "Options:" with a colon of its own; Chinese writes a full-width one.
        line = i18n.gettext("{heading}:").format(heading=heading)
        self.write(f"{'':>{self.current_indent}}{line}\n")

    return write_heading


def speak_clicks_words() -> None:
    """Point the gettext functions Click's modules call at the tool's catalog, and let its
    help wrap Chinese at the terminal's width (it counts characters, a Chinese one takes two
    columns). A module or name Click no longer has is left alone: its words then stay
    English, or its lines wrap as before; nothing breaks."""
    import importlib

    try:
        from click import _textwrap, formatting
    except ImportError:
        pass
    else:
        if hasattr(_textwrap, "TextWrapper") and not hasattr(_textwrap.TextWrapper, "_wide"):
            _textwrap.TextWrapper = _wide_wrapper(_textwrap.TextWrapper)
            _textwrap.TextWrapper._wide = True
        for module in (_textwrap, formatting):
            if hasattr(module, "term_len"):
                module.term_len = _columns
        formatter = getattr(formatting, "HelpFormatter", None)
        if formatter is not None and hasattr(formatter, "write_heading"):
            formatter.write_heading = _heading_writer(formatter)

    # A click.Path keeps its name ("file") from when the option was made, at import: it is
    # read through gettext when an error names it.
    path_type = getattr(importlib.import_module("click.types"), "Path", None)
    if path_type is not None and not isinstance(path_type.__dict__.get("name"), property):

        def get_name(self: Any) -> str:
            return i18n.gettext(self.__dict__.get("name", "path"))

        def set_name(self: Any, value: str) -> None:
            self.__dict__["name"] = value

        path_type.name = property(get_name, set_name)

    # Not click.decorators: the words it translates are option help, stored when an option is
    # made (and the help option is made once and kept); help is translated when shown.
    for name in ("core", "exceptions", "formatting", "parser", "termui", "types"):
        try:
            module = importlib.import_module(f"click.{name}")
        except ImportError:
            continue
        if hasattr(module, "_"):
            module._ = i18n.gettext
        if hasattr(module, "ngettext"):
            module.ngettext = i18n.ngettext


def lang_in_args(args: Sequence[str]) -> str | None:
    """The language a `--lang` among the arguments asks for (the last one wins, as Click's
    does), or None; arguments after `--` are data, not options."""
    found = None
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--lang" and index + 1 < len(args):
            found = args[index + 1]
        elif arg.startswith("--lang="):
            found = arg.partition("=")[2]
    return i18n.normalize(found) if found else None


def paragraphs(text: str) -> list[str]:
    """A help text's paragraphs, dedented as Click shows them (a docstring keeps the indent of
    its source)."""
    import inspect

    return inspect.cleandoc(text).split("\n\n")


def translatable(paragraph: str) -> bool:
    """A paragraph of prose (an example block is shown as written)."""
    stripped = paragraph.strip()
    return bool(stripped) and not stripped.startswith(NO_REWRAP)


def translate_help(text: str | None) -> str | None:
    """Help text in the language in force, a paragraph at a time."""
    if not text:
        return text
    return "\n\n".join(
        i18n.gettext(part) if translatable(part) else part for part in paragraphs(text)
    )


def first_sentence(text: str) -> str:
    """The summary a group lists for a command: its first sentence."""
    first = text.split("\n\n", 1)[0].replace("\n", " ").strip()
    for end in ("。", ". "):
        if end in first:
            return first.split(end, 1)[0] + ("" if end == "。" else ".")
    return first


def lang_param() -> click.Option:
    from agent.cli.options import lang_option

    return lang_option(lambda: None).__click_params__[0]


class TranslatedHelp:
    """Help formatted in the reader's language (a mixin for Click's Command and Group)."""

    help: str | None
    short_help: str | None
    params: list[click.Parameter]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Wherever a seller reads output, --lang is there (a command may bring its own).
        if not any(param.name == "lang" for param in self.params):
            self.params.append(lang_param())

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        original = self.help
        self.help = translate_help(original)
        try:
            super().format_help_text(ctx, formatter)  # type: ignore[misc]
        finally:
            self.help = original

    def get_short_help_str(self, limit: int = 45) -> str:
        if self.short_help or not self.help or i18n.language() == i18n.DEFAULT_LANG:
            return super().get_short_help_str(limit)  # type: ignore[misc]
        return first_sentence(translate_help(self.help) or "")

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # An option's help, and a default it shows as words ("[default: the bundled sample
        # list]", show_default="..."), are translated as they are shown.
        originals = [
            (param, param.help, param.show_default)
            for param in self.get_params(ctx)  # type: ignore[attr-defined]
            if isinstance(param, click.Option)
        ]
        for param, text, default in originals:
            param.help = translate_help(text)
            if isinstance(default, str):
                param.show_default = i18n.gettext(default)
        try:
            super().format_options(ctx, formatter)  # type: ignore[misc]
        finally:
            for param, text, default in originals:
                param.help = text
                param.show_default = default


class TranslatedCommand(TranslatedHelp, click.Command):
    pass


class TranslatedGroup(TranslatedHelp, click.Group):
    command_class = TranslatedCommand


TranslatedGroup.group_class = TranslatedGroup


def help_messages(group: click.Group) -> Iterator[tuple[str, str]]:
    """Every help text of the command line, as (message, file it is written in): what
    scripts/i18n.py adds to the catalog, since an extractor cannot read docstrings."""
    import inspect
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent.parent

    def where(command: click.Command) -> str:
        try:
            source = inspect.getsourcefile(command.callback)  # type: ignore[arg-type]
            return str(Path(source).resolve().relative_to(root))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return "agent/cli/__init__.py"

    def walk(command: click.Command) -> Iterator[tuple[str, str]]:
        place = where(command)
        for text in (command.help, command.short_help):
            for part in paragraphs(text or ""):
                if translatable(part):
                    yield part, place
        for param in command.params:
            text = getattr(param, "help", None)
            if text:
                yield text, place
            default = getattr(param, "show_default", None)
            if isinstance(default, str) and default:
                yield default, place
        if isinstance(command, click.Group):
            for sub in command.commands.values():
                yield from walk(sub)

    yield from walk(group)


def print_error(message: object) -> None:
    """An error line for people, in their language ("Error: ..." is Click's own words); a
    message that carries its translation (i18n.Told, or an error raised with one) shows it."""
    click.echo(i18n.gettext("Error: {message}").format(message=i18n.shown(message)), err=True)


def echo_json(document: dict[str, Any]) -> None:
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))


def stop_message(outcome: Any) -> str | None:
    """Why a bulk run stopped itself (--max-failures, a portal that never answered), as the
    run said it: the `error` of a --json document whose command had no error of its own."""
    result = getattr(outcome, "result", None)
    return getattr(result, "message", None)


@contextlib.contextmanager
def json_errors(as_json: bool, **fields: Any) -> Iterator[None]:
    """With --json, an error that ends the command (a SellerAgentError or a Click error
    raised inside it) becomes exit_with_json_error's document; without, it goes on up."""
    from agent.errors import SellerAgentError

    try:
        yield
    except (click.ClickException, SellerAgentError) as error:
        if not as_json:
            raise
        # The document keeps the English (JSON does not change with the language); the line
        # on stderr is the translation, when the message carries one (a told() message).
        carried = error.message if isinstance(error, click.ClickException) else error
        exit_with_json_error(i18n.as_told(carried), error.exit_code, **fields)


def exit_with_json_error(message: str, exit_code: int, **fields: Any) -> NoReturn:
    """With --json, a command that ends before it has a result still prints one JSON document
    on stdout: the given fields, then `ok` (false), `error` (the one-line message) and
    `exit_code`. The error line also goes to stderr, for people."""
    echo_json({**fields, "ok": False, "error": message, "exit_code": exit_code})
    print_error(message)
    sys.exit(exit_code)


def main_language(args: Sequence[str] | None) -> str | None:
    return lang_in_args(list(sys.argv[1:] if args is None else args))


def warn(message: str) -> None:
    """A warning on stderr: what the input could not give, or what a run will cost. --quiet
    silences progress and chatter, never these."""
    click.echo(message, err=True)
