"""Keep the message catalogs in step with the code (needs Babel: `pip install .[test]`).

    .venv/bin/python scripts/i18n.py           extract, update every .po, compile every .mo
    .venv/bin/python scripts/i18n.py --check   exit 1 if a message lacks a translation or a
                                               .mo is older than its .po (what CI checks)

Messages come from the code as babel.cfg says (Python and the report's template), and from
the command line's help (docstrings and option help, which no extractor reads: the CLI is
imported and walked, agent.cli.language.help_messages), and the bundled flows' summaries
(agent/flows/*.yaml, shown by `flows list`). A new
message enters each .po with an empty translation, to be filled in by hand; a message no
longer in the code is dropped. The .po files are written sorted and without line numbers, so
that moving code does not change them and parallel work merges cleanly.
"""

from __future__ import annotations

import gettext
import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "agent" / "locale"
DOMAIN = "messages"
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "N_": None,
    "Nn_": (1, 2),
}


def extract() -> Catalog:
    """The catalog template: every message in the code, where babel.cfg says to look."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle, "babel.cfg")
    template = Catalog(project="seller-agent", msgid_bugs_address=None, fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT),
        method_map,
        options_map,
        keywords=KEYWORDS,
        comment_tags=("Translators:",),
        strip_comment_tags=True,
    ):
        template.add(
            message,
            None,
            [(filename, lineno)],
            auto_comments=comments,
            context=context,
        )
    for message, place in cli_help_messages():
        template.add(message, None, [(place, 0)])
    for message, place in bundled_flow_messages():
        template.add(message, None, [(place, 0)])
    return template


def bundled_flow_messages() -> list[tuple[str, str]]:
    """The summaries of the bundled flows (agent/flows/*.yaml), which `flows list` shows in
    the reader's language; a user's own flow is shown as written."""
    sys.path.insert(0, str(ROOT))
    from agent.flow import bundled_flows, load_flow

    found = []
    for path in bundled_flows():
        summary = load_flow(path).summary
        if summary:
            found.append((summary, str(Path(path).resolve().relative_to(ROOT))))
    return found


def cli_help_messages() -> list[tuple[str, str]]:
    sys.path.insert(0, str(ROOT))
    from agent.cli import cli
    from agent.cli.language import help_messages

    return list(help_messages(cli))


def po_paths() -> list[Path]:
    return sorted(LOCALE.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=path.parent.parent.name, domain=DOMAIN)


def write_catalog(catalog: Catalog, path: Path) -> None:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, sort_output=True, omit_header=False, include_lineno=False)
    path.write_bytes(buffer.getvalue())


def compiled(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def mo_messages(data: bytes) -> dict:
    """What a compiled catalog says, as gettext reads it (bytes may differ between Babel
    versions; the messages may not)."""
    return dict(gettext.GNUTranslations(io.BytesIO(data))._catalog)


def missing_translations(template: Catalog, catalog: Catalog) -> list[str]:
    """The template's messages that `catalog` does not translate (absent, empty or fuzzy)."""
    missing = []
    for message in template:
        if not message.id:
            continue
        found = catalog.get(message.id, message.context)
        string = found.string if found is not None else None
        strings = list(string) if isinstance(string, list | tuple) else [string]
        if found is None or found.fuzzy or not all(strings):
            key = message.id if isinstance(message.id, str) else message.id[0]
            missing.append(f"{message.context + ': ' if message.context else ''}{key}")
    return missing


def update() -> int:
    template = extract()
    for path in po_paths():
        catalog = read_catalog(path)
        created = catalog.creation_date  # unchanged, so an update with no new message is no diff
        catalog.update(template, no_fuzzy_matching=True)
        catalog.creation_date = created
        catalog.obsolete.clear()
        write_catalog(catalog, path)
        path.with_suffix(".mo").write_bytes(compiled(read_catalog(path)))
        missing = missing_translations(template, catalog)
        print(f"{path.relative_to(ROOT)}: {len(catalog)} messages, {len(missing)} untranslated")
        for line in missing:
            print(f"  untranslated: {line}")
    return 0


def check() -> int:
    template = extract()
    problems = []
    for path in po_paths():
        catalog = read_catalog(path)
        for line in missing_translations(template, catalog):
            problems.append(f"{path.relative_to(ROOT)}: no translation for {line!r}")
        mo = path.with_suffix(".mo")
        if not mo.exists() or mo_messages(mo.read_bytes()) != mo_messages(compiled(catalog)):
            problems.append(f"{mo.relative_to(ROOT)}: out of date (run scripts/i18n.py)")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(check() if sys.argv[1:] == ["--check"] else update())
