"""WeasyPrint, imported without the processes its library look-ups start on Linux.

WeasyPrint finds its C libraries (GObject, Pango, HarfBuzz, fontconfig) by trying several names per library, the
other systems' first ('libgobject-2.0-0', 'gobject-2.0-0', 'gobject-2.0', then 'libgobject-2.0.so.0'). cffi hands
each name the dynamic loader does not know to `ctypes.util.find_library`, which on Linux runs `ldconfig`, then
`gcc` and `ld`: 54 processes and 0.2-0.3 s of the machine's cores per fresh process (WeasyPrint's issues 1125 and
2073), spent while a report's figures are computed beside it. The name that finally succeeds on Linux is the
library's own file name ('libgobject-2.0.so.0'), which the dynamic loader opens directly.

So on Linux the importing thread's look-ups answer "not found" at once, and the loader opens the same files by
their file names, the way it opens any library. Where a library is found only by the look-up (not by the
loader), the import fails that way and is made again the usual way.
"""

from __future__ import annotations

import ctypes.util
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_PATCHING = threading.Lock()


def load_weasyprint() -> None:
    """Import WeasyPrint once (quickly on Linux); a failing import raises as `import weasyprint` does."""
    if "weasyprint" in sys.modules:
        return
    if sys.platform.startswith("linux"):
        try:
            with _lookups_skipped():
                import weasyprint
            return
        except OSError:  # a library only the look-up finds: the usual import below
            for name in [name for name in sys.modules if name == "weasyprint" or name.startswith("weasyprint.")]:
                del sys.modules[name]
    import weasyprint  # noqa: F401


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
