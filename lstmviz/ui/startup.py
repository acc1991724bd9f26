"""Two import-time costs of the Qt stack that the first window does not need, removed before
anything imports pyqtgraph (`lstmviz.ui` calls `install` first). Measured on this project's
launch (issue 16), each is paid by a bare pyqtgraph window too:

- pyqtgraph's Qt shim copies every name of PySide6.QtCore, QtGui and QtWidgets into its own
  QtCore, QtGui and QtWidgets modules (`pyqtgraph.Qt._copy_attrs`). Each `getattr` makes
  PySide6 build that class and its Python enums (~600 of them): ~85 ms of `import pyqtgraph`.
  Here the shims forward a name to PySide6 on first use instead (a module `__getattr__`
  that then caches it), so only the classes a window uses are built. The values are the
  same objects either way; `dir()` of a shim lists only the names used so far.
- PySide6 calls `shibokensupport.feature._mod_uses_pyside` after every import, and that
  reads each module's source with `inspect.getsource` (which searches sys.modules, so the
  cost grows with every import): ~60 ms over the ~400 modules a launch imports. Here a
  module with a .py file is answered from that file's bytes, the same answer (whether the
  text "PySide6" occurs in it); anything else still goes to PySide6's own function.

Both are guarded: the shim change applies only when pyqtgraph.Qt's source holds the loop it
replaces, and either can be switched off with LSTMVIZ_PLAIN_QT_IMPORTS=1 (for comparing).
`STATE` says what took effect (tests and benchmarks read it).
"""

from __future__ import annotations

import builtins
import importlib.abc
import importlib.machinery
import os
import sys

#: What `install` did: "lazy_qt_shim" (pyqtgraph's shims forward names lazily) and
#: "fast_feature_check" (PySide6's per-import source check reads the file).
STATE = {"lazy_qt_shim": False, "fast_feature_check": False}

_SHIMMED = ("PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets")
#: The loop of pyqtgraph.Qt._copy_attrs (pyqtgraph 0.13 and 0.14) that the lazy shim replaces.
_COPY_LOOP = "def _copy_attrs(src, dst):\n    for o in dir(src):"


def install() -> None:
    """Both changes, once; a no-op when pyqtgraph is already imported or
    LSTMVIZ_PLAIN_QT_IMPORTS is set."""
    if os.environ.get("LSTMVIZ_PLAIN_QT_IMPORTS"):
        return
    _fast_feature_check()
    if "pyqtgraph.Qt" not in sys.modules and not any(
            isinstance(f, _ShimFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _ShimFinder())


def _fast_feature_check() -> None:
    import PySide6.QtCore  # noqa: F401  (loads shiboken's support package)

    feature = sys.modules.get("shibokensupport.feature")
    original = getattr(feature, "_mod_uses_pyside", None)
    if original is None or getattr(original, "lstmviz_fast", False):
        return

    def _mod_uses_pyside(module) -> bool:
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and path.endswith(".py"):
            try:
                with open(path, "rb") as f:
                    return b"PySide6" in f.read()
            except OSError:
                pass
        return original(module)

    _mod_uses_pyside.lstmviz_fast = True
    _mod_uses_pyside.original = original
    feature._mod_uses_pyside = _mod_uses_pyside
    STATE["fast_feature_check"] = True


def _forward(shim, src):
    """A module __getattr__ for shim: the name from src, cached in shim."""
    def __getattr__(name: str):
        value = getattr(src, name)  # AttributeError as for a name src lacks
        setattr(shim, name, value)
        return value
    return __getattr__


def _lazy_dir(*args):
    """`dir` as pyqtgraph.Qt sees it: for a PySide6 module its shim gets a forwarding
    __getattr__ and nothing is copied; anything else is the builtin's."""
    name = getattr(args[0], "__name__", None) if args else None
    if name in _SHIMMED:
        src = args[0]
        shim = sys.modules.get("pyqtgraph.Qt." + name.rsplit(".", 1)[1])
        if shim is not None:
            shim.__getattr__ = _forward(shim, src)
            return []
    return builtins.dir(*args)


class _ShimLoader(importlib.abc.Loader):
    """pyqtgraph.Qt's own loader, run with `_lazy_dir` as the module's `dir`."""

    def __init__(self, inner):
        self.inner = inner

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module) -> None:
        module.dir = _lazy_dir  # a module global shadows the builtin for that module only
        try:
            self.inner.exec_module(module)
        finally:
            module.__dict__.pop("dir", None)
        STATE["lazy_qt_shim"] = True


class _ShimFinder(importlib.abc.MetaPathFinder):
    """Finds pyqtgraph.Qt as usual and loads it with `_lazy_dir` (once; then it leaves)."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "pyqtgraph.Qt":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not spec.origin:
            return spec
        try:
            with open(spec.origin, encoding="utf-8") as f:
                lazy = _COPY_LOOP in f.read()
        except OSError:
            lazy = False
        if lazy:  # else pyqtgraph loads as it comes
            spec.loader = _ShimLoader(spec.loader)
        return spec
