"""Every name a benchmark or helper script in scripts/ imports from lstmviz exists (a
restructure that moves a module must move its scripts' imports too; the scripts are not
run by the test suite, so nothing else would notice)."""

import ast
import importlib
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).parent.parent / "scripts").glob("*.py"))


def lstmviz_imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) of every `from lstmviz... import name` in the file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lstmviz"):
            found += [(node.module, alias.name) for alias in node.names]
    return found


def resolves(module: str, name: str) -> bool:
    mod = importlib.import_module(module)
    if hasattr(mod, name):
        return True
    try:
        importlib.import_module(f"{module}.{name}")
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_the_scripts_import_what_exists(path):
    missing = [f"{m}.{n}" for m, n in lstmviz_imports(path) if not resolves(m, n)]
    assert not missing, f"{path.name} imports what does not exist: {missing}"


def test_the_check_finds_a_missing_name(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from lstmviz.engine import no_such_thing\n")
    assert [(m, n) for m, n in lstmviz_imports(bad) if not resolves(m, n)] == [
        ("lstmviz.engine", "no_such_thing")]
