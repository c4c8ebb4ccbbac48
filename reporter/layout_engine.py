"""WeasyPrint, imported without the processes its library look-ups start on Linux.

WeasyPrint finds its C libraries (GObject, Pango, HarfBuzz, fontconfig) by trying several names per library, the
other systems' first ('libgobject-2.0-0', 'gobject-2.0-0', 'gobject-2.0', then 'libgobject-2.0.so.0'). cffi hands
each name the dynamic loader does not know to `ctypes.util.find_library`, which on Linux runs `ldconfig`, then
`gcc` and `ld`: 54 processes and 0.2-0.3 s of the machine's cores per fresh process (WeasyPrint's issues 1125 and
2073), spent while a report's figures are computed beside it. The name that finally succeeds on Linux is the
library's own file name ('libgobject-2.0.so.0'), which the dynamic loader opens directly.

So on Linux, once the loader has opened each of those files by its name (a library found only by the look-up
is not: then WeasyPrint is imported the usual way), the importing thread's look-ups answer "not found" at once,
and WeasyPrint's loader opens the same files by their file names, the way it opens any library. Nothing is tried
twice: an import that failed half-way would leave modules another thread may be importing meanwhile.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_PATCHING = threading.Lock()
# The file names WeasyPrint's required libraries have on Linux, the last it tries (weasyprint/text/ffi.py); its
# optional ones (HarfBuzz's subset and vector libraries) are loaded when present, as usual.
LINUX_LIBRARIES = (
    "libgobject-2.0.so.0",
    "libpango-1.0.so.0",
    "libharfbuzz.so.0",
    "libfontconfig.so.1",
    "libpangoft2-1.0.so.0",
)


def load_weasyprint() -> None:
    """Import WeasyPrint once (quickly on Linux); a failing import raises as `import weasyprint` does."""
    if "weasyprint" in sys.modules:
        return
    if sys.platform.startswith("linux") and _loader_opens_all():
        with _lookups_skipped():
            import weasyprint
        return
    import weasyprint  # noqa: F401


def _loader_opens_all() -> bool:
    """Whether the dynamic loader opens every required library by its file name (kept open: WeasyPrint's own
    opening of them is then a look-up in the loader's table)."""
    for name in LINUX_LIBRARIES:
        try:
            ctypes.CDLL(name)
        except OSError:
            return False
    return True


@contextmanager
def _lookups_skipped() -> Iterator[None]:
    """`ctypes.util.find_library` finds nothing for this thread while the block runs; other threads' look-ups
    go to the real one, and so does every look-up once the block is left (a module that took the function by
    name meanwhile, and a later thread given this one's identity, get real answers)."""
    importing = threading.get_ident()
    skipping = [True]
    with _PATCHING:
        real = ctypes.util.find_library

        def find_library(name: str) -> str | None:
            return None if skipping[0] and threading.get_ident() == importing else real(name)

        ctypes.util.find_library = find_library
        try:
            yield
        finally:
            skipping[0] = False
            ctypes.util.find_library = real
