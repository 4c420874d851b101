"""The package's layers, read from its own imports (every import statement, function-level
ones included; `if TYPE_CHECKING:` blocks excluded because they never run)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "video3d"

# The lower layers never reach up into these.
LOWER = ("config", "models", "flow", "utils")
UPPER = ("data", "engine", "evaluation", "inference", "cli", "serve", "visualize", "known_names", "launch")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, modules: set[str] = frozenset()) -> set[str]:
    """The modules `tree` imports: `from pkg import sub` names the submodule `pkg.sub` when it
    is one of `modules`, else `pkg` itself."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        targets = {target for target in _imports(ast.parse(path.read_text()), set(files)) if target.startswith("video3d")}
        graph[name] = {target for target in targets if target in files and target != name}
    return graph


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_lower_layers_import_nothing_above_them():
    upward = sorted(f"{module} -> {target}" for module, targets in _graph().items() if _layer(module) in LOWER
                    for target in targets if _layer(target) in UPPER)
    assert upward == []


def test_training_and_testing_do_not_know_each_other():
    graph = _graph()
    crossing = sorted(f"{module} -> {target}" for module, targets in graph.items() for target in targets
                      if {_layer(module), _layer(target)} == {"engine", "evaluation"} and _layer(module) == "engine")
    assert crossing == []


def test_inference_knows_nothing_of_its_viewers():
    upward = sorted(f"{module} -> {target}" for module, targets in _graph().items() if _layer(module) == "inference"
                    for target in targets if _layer(target) in ("visualize", "serve", "cli"))
    assert upward == []


def test_config_is_the_bottom_layer():
    below_config = ("config", "utils")
    upward = sorted(f"{module} -> {target}" for module, targets in _graph().items() if _layer(module) == "config"
                    for target in targets if _layer(target) not in below_config
                    and target not in ("video3d.errors", "video3d.choices"))
    assert upward == []


def test_utils_stand_on_nothing_but_errors_and_choices():
    upward = sorted(f"{module} -> {target}" for module, targets in _graph().items() if _layer(module) == "utils"
                    for target in targets if _layer(target) != "utils"
                    and target not in ("video3d.errors", "video3d.choices"))
    assert upward == []


def test_no_import_cycles():
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def strongconnect(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                strongconnect(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in graph:
        if node not in index:
            strongconnect(node)
    assert cycles == []


def test_the_graph_reads_function_level_imports():
    tree = ast.parse("def f():\n    from video3d.data import x\nif TYPE_CHECKING:\n    import video3d.engine\n")
    assert _imports(tree) == {"video3d.data"}
    assert _imports(tree, {"video3d.data.x"}) == {"video3d.data.x"}
