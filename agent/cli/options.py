"""Shared Click options: every command spells and documents a flag the same way."""

from __future__ import annotations

import os
from collections.abc import Callable
from urllib.parse import urlsplit

import click

from agent.i18n import _

DEFAULT_PORTAL = "http://127.0.0.1:8600"


def portal_url(_ctx: click.Context | None, _param: click.Parameter | None, value: str) -> str:
    """--portal as a URL the browser, the sign-in ledger and recordings all read alike: an
    address typed without its scheme (127.0.0.1:8600, sellercentral.example) is http://; any
    scheme but http and https is refused."""
    text = (value or "").strip()
    if text and "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 - a port that is no number raises here
    except ValueError:
        parts = parts._replace(netloc="")
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(
            _("expected an http:// or https:// address such as {example}, got {value!r}").format(
                example=DEFAULT_PORTAL, value=value
            )
        )
    if parts.password:
        # The address is written into journals, logs, reports and every "running on" line:
        # a password in it would be kept everywhere secrets never are.
        raise click.BadParameter(
            _(
                "a password in the address would be written into journals, logs and reports; "
                "give the address without it ({address})"
            ).format(address=parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl())
        )
    return text


def portal_option(func):
    return click.option(
        "--portal",
        envvar="SELLER_AGENT_PORTAL",
        default=DEFAULT_PORTAL,
        show_default=True,
        metavar="URL",
        callback=portal_url,
        help="Base URL of the seller portal (env SELLER_AGENT_PORTAL).",
    )(func)


