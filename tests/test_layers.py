"""The layers of DEVELOPERS.md, read from the code's own imports: each import runs down (or sideways
where the table allows), a function-level import says why, and attendance is read only through
`services.attendance.read`."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("zoom_homeroom", "webhooks")

# Part of the code -> its layer; an import must go to a lower layer, or sideways as ALLOWED says.
LAYERS = {
    "core": 0,
    "errors": 1,
    "clock": 1,
    "logs": 1,
    "settings": 1,
    "storage": 2,
    "zoom": 2,
    "slack": 2,
    "sandbox": 2,
    "runtime": 3,
    "services": 4,
    "web": 5,
    "webhooks": 5,
    "scheduler": 5,
    "cli": 5,
    "demo": 5,
}
SIDEWAYS = {
    ("errors", "core"),  # the base error lives in core (see errors.py); this is not sideways but down
    ("settings", "errors"),
    ("settings", "clock"),
    ("web", "webhooks"),  # the app factory registers the webhook blueprint; slack reads bodies by it
    ("demo", "web"),  # the demo serves the app
    ("cli", "web"),  # `homeroom serve`
    ("cli", "demo"),
    ("cli", "scheduler"),
}
# Storage's attendance reads; outside storage only `services.attendance` calls them (after refreshing).
ATTENDANCE_READS = {
    "attendance_rows",
    "unmatched_rows",
    "unmatched_participant",
    "status_counts",
    "unmatched_counts",
}


@dataclass(frozen=True)
class Import:
    source: Path
    line: int
    target: str  # the imported module, absolute
    top_level: bool


def sources() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    top = {id(node) for node in tree.body} | {
        id(child) for node in tree.body if isinstance(node, ast.If | ast.Try) for child in ast.walk(node)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, alias.name, id(node) in top)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] if node.module else [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                yield Import(path, node.lineno, target, id(node) in top)


def part(module: str) -> str | None:
    """The part of the code a module belongs to (a key of LAYERS), or None outside the project."""
    pieces = module.split(".")
    if pieces[0] == "webhooks":
        return "webhooks"
    if pieces[0] != "zoom_homeroom" or len(pieces) == 1:
        return None
    return pieces[1]


def project_imports() -> list[tuple[str, str, Import]]:
    found = []
    for path in sources():
        importer = part(module_name(path))
        for item in imports(path):
            imported = part(item.target)
            if importer and imported and importer != imported:
                found.append((importer, imported, item))
    return found


def test_every_part_of_the_code_has_a_layer():
    parts = {part(module_name(path)) for path in sources()} - {None}
    assert parts <= set(LAYERS), parts - set(LAYERS)


def test_imports_run_down_the_layers():
    wrong = [
        f"{item.source.relative_to(ROOT)}:{item.line} {importer} -> {imported} ({item.target})"
        for importer, imported, item in project_imports()
        if LAYERS[imported] >= LAYERS[importer] and (importer, imported) not in SIDEWAYS
    ]
    assert wrong == []


def test_core_imports_nothing_with_io():
    io = ("flask", "werkzeug", "requests", "authlib", "sqlite3", "sqlite_utils", "apscheduler", "click")
    wrong = [
        f"{path.relative_to(ROOT)}:{item.line} {item.target}"
        for path in sorted((ROOT / "zoom_homeroom" / "core").rglob("*.py"))
        for item in imports(path)
        if item.target.split(".")[0] in io
    ]
    assert wrong == []


def test_a_function_level_import_says_why():
    missing = []
    for path in sources():
        if "sandbox" in path.parts:
            continue  # the sandbox's own conventions (another branch owns it)
        lines = path.read_text(encoding="utf-8").splitlines()
        for item in imports(path):
            said = any("#" in lines[n] for n in (item.line - 2, item.line - 1) if 0 <= n < len(lines))
            if not item.top_level and not said:
                missing.append(f"{path.relative_to(ROOT)}:{item.line} {item.target}")
    assert missing == []


def test_attendance_is_read_only_through_the_service():
    allowed = {ROOT / "zoom_homeroom" / "services" / "attendance.py"}
    calls = []
    for path in sources():
        if path in allowed or "storage" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                receiver = ast.unparse(node.func.value)
                if node.func.attr in ATTENDANCE_READS and receiver.endswith("storage"):
                    calls.append(f"{path.relative_to(ROOT)}:{node.lineno} {receiver}.{node.func.attr}")
    assert calls == []


def module_graph() -> dict[str, set[str]]:
    """Each project module -> the project modules it imports at its top level (a function-level import
    runs later, when every module is loaded, so it closes no loop at import time)."""
    names = {module_name(path) for path in sources()}
    graph: dict[str, set[str]] = {name: set() for name in names}
    for path in sources():
        importer = module_name(path)
        for item in imports(path):
            target = item.target
            while target and target not in names:  # `from .x import name` names a module's attribute
                target = target.rpartition(".")[0]
            if item.top_level and target and target != importer:
                graph[importer].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The loops of `graph`: its strongly connected parts of two modules or more (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            part = []
            while not part or part[-1] != node:
                part.append(stack.pop())
            if len(part) > 1:
                found.append(sorted(part))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycles_finds_a_loop_and_only_the_loop():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_module_imports_itself_round_a_loop_outside_the_sandbox():
    sandbox = "zoom_homeroom.sandbox"
    loops = [loop for loop in cycles(module_graph()) if not all(name.startswith(sandbox) for name in loop)]
    assert loops == []


def test_no_module_is_over_600_lines_outside_the_migrations():
    long = [
        f"{path.relative_to(ROOT)}: {lines} lines"
        for path in sources()
        if path.name != "migrations.py"
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > 600
    ]
    assert long == []


def test_the_module_map_names_every_module():
    text = (ROOT / "DEVELOPERS.md").read_text(encoding="utf-8")
    module_map = text.split("## Module map", 1)[1].split("## Import rules", 1)[0]
    unnamed = [str(path.relative_to(ROOT)) for path in sources() if path.name not in module_map]
    assert unnamed == []
