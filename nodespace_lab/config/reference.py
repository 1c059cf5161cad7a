"""The settings reference, generated from the declarations (used by the docs)."""

from __future__ import annotations

from typing import Any

import param

from .sections import SECTIONS, SECURITY_RELEVANT


def _allowed(parameter: param.Parameter[Any]) -> str:
    if isinstance(parameter, param.Selector):
        return ", ".join(f"`{o}`" for o in parameter.objects)
    if isinstance(parameter, param.Boolean):
        return "`true`, `false`"
    if isinstance(parameter, param.List):
        return "list of names (comma-separated in the variable)"
    bounds = getattr(parameter, "bounds", None)
    if bounds:
        return f"{bounds[0]} to {bounds[1]}"
    return "text"


def _description(dotted: str, parameter: param.Parameter[Any]) -> str:
    why = SECURITY_RELEVANT.get(dotted)
    if why is None:
        return str(parameter.doc)
    return (
        f"{parameter.doc} **Security setting**: it {why}, so a knowledge base's own "
        "`nodespace.toml` sets it only when [trusted](#trusted-knowledge-bases)."
    )


def settings_markdown() -> str:
    """One Markdown table per section: setting, environment variable, default, allowed, doc.

    Security-relevant settings say so: a knowledge base's own `nodespace.toml`
    sets them only when the user trusts it.
    """
    parts = []
    for section_name, cls in SECTIONS.items():
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        rows = [
            f"### `[{section_name}]`",
            "",
            doc,
            "",
            "| setting | environment variable | default | allowed | description |",
            "|---|---|---|---|---|",
        ]
        for name, parameter in cls.param.objects("existing").items():
            if name == "name":
                continue
            env = f"NODESPACE_{section_name.upper()}_{name.upper()}"
            default = parameter.default if parameter.default != "" else '""'
            description = _description(f"{section_name}.{name}", parameter)
            rows.append(
                f"| `{name}` | `{env}` | `{default}` | {_allowed(parameter)} | {description} |"
            )
        parts.append("\n".join(rows))
    return "\n\n".join(parts) + "\n"
