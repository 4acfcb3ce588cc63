"""The bot runner's modules import each other as a tree (contracts.py holds what they share): no module
imports one that imports it back, not even for type hints or inside a function."""

import ast
from pathlib import Path

BOTS = Path(__file__).resolve().parents[2] / "chatai" / "bots"


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "chatai.bots":
                found.update(alias.name for alias in node.names)
            elif node.module.startswith("chatai.bots."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[2] for a in node.names if a.name.startswith("chatai.bots."))
    return found


def test_bot_modules_import_without_a_cycle():
    graph = {p.stem: _imports(p) - {p.stem} for p in BOTS.glob("*.py") if p.stem != "__init__"}
    assert graph["supervisor"] and "runner" in graph and "contracts" in graph["supervisor"]

    def cycle_from(start: str, node: str, path: list[str]) -> list[str] | None:
        for nxt in graph.get(node, ()):
            if nxt == start:
                return [*path, nxt]
            if nxt not in path:
                found = cycle_from(start, nxt, [*path, nxt])
                if found:
                    return found
        return None

    cycles = [c for module in graph if (c := cycle_from(module, module, [module]))]
    assert cycles == [], cycles
