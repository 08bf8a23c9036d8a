"""Check the import graph of securechat/: no circles, and the layering rules hold.

    python scripts/import_graph.py [REPO_ROOT]

Reads every module's source with `ast` (nothing is imported) and counts every
import: at module level, inside functions, and inside `if TYPE_CHECKING:` blocks
too, since a circle of type-only imports still ties the modules together. Prints
each circle (a strongly connected set of more than one module) with the imports
that make it, each import that breaks a layering rule, and, as warnings only,
modules over 500 lines whose docstring gives no reason for their size (a line
starting "Size:" or the words "long because"). Exits 1 if it found a circle or
a broken rule.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "securechat"
LONG_MODULE = 500  # lines
SIZE_REASON = re.compile(r"^\s*Size:|long because", re.MULTILINE | re.IGNORECASE)


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str  # a module of the package, or the full dotted name of an outside one
    line: int
    type_only: bool  # inside `if TYPE_CHECKING:`

    def __str__(self) -> str:
        hint = " (TYPE_CHECKING)" if self.type_only else ""
        return f"{self.importer}:{self.line} imports {self.imported}{hint}"


@dataclass(frozen=True)
class Rule:
    """Modules under `layer` import none under `forbidden`."""

    layer: str
    forbidden: tuple[str, ...]
    why: str


RULES = (
    Rule("securechat.client",
         ("securechat.ui", "securechat.relay", "securechat.cli", "securechat.bot", "PyQt6"),
         "the client core is headless: it knows no front-end, no Qt and not the relay"),
    Rule("securechat.relay", ("securechat.client", "securechat.ui"),
         "the relay never reaches the client"),
    Rule("securechat.protocol",
         ("securechat.client", "securechat.relay", "securechat.ui", "securechat.cli",
          "securechat.bot"),
         "the protocol is shared ground: it imports neither side"),
    Rule("securechat.ui", ("securechat.relay", "securechat.client.wamp"),
         "the UI talks to the relay only through the client core"),
)


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def find_modules(repo: Path, package: str = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the package."""
    found = {}
    for path in sorted((repo / package).rglob("*.py")):
        parts = list(path.relative_to(repo).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


class _Imports(ast.NodeVisitor):
    def __init__(self, name: str, is_package: bool, known: set[str]) -> None:
        self._name = name
        # What a relative import is relative to: the package itself, or the module's.
        self._here = name if is_package else name.rpartition(".")[0]
        self._known = known
        self._type_only = False
        self.found: list[Import] = []

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            outer, self._type_only = self._type_only, True
            for child in node.body:
                self.visit(child)
            self._type_only = outer
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(self._resolve(alias.name), node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self._here
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            base = f"{base}.{node.module}" if node.module else base
        else:
            base = node.module or ""
        # `from pkg import x` runs pkg/__init__.py first, whatever x is: it depends on
        # pkg (write `import pkg.sub as sub` to depend on the submodule alone).
        self._add(self._resolve(base), node.lineno)
        for alias in node.names:
            # ... and on the module pkg.x too, when there is one.
            submodule = f"{base}.{alias.name}"
            if submodule in self._known:
                self._add(submodule, node.lineno)

    def _resolve(self, dotted: str) -> str:
        """The package's deepest module that `dotted` names (an outside name as is)."""
        candidate = dotted
        while candidate and candidate not in self._known:
            candidate = candidate.rpartition(".")[0]
        return candidate or dotted

    def _add(self, imported: str, line: int) -> None:
        found = Import(self._name, imported, line, self._type_only)
        if imported != self._name and found not in self.found:  # `from x import a, b`: once
            self.found.append(found)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def find_imports(modules: Mapping[str, Path]) -> list[Import]:
    known = set(modules)
    found: list[Import] = []
    for name, path in modules.items():
        visitor = _Imports(name, path.name == "__init__.py", known)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        found += visitor.found
    return found


def graph_of(imports: Iterable[Import], modules: Iterable[str]) -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for imp in imports:
        if imp.imported in graph:
            graph[imp.importer].add(imp.imported)
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected sets of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


@dataclass(frozen=True)
class Violation:
    found: Import
    rule: Rule

    def __str__(self) -> str:
        return f"{self.found}: {self.rule.why}"


def violations(imports: Iterable[Import], rules: Iterable[Rule] = RULES) -> list[Violation]:
    rules = list(rules)
    return [Violation(imp, rule) for imp in imports for rule in rules
            if within(imp.importer, rule.layer)
            and any(within(imp.imported, f) for f in rule.forbidden)]


def long_without_reason(modules: Mapping[str, Path]) -> list[str]:
    """Modules over LONG_MODULE lines whose docstring does not say why."""
    found = []
    for name, path in modules.items():
        source = path.read_text(encoding="utf-8")
        lines = source.count("\n")
        if lines > LONG_MODULE:
            docstring = ast.get_docstring(ast.parse(source, str(path))) or ""
            if not SIZE_REASON.search(docstring):
                found.append(f"{name}: {lines} lines, and its docstring gives no reason "
                              "(a line 'Size: ...' or 'long because ...')")
    return found


@dataclass(frozen=True)
class Report:
    cycles: list[list[str]]
    circle_imports: list[list[Import]]  # per circle, the imports between its members
    violations: list[Violation]
    warnings: list[str]

    @property
    def ok(self) -> bool:
        return not self.cycles and not self.violations

    def lines(self) -> list[str]:
        out = []
        for members, edges in zip(self.cycles, self.circle_imports, strict=True):
            out.append(f"circle of {len(members)} modules: {', '.join(members)}")
            out += [f"    {e}" for e in edges]
        out += [f"layering: {v}" for v in self.violations]
        out += [f"warning: {w}" for w in self.warnings]
        if self.ok:
            out.append("no circles, no layering violations")
        return out


def check(repo: Path = REPO, package: str = PACKAGE, rules: Iterable[Rule] = RULES) -> Report:
    modules = find_modules(repo, package)
    imports = find_imports(modules)
    found = cycles(graph_of(imports, modules))
    edges = [sorted((i for i in imports if i.importer in c and i.imported in c),
                    key=lambda i: (i.importer, i.line)) for c in found]
    return Report(found, edges, violations(imports, rules), long_without_reason(modules))


def main(argv: list[str]) -> int:
    report = check(Path(argv[1]) if len(argv) > 1 else REPO)
    sys.stdout.write("\n".join(report.lines()) + "\n")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