def _as_environment(name: str) -> Callable:
    """An option callback that sets environment variable `name` for the command's duration.

    The browser and sign-in code read these settings from the environment, far below the
    command line and for every command alike; an option given on the command line simply
    wins over the variable, and the variable is restored when the command ends."""

    def callback(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value is None:
            return
        previous = os.environ.get(name)
        os.environ[name] = value

        def restore() -> None:
            if previous is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = previous

        ctx.call_on_close(restore)

    return callback


def identity_options(func: Callable) -> Callable:
    """How the browser presents itself: the account chosen on an account picker, and the
    product token its User-Agent carries."""
    func = click.option(
        "--user-agent-suffix",
        metavar="TEXT",
        expose_value=False,
        callback=_as_environment("SELLER_AGENT_USER_AGENT_SUFFIX"),
        help="Appended to the browser's own User-Agent on every request (default "
        "'seller-agent/VERSION (automated)'; '' turns it off; env "
        "SELLER_AGENT_USER_AGENT_SUFFIX).",
    )(func)
    func = click.option(
        "--account",
        metavar="NAME",
        expose_value=False,
        callback=_as_environment("SELLER_AGENT_ACCOUNT"),
        help="Account or marketplace to choose when the portal asks, by the name it shows "
        "(env SELLER_AGENT_ACCOUNT, or `account` in the secrets file).",
    )(func)
    return func


def browser_options(func):
    func = identity_options(func)
    func = click.option(
        "--browser-path",
        envvar="SELLER_AGENT_BROWSER",
        type=click.Path(dir_okay=False),
        help="Chromium executable to use instead of the one found automatically.",
    )(func)
    func = click.option("--headed", is_flag=True, help="Show the browser window.")(func)
    func = click.option(
        "--slowmo",
        type=click.IntRange(min=0),
        default=0,
        metavar="MS",
        help="Pause this many milliseconds between browser actions (for watching).",
    )(func)
    return func


def json_option(func):
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(
        func
    )


def quiet_option(func):
    return click.option("-q", "--quiet", is_flag=True, help="No progress or chatter on stderr.")(
        func
    )


def workers_option(func):
    return click.option(
        "--workers",
        type=click.IntRange(min=1, max=64),
        default=None,
        metavar="N",
        help="Orders worked on at once, each in its own private browser window (default: two "
        "per CPU the run may use, at most 8, fewer when memory is short).",
    )(func)


class InputError(click.ClickException):
    """A mistake in what the user gave (flow, params, reason, secrets file): exit code 2."""

    exit_code = 2

    def format_message(self) -> str:
        # A message that carries its translation (an error passed on) is shown translated.
        from agent.i18n import shown

        return shown(self.message)


def secrets_option(func: Callable) -> Callable:
    return click.option(
        "--secrets",
        "secrets_path",
        type=click.Path(dir_okay=False),
        default=None,
        metavar="FILE",
        help="Secrets file (YAML: email, password, totp_secret; mode 0600). Default "
        "~/.config/seller-agent/secrets.yaml; SELLER_AGENT_* variables win over it.",
    )(func)


RUN_DIR_HELP = (
    "Folder for screenshots and traces of failures (default runs/<time>-<flow>; with --rows, "
    "the run's folder beside the journal, $XDG_DATA_HOME/seller-agent/runs/<run_id>)."
)
BULK_RUN_DIR_HELP = (
    "Folder for the run's log, screenshots and traces (default: "
    "$XDG_DATA_HOME/seller-agent/runs/<run_id>, beside the journal)."
)


def run_dir_option(func: Callable | None = None, *, help: str = RUN_DIR_HELP) -> Callable:
    """--run-dir; `help` says where the command puts its files when it is not given."""

    def decorate(func: Callable) -> Callable:
        return click.option(
            "--run-dir",
            type=click.Path(file_okay=False),
            default=None,
            metavar="DIR",
            help=help,
        )(func)

    return decorate(func) if func is not None else decorate


def max_outage_option(help: str) -> Callable:
    """--max-outage (parsed by parse_duration where the run starts); `help` says to which
    runs of the command it applies."""
    return click.option(
        "--max-outage", default="15m", show_default=True, metavar="DURATION", help=help
    )


def bulk_options(func: Callable) -> Callable:
    """How a bulk run treats its rows: attempts, context recycling, media, traces."""
    func = click.option(
        "--attempts",
        type=click.IntRange(min=1, max=20),
        default=4,
        show_default=True,
        metavar="N",
        help="Tries per row when its page fails (timeouts, network errors, HTTP 5xx); "
        "throttling (429) and an unreachable portal use none.",
    )(func)
    func = click.option(
        "--recycle-every",
        type=click.IntRange(min=1),
        default=50,
        show_default=True,
        metavar="N",
        help="Give each worker a fresh browser window after this many rows (keeps memory low).",
    )(func)
    func = click.option(
        "--block-media",
        is_flag=True,
        help="Do not load images, fonts and media (faster; screenshots look bare).",
    )(func)
    return func


def api_token_option(func: Callable) -> Callable:
    return click.option(
        "--api-token",
        envvar="SELLER_AGENT_API_TOKEN",
        metavar="TOKEN",
        help="Token of the portal's inspection API, when it needs one (env "
        "SELLER_AGENT_API_TOKEN). Only the bundled mock portal has this API.",
    )(func)


def input_file_options(func: Callable) -> Callable:
    """How to read an input file the tool cannot read unaided: its text encoding, the sheet
    of a workbook."""
    func = click.option(
        "--encoding",
        metavar="NAME",
        help="Text encoding of the input file when it is not UTF-8 or UTF-16 and its content "
        "does not show it (gbk, big5, cp932, cp949, cp1252, ...).",
    )(func)
    func = click.option(
        "--sheet",
        metavar="NAME",
        help="With an .xlsx input: the sheet to read (default: the first).",
    )(func)
    return func


class LanguageChoice(click.Choice):
    """en or zh-CN, also written as a locale name in any case (zh_CN.UTF-8, zh-Hans, ZH)."""

    def convert(self, value, param, ctx):
        from agent.i18n import normalize

        return super().convert(normalize(value) or value, param, ctx)


def lang_option(func: Callable) -> Callable:
    """--lang: the language of what the command writes for people. Without it the locale
    decides (LC_ALL, then LC_MESSAGES, then LANG); English when it names neither language."""
    from agent.i18n import LANGS

    def choose(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        from agent import i18n

        if value is None:
            return
        # For this command only: the choice is undone when it ends (one process may run
        # several commands, as tests do).
        previous = i18n.chosen_language()
        i18n.set_language(value)
        ctx.call_on_close(lambda: i18n.set_language(previous))

    return click.option(
        "--lang",
        type=LanguageChoice(LANGS),
        default=None,
        callback=choose,
        expose_value=False,
        is_eager=True,
        help="Language for people: en or zh-CN (default: from the locale, LANG=zh_CN.UTF-8 "
        "gives zh-CN; else en).",
    )(func)


def _check_endpoints(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple:
    from agent.i18n import shown
    from agent.play.browser import EndpointError, parse_endpoint

    for text in value:
        try:
            parse_endpoint(text)
        except EndpointError as error:
            raise click.BadParameter(shown(error)) from None
    return tuple(value)


def browser_endpoint_option(func: Callable) -> Callable:
    """Work in browsers elsewhere instead of launching one (see docs/scaling.md)."""
    return click.option(
        "--browser-endpoint",
        "browser_endpoints",
        multiple=True,
        envvar="SELLER_AGENT_BROWSER_ENDPOINT",
        callback=_check_endpoints,
        metavar="URL",
        help="Work in the browser at URL instead of launching one: ws://HOST:PORT/TOKEN (a "
        "browser server, `seller-agent browser serve`) or http://HOST:PORT (a Chromium "
        "DevTools endpoint). Repeatable; a bulk run spreads its workers over all of them, "
        "evenly or as ?workers=N at the end of a URL says (env SELLER_AGENT_BROWSER_ENDPOINT, "
        "space-separated).",
    )(func)


def _check_shard(ctx: click.Context, param: click.Parameter, value: str | None) -> object:
    from agent.bulk.shard import parse_shard
    from agent.errors import UserError
    from agent.i18n import shown

    if value is None:
        return None
    try:
        return parse_shard(value)
    except UserError as error:
        raise click.BadParameter(shown(error).removeprefix(f"--shard {value}: ")) from None


def shard_option(func: Callable) -> Callable:
    return click.option(
        "--shard",
        callback=_check_shard,
        metavar="K/N",
        help="Play only the K-th of N slices of the rows (by a hash of each row's key): N "
        "machines split one list with no coordination. `report --merge` joins their reports.",
    )(func)


# -- bulk run settings (cancel and run --rows) ----------------------------------------------------
def parse_rate(text: str | None) -> float | None:
    """--rate "5", "5/s" or "300/min" -> rows per second."""
    if text is None:
        return None
    value, _slash, unit = text.strip().partition("/")
    seconds = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}.get(unit.strip().lower())
    try:
        number = float(value)
    except ValueError:
        number = -1
    if seconds is None or number <= 0:
        raise InputError(
            _("--rate: expected a pace like 5/s or 120/min, got '{text}'").format(text=text)
        )
    return number / seconds


def parse_duration(text: str) -> float:
    """--max-outage "90", "90s", "15m", "15min" or "1h" -> seconds."""
    cleaned = text.strip().lower()
    number = cleaned.rstrip("abcdefghijklmnopqrstuvwxyz ")
    unit = cleaned[len(number) :].strip()
    seconds = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}.get(unit)
    try:
        value = float(number)
    except ValueError:
        value = -1
    if seconds is None or value < 0:
        raise InputError(
            _("--max-outage: expected a duration like 90s, 15m or 1h, got '{text}'").format(
                text=text
            )
        )
    return value * seconds


# Options a resumed run keeps from its start unless given again: Click's name -> the run's.
RESUMED_OPTIONS = {
    "workers": "workers",
    "pace": "rate",
    "max_failures": "max_failures",
    "recycle_every": "recycle_every",
    "attempts": "attempts",
    "block_media": "block_media",
    "trace": "trace",
    "max_outage": "max_outage",
}


def given_settings(ctx: click.Context) -> frozenset[str]:
    """The run settings the user gave on this command line (or in the environment)."""
    from click.core import ParameterSource

    given = {ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT}
    return frozenset(
        setting
        for name, setting in RESUMED_OPTIONS.items()
        if ctx.get_parameter_source(name) in given
    )
