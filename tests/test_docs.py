"""The documentation is complete and self-contained.

Every setting of the config model is in docs/configuration.md, every relative
link of README.md and docs/ leads to a file of the repository, nothing the
product ships points at internal specs, and the documented examples load.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
from pydantic import BaseModel
from sqlalchemy import Engine

from reporter.ingest import load_campaigns, load_events
from reporter.settings import Settings, load_settings

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
# Where the product carries text of its own: none of it may point at the internal specs.
SHIPPED = [ROOT / "README.md", DOCS, ROOT / "config", ROOT / "reporter" / "templates"]


def nested_models(annotation: Any) -> list[tuple[str, type[BaseModel]]]:
    """The settings models inside a field's type, each with how its keys are written below the field's key.

    A section is `smtp.host`, a list of sections `jobs[].name`, a mapping of named
    sections `destinations.<name>.type`; optional and union types are looked into.
    """
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(".", annotation)]
    origin = get_origin(annotation)
    outer = {list: "[]", dict: ".<name>"}.get(origin, "")
    return [(outer + suffix, model) for arg in get_args(annotation) for suffix, model in nested_models(arg)]


def setting_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every key of the config file, sections included, as the file spells them (aliases such as `from`)."""
    keys = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        keys.append(key)
        for suffix, sub in nested_models(field.annotation):
            keys += setting_keys(sub, f"{key}{suffix}")
    return keys


def test_setting_keys_cover_sections_lists_and_aliases() -> None:
    keys = setting_keys(Settings)
    for key in (
        "database",
        "smtp.from",
        "alerts[].for",
        "web.users[].role",
        "jobs[].email.subject",
        "jobs[].campaigns.name",
    ):
        assert key in keys


def test_every_setting_is_documented() -> None:
    """Each key has its row in docs/configuration.md: a new setting without documentation fails here."""
    doc = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = [key for key in setting_keys(Settings) if f"| `{key}` |" not in doc]
    assert not missing, "settings without a row in docs/configuration.md: " + ", ".join(missing)


def test_the_shipped_config_validates() -> None:
    settings = load_settings(ROOT / "config" / "reporter.yaml")
    assert settings.branding.company == "Acme Inc."


# -- links ----------------------------------------------------------------------------------

CODE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
MD_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REF_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
HTML_LINK = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # https:, mailto:, data:


def links(text: str) -> list[str]:
    """The link targets of a Markdown text, code blocks and code spans left out."""
    text = INLINE_CODE.sub("", CODE.sub("", text))
    return [m for pattern in (MD_LINK, REF_LINK, HTML_LINK) for m in pattern.findall(text)]


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of a Markdown text's headings (a repeated heading's get -1, -2, ...)."""
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", CODE.sub("", text), re.MULTILINE):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(page: Path, text: str | None = None) -> list[str]:
    """The relative links of a page (its text, or `text` as if it were there) that lead nowhere in the repository.

    Nowhere is a file that does not exist, a path outside the repository (it exists
    on no user's machine), or a heading that a Markdown page does not have.
    """
    text = page.read_text(encoding="utf-8") if text is None else text
    broken = []
    for target in links(text):
        if EXTERNAL.match(target):
            continue
        path, _, fragment = target.partition("#")
        path = path.split("?")[0]
        dest = (page.parent / path).resolve() if path else page.resolve()
        if not dest.is_relative_to(ROOT.resolve()) or not dest.exists():
            broken.append(f"{page.name}: {target} (no such file in the repository)")
        elif fragment and dest.suffix == ".md":
            headings = anchors(text if dest == page.resolve() else dest.read_text(encoding="utf-8"))
            if fragment not in headings:
                broken.append(f"{page.name}: {target} (no such heading)")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    assert broken_links(page) == []


def test_a_broken_link_is_found() -> None:
    """The check itself: a missing file, a path outside the repository and a missing heading all count."""
    page = DOCS / "data.md"
    text = page.read_text(encoding="utf-8")
    assert broken_links(page, text) == []
    for bad in (
        "[x](nowhere.md)",
        "[x](../../shared/spec/data.md)",
        "[x](../..)",
        "[x](figures.md#no-such-heading)",
        "[x](#nope)",
        '<img src="img/nope.png">',
        "[x]: ../missing.md",
    ):
        assert len(broken_links(page, f"{text}\n{bad}\n")) == 1, bad
    for good in ("[x](figures.md#errors)", "[x](#bad-input)", "[x](https://example.com/nope)", "[x](img/)"):
        assert broken_links(page, f"{text}\n{good}\n") == [], good
    assert links("`[x](in-code.md)`\n```\n[y](in-block.md)\n```\n") == []


# -- no internal paths ------------------------------------------------------------------------

INTERNAL = re.compile(r"\bspec/|\.\./shared")


def shipped_files() -> list[Path]:
    files: list[Path] = []
    for place in SHIPPED:
        files += [place] if place.is_file() else sorted(p for p in place.rglob("*") if p.is_file())
    return files


def test_nothing_shipped_points_at_the_internal_specs() -> None:
    """Users have no spec/ folder and no ../shared: README, docs, config and templates stand alone."""
    found = []
    for path in shipped_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # images
        found += [
            f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}: {m[0]}" for m in INTERNAL.finditer(text)
        ]
    assert found == []
    assert any(p.name.endswith(".html.j2") for p in shipped_files())  # the templates were looked at


# -- the documented examples ------------------------------------------------------------------

EXAMPLE = re.compile(r"<!-- example: (\S+) -->\n(`{3,}|~{3,})[^\n]*\n(.*?)^\2", re.MULTILINE | re.DOTALL)


def examples(page: Path) -> list[tuple[str, str]]:
    """The files a page shows as examples: `<!-- example: NAME -->` before a fenced block."""
    return [(name, body) for name, _fence, body in EXAMPLE.findall(page.read_text(encoding="utf-8"))]


def test_the_data_examples_load(sqlite_engine: Engine, tmp_path: Path) -> None:
    found = examples(DOCS / "data.md")
    assert {"campaigns.yaml", "campaigns.csv", "events.csv", "events.jsonl"} <= {name for name, _ in found}
    for name, body in sorted(found, key=lambda item: not item[0].startswith("campaigns")):
        path = tmp_path / name
        path.write_text(body, encoding="utf-8")
        load = load_campaigns if name.startswith("campaigns") else load_events
        summary = load(sqlite_engine, path)
        assert (name, summary.rejected, summary.loaded > 0) == (name, 0, True)


def test_the_config_examples_validate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    found = examples(DOCS / "configuration.md") + examples(ROOT / "README.md")
    configs = [body for name, body in found if name == "reporter.yaml"]
    assert len(configs) >= 2
    for i, body in enumerate(configs):
        for variable in re.findall(r"\$\{(\w+)\}", body):
            monkeypatch.setenv(variable, "example.test")
        path = tmp_path / f"reporter-{i}.yaml"
        path.write_text(body, encoding="utf-8")
        assert load_settings(path).jobs
