"""The Nu HTML Checker (npm vnu-jar on a Java runtime) as a test helper, and where the checks' npm packages live.

`.ci/run` installs the npm packages (vnu-jar, axe-core) into NODE_TOOLS, outside
the checkout so that every CI clone reuses them, and Debian's Java runtime. A
missing tool fails the test in CI (REPORTER_REQUIRE_BROWSER=1) and skips it
elsewhere.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn
from urllib.parse import unquote

import pytest

NODE_TOOLS = Path(
    os.environ.get("REPORTER_NODE_TOOLS")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "reporter-node-tools"
)

# Paged-media CSS (CSS Paged Media, Generated Content for Paged Media) that WeasyPrint reads and the checker
# does not know; each pattern is a message the checker gave on such CSS. Nothing else is ignored.
PAGED_MEDIA = [
    re.compile(p)
    for p in (
        r"CSS: “string-set”: Property “string-set” doesn't exist\.",
        r"CSS: “content”: “(string|element)\([^”]*\)” is not a “content” value\.",
        r"CSS: “position”: “running\([^”]*\)” is not a “position” value\.",
        r"CSS: “(bookmark-level|bookmark-label|bookmark-state)”: Property “\1” doesn't exist\.",
        r"CSS: “float”: “footnote” is not a “float” value\.",
        r"CSS: “footnote”: Parse Error\.",  # the @footnote area of @page
    )
]
# Inside an @page rule (its margin boxes) the checker knows fewer properties than elsewhere: a real CSS 3
# property there is "not in CSS Level 3 + SVG but in [css3]". Ignored only when it lies inside @page.
MARGIN_BOX = re.compile(
    r"CSS: “([a-z-]+)”: Property “\1” doesn't exist in “CSS Level 3 \+ SVG” but exists in “\[css3\]”\."
)

# Strings, comments and braces: finding where an @page rule ends.
CSS_TOKENS = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|/\*.*?\*/|[{}]', re.DOTALL)


def unavailable(reason: str) -> NoReturn:
    """Fail in CI, where .ci/run installs every tool of the checks; skip elsewhere."""
    how = (
        "install it: .ci/run does it all on Debian (apt-get install chromium poppler-utils qpdf "
        f"default-jre-headless npm; npm install --prefix {NODE_TOOLS} vnu-jar axe-core)"
    )
    if os.environ.get("REPORTER_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}; {how}")
    pytest.skip(f"{reason}; {how}")


@functools.cache
def node_resolve(expression: str) -> Path:
    """The file a Node.js expression names, resolved from NODE_TOOLS (e.g. `require.resolve('axe-core')`)."""
    node = shutil.which("node")
    if node is None or not (NODE_TOOLS / "node_modules").is_dir():
        unavailable(f"Node.js or the npm packages in {NODE_TOOLS} are missing")
    done = subprocess.run(
        [node, "-e", f"process.stdout.write(String({expression}))"],
        cwd=NODE_TOOLS,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0 or not Path(done.stdout).is_file():
        unavailable(f"{expression} found nothing in {NODE_TOOLS}: {done.stderr.strip()[-300:]}")
    return Path(done.stdout)


@functools.cache
def vnu() -> list[str]:
    """The command that runs the checker; fails or skips the test (unavailable) when Java or the jar is missing."""
    java = shutil.which("java")
    if java is None:
        unavailable("java is missing (Debian's default-jre-headless)")
    return [java, "-jar", str(node_resolve("require('vnu-jar')"))]


def vnu_errors(documents: Iterable[Path | str], scratch: Path | None = None) -> list[str]:
    """The checker's errors on the documents (HTML files, or HTML text written to `scratch`), as `file:line: message`.

    One Java process checks them all (its start takes seconds). Errors about
    paged-media CSS that the checker does not know are left out, nothing else.
    """
    paths = []
    for i, document in enumerate(documents):
        if isinstance(document, str):
            if scratch is None:
                raise ValueError("HTML text is checked from a file: give a scratch folder (pytest's tmp_path)")
            (scratch / f"document-{i + 1}.html").write_text(document, encoding="utf-8")
            document = scratch / f"document-{i + 1}.html"
        paths.append(document.resolve())
    if not paths:
        raise ValueError("no document to check")
    done = subprocess.run(
        [*vnu(), "--format", "json", "--errors-only", *map(str, paths)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        messages = json.loads(done.stderr)["messages"]  # the checker writes its JSON report to stderr
    except (ValueError, KeyError):
        pytest.fail(f"the Nu HTML Checker did not report (exit {done.returncode}): {done.stderr[-2000:]}")
    texts = {str(p): p.read_text(encoding="utf-8") for p in paths}
    errors = []
    for m in messages:
        if m["type"] == "info":
            continue
        path = unquote(m.get("url", "")).removeprefix("file:")
        if not _is_paged_media(m, texts.get(path, "")):
            errors.append(f"{Path(path).name}:{m.get('lastLine', '?')}: {m['message']}")
    if done.returncode not in (0, 1):
        pytest.fail(f"the Nu HTML Checker failed (exit {done.returncode}): {errors}")
    return errors


def _is_paged_media(message: dict, text: str) -> bool:
    if message["type"] != "error":
        return False  # a document the checker could not read, or its own failure
    if any(p.fullmatch(message["message"]) for p in PAGED_MEDIA):
        return True
    if not MARGIN_BOX.fullmatch(message["message"]) or "lastLine" not in message:
        return False
    lines = text.split("\n")
    at = sum(len(line) + 1 for line in lines[: message["lastLine"] - 1]) + message.get("lastColumn", 1) - 1
    return any(start <= at < end for start, end in _page_rules(text))


def _page_rules(text: str) -> list[tuple[int, int]]:
    """Where each @page rule of the text starts and ends (braces in strings and comments do not count)."""
    spans = []
    for rule in re.finditer(r"@page\b[^{;]*\{", text):
        depth = 1
        for token in CSS_TOKENS.finditer(text, rule.end()):
            depth += {"{": 1, "}": -1}.get(token.group(), 0)
            if depth == 0:
                spans.append((rule.start(), token.end()))
                break
    return spans
