"""Reading flow files: YAML or JSON with the line of every key, found by path or as a bundled
flow's name, then checked."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from agent.flow.check import _Checker
from agent.flow.lines import parse_text
from agent.flow.model import Flow, FlowError
from agent.i18n import _


def flows_dir() -> Path:
    """The bundled flows, shipped inside the package (agent/flows)."""
    return Path(str(resources.files("agent").joinpath("flows")))


def bundled_flows() -> list[Path]:
    folder = flows_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml", ".json"))


def _display(path: Path) -> str:
    """The path as the user would write it: relative under the working folder, else absolute."""
    absolute = path.resolve()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def _find(ref: str, base_dir: Path | None) -> Path | None:
    candidate = Path(ref).expanduser()
    looks_like_path = "/" in ref or os.sep in ref or candidate.suffix in (".yaml", ".yml", ".json")
    if looks_like_path:
        if (
            not candidate.is_absolute()
            and base_dir is not None
            and (base_dir / candidate).is_file()
        ):
            return base_dir / candidate
        return candidate if candidate.is_file() else None
    for folder in [base_dir, flows_dir()] if base_dir else [flows_dir()]:
        for stem in dict.fromkeys([ref, ref.replace("-", "_"), ref.replace("_", "-")]):
            for suffix in (".yaml", ".yml", ".json"):
                path = folder / f"{stem}{suffix}"
                if path.is_file():
                    return path
    return None


def _load_ref(ref: str, base_dir: Path | None, stack: tuple[str, ...]) -> Flow:
    path = _find(ref, base_dir)
    if path is None:
        names = ", ".join(p.stem for p in bundled_flows())
        raise FlowError(
            _("no flow file or bundled flow named '{ref}' (bundled: {names})").format(
                ref=ref, names=names
            ),
            ref,
        )
    key = str(path.resolve())
    if key in stack:
        raise FlowError(_("flow '{ref}' includes itself").format(ref=ref), ref)
    source = _display(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte order mark is not part of it
    except OSError as error:
        raise FlowError(_("cannot read ({why})").format(why=error.strerror), source) from None
    data = parse_text(text, source)
    return _Checker(source, path.parent, (*stack, key), _load_ref).flow(data)


def load_flow(ref: str | Path) -> Flow:
    """A validated flow from a file path, or a bundled flow's name ("cancel_order" or "cancel-order")."""
    return _load_ref(str(ref), None, ())


def load_flow_data(data: dict, source: str = "<data>") -> Flow:
    """A validated flow from already-parsed data (recordings and imports check their output so)."""
    return _Checker(source, None, (), _load_ref).flow(data)
