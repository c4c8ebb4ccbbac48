"""WeasyPrint imported without its library look-ups' processes, the same libraries loaded (reporter.layout_engine)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the look-ups are skipped on Linux only")

LIBRARIES = ("gobject", "pango", "harfbuzz", "fontconfig")


def _fresh(code: str) -> dict[str, object]:
    """What a fresh interpreter reports after `code`: the C libraries it mapped and its children's CPU seconds."""
    probe = textwrap.dedent(code) + textwrap.dedent(f"""
        import json, resource, weasyprint
        with open("/proc/self/maps") as maps:
            paths = {{line.split()[-1] for line in maps if ".so" in line}}
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(json.dumps({{
            "libraries": sorted(p for p in paths if any(name in p for name in {LIBRARIES!r})),
            "children_cpu": children.ru_utime + children.ru_stime,
            "version": weasyprint.__version__,
        }}))
    """)
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=120)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_the_same_libraries_without_a_process() -> None:
    usual = _fresh("import weasyprint")
    quick = _fresh("from reporter.layout_engine import load_weasyprint; load_weasyprint()")
    assert usual["children_cpu"] > 0  # the usual import runs ldconfig, gcc and ld: what is avoided
    assert quick["children_cpu"] == 0
    assert quick["libraries"] == usual["libraries"]
    names = " ".join(str(p) for p in quick["libraries"])  # type: ignore[union-attr]
    for name in ("libgobject-2.0.so", "libpango-1.0.so", "libharfbuzz.so", "libfontconfig.so", "libpangoft2-1.0.so"):
        assert name in names


def test_a_library_only_the_lookup_finds_is_still_found() -> None:
    # The loader refuses GObject's file name, as on a system where only ldconfig's search finds it: WeasyPrint is
    # imported the usual way (which asks find_library) at once, not tried quickly first and then again.
    quick = _fresh("""
        import ctypes, sys, _cffi_backend
        real_init, real_load = ctypes.CDLL.__init__, _cffi_backend.load_library
        refused, imports = [], []
        def init(self, name, *args, **kwargs):
            if name == "libgobject-2.0.so.0":
                refused.append(name)
                raise OSError("not known to the loader here")
            real_init(self, name, *args, **kwargs)
        def load_library(name, flags=0):
            if name == "libgobject-2.0.so.0":
                imports.append(ctypes.util.find_library.__module__)  # whose look-up cffi would fall back on
            return real_load(name, flags)
        ctypes.CDLL.__init__ = init
        _cffi_backend.load_library = load_library
        from reporter.layout_engine import load_weasyprint
        load_weasyprint()
        assert refused == ["libgobject-2.0.so.0"], refused
        assert imports == ["ctypes.util"], imports  # one import, with the real look-ups
    """)
    assert quick["children_cpu"] > 0
    assert any("libgobject-2.0.so" in str(p) for p in quick["libraries"])  # type: ignore[union-attr]


def test_the_lookup_is_real_again_after_the_import_and_for_other_threads() -> None:
    import ctypes.util
    import threading

    from reporter.layout_engine import _lookups_skipped

    real = ctypes.util.find_library
    answers: dict[str, str | None] = {}
    with _lookups_skipped():
        taken = ctypes.util.find_library  # as `from ctypes.util import find_library` would, meanwhile
        answers["importing thread"] = taken("c")
        other = threading.Thread(target=lambda: answers.update({"other thread": taken("c")}))
        other.start()
        other.join()
    answers["afterwards"] = taken("c")
    assert ctypes.util.find_library is real
    assert answers["importing thread"] is None
    assert answers["other thread"] == answers["afterwards"] == real("c") is not None
