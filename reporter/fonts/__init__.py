"""The PDF's fonts: Inter and Noto Emoji shipped in this folder (OFL, see README.md), and for the charts' text
Matplotlib's own DejaVu Sans, the font their layout was measured with.

`stylesheet()` declares them with @font-face under the `font:` scheme, `fetch(url)` gives the bytes behind such
a URL (nothing else is ever served), and `prefer_packaged()` keeps installed fonts (a colour emoji font, another
DejaVu Sans) from standing in for the packaged ones. A report's PDF so comes out the same, byte for byte, on a
machine with no fonts at all.
"""

from __future__ import annotations

import ctypes
import threading
from functools import cache, lru_cache
from importlib import resources
from typing import Any

SCHEME = "font:"
# The name in a font: URL -> the package and path of the file; nothing else is served under font:.
FILES = {
    **{
        name: ("reporter", "fonts", name)
        for name in (
            "Inter-Regular.ttf",
            "Inter-SemiBold.ttf",
            "Inter-Bold.ttf",
            "Inter-Italic.ttf",
            "NotoEmoji-Regular.ttf",
        )
    },
    **{name: ("matplotlib", "mpl-data", "fonts", "ttf", name) for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")},
}


@lru_cache(maxsize=1)
def stylesheet() -> str:
    """The @font-face rules of the PDF's fonts (fonts.css), their sources under font:."""
    return resources.files(__name__).joinpath("fonts.css").read_text(encoding="utf-8")


def fetch(url: str) -> bytes | None:
    """The bytes of the packaged font a font: URL names; None for any other URL."""
    name = url[len(SCHEME) :] if url.startswith(SCHEME) else None
    return _read(name) if name in FILES else None


@cache
def _read(name: str) -> bytes:
    package, *path = FILES[name]
    return resources.files(package).joinpath(*path).read_bytes()


# Two families a report asks for by a name the system may have too, and fontconfig's rules for them. Pango lays
# an emoji run (☕, 👋) out in the family "emoji", which fontconfig's own rules (60-generic.conf) resolve to an
# installed colour emoji font, whatever families the CSS names: the packaged font goes first, and a monochrome one
# like it is asked for. The charts' SVG text names "DejaVu Sans" first: Matplotlib's copy goes before an installed
# one (whose version may differ). Pango 1.50 substitutes these patterns in fontconfig's current configuration,
# later versions in the font map's own: the rules go into both.
_RULES = (
    b'<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd"><fontconfig>'
    b'<match target="pattern"><test name="family"><string>emoji</string></test>'
    b'<edit name="family" mode="prepend_first" binding="strong"><string>Reporter Noto Emoji</string></edit>'
    b'<edit name="color" mode="assign_replace"><bool>false</bool></edit></match>'
    b'<match target="pattern"><test qual="first" name="family"><string>DejaVu Sans</string></test>'
    b'<edit name="family" mode="prepend_first" binding="strong"><string>Reporter DejaVu Sans</string></edit>'
    b"</match></fontconfig>"
)
_lock = threading.Lock()
_configured: list[int | None] = [None]  # fontconfig's current configuration, once it has the rules


def prefer_packaged(font_config: Any) -> None:
    """Make the packaged fonts stand first for emoji and the charts' text (call before any font is loaded)."""
    from weasyprint.text.ffi import fontconfig

    if (own := getattr(font_config, "_config", None)) is not None:  # the font map's configuration (WeasyPrint 70)
        fontconfig.FcConfigParseAndLoadFromMemory(own, _RULES, True)
    lib = _fontconfig()
    if lib is None:
        return
    with _lock:
        current = lib.FcConfigGetCurrent()
        if current != _configured[0]:  # fontconfig makes a new current configuration when the system's fonts change
            lib.FcConfigParseAndLoadFromMemory(current, _RULES, 1)
            _configured[0] = current


@lru_cache(maxsize=1)
def _fontconfig() -> Any:
    """The fontconfig library WeasyPrint uses, for the two functions its bindings leave out."""
    for name in ("libfontconfig.so.1", "libfontconfig.1.dylib", "libfontconfig-1.dll"):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        lib.FcConfigGetCurrent.restype = ctypes.c_void_p
        lib.FcConfigParseAndLoadFromMemory.argtypes = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int)
        return lib
    return None


# The packaged Inter's files by CSS weight, for text_width.
_WEIGHTS = {400: "Inter-Regular.ttf", 600: "Inter-SemiBold.ttf", 700: "Inter-Bold.ttf"}
_MISSING_EM = 1.5  # a character Inter lacks (its fallback, Noto Emoji, draws it): wider than any of either's


def text_width(text: str, size_pt: float, weight: int = 400, tabular: bool = False, spacing_em: float = 0.0) -> float:
    """The width in points of `text` set in the packaged Inter at `size_pt` (400, 600 or 700), with tabular
    figures (`font-variant-numeric: tabular-nums`) or not, and `spacing_em` of letter-spacing: the sum of its
    characters' advances, kerning left out (Inter kerns letters, by a fraction of a point, not figures)."""
    advances = _advances(weight, tabular)
    return size_pt * sum(advances.get(ord(char), _MISSING_EM) + spacing_em for char in text)


@cache
def _advances(weight: int, tabular: bool) -> dict[int, float]:
    """Each character's advance in Inter of `weight`, in ems; with `tabular`, that of its tabular form if any."""
    from io import BytesIO

    from fontTools.ttLib import TTFont

    font = TTFont(BytesIO(_read(_WEIGHTS[weight])), lazy=True)
    em = font["head"].unitsPerEm
    metrics = font["hmtx"].metrics
    forms = {name for name in font.getGlyphOrder() if name.endswith(".tf")} if tabular else set()
    # Inter names the tabular form of "one" "one.tf" (its "tnum" feature substitutes one for the other).
    return {
        code: metrics[f"{glyph}.tf" if f"{glyph}.tf" in forms else glyph][0] / em
        for code, glyph in font.getBestCmap().items()
    }
