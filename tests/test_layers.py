"""The folders are the architecture, and imports go one way: `pipeline/` (the store, the text, stories, the
classifier) is the base and imports none of the others; `crawler/` and `alerts/` build on it and never
import each other; `service/` wires them together, and nothing imports it."""

import ast
from pathlib import Path

import regwatch

ROOT = Path(regwatch.__file__).parent
MAY_IMPORT = {
    "pipeline": {"pipeline", "defaults", ""},
    "crawler": {"crawler", "pipeline", "defaults", ""},
    "alerts": {"alerts", "pipeline", "defaults", ""},
    "service": {"service", "crawler", "pipeline", "alerts", "defaults", ""},
    "defaults": {""},
}


def _layer(module: str) -> str:
    """`regwatch.pipeline.store.base` → `pipeline`; `regwatch` itself and its own names (`__version__`) → ''."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in MAY_IMPORT else ""


def _imports(path: Path) -> set[str]:
    """The regwatch modules a file imports, anywhere in it (functions' imports too), as absolute names."""
    package = ".".join(("regwatch", *path.relative_to(ROOT).with_suffix("").parts[:-1]))
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "regwatch"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                if node.module:
                    out.add(".".join([*base, node.module]))
                else:                   # `from .. import service`: each name is a module
                    out |= {".".join([*base, a.name]) for a in node.names}
            elif node.module and node.module.split(".")[0] == "regwatch":
                out.add(node.module)
    return out


def test_imports_go_one_way():
    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        layer = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        if layer not in MAY_IMPORT:
            continue                    # regwatch/__init__.py, __main__.py
        wrong += [f"{rel} imports {m}" for m in _imports(path) if _layer(m) not in MAY_IMPORT[layer]]
    assert not wrong, wrong


def test_the_check_sees_relative_imports():
    assert _layer("regwatch.alerts.subscriptions") == "alerts"
    assert "regwatch.pipeline.store" in _imports(ROOT / "alerts" / "subscriptions.py")
    assert "regwatch.defaults" in _imports(ROOT / "crawler" / "run.py")
    assert "regwatch.pipeline.meaning" in _imports(ROOT / "pipeline" / "meaning_loaded.py")    # `from .meaning import …`
