"""The layers of the house (issue 18) as tests, on the import graph of `gongwen_engine` (grimp).

Bottom → top: config → models → doc_templates → flows, and inside flows: engine → actions →
runtime → services → web → cli. A module imports its own layer and the layers below it, never a
layer above it: then no two layers can import each other (no cycle). Every failure names the
import, importer → imported, with its line.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import grimp
import pytest

PACKAGE = "gongwen_engine"

FOLDERS = ("config", "models", "doc_templates", "flows")  # bottom → top
# bottom → top; the CLI sits on the web app because `gongwen web` serves it (and sets its passwords)
FLOWS_LAYERS = ("engine", "actions", "runtime", "services", "web", "cli")
ENTRY = "entry"  # flows/__init__.py and flows/__main__.py (`python -m gongwen_engine.flows`): above every layer
INTERFACES = ("cli", "web")


@cache
def graph() -> grimp.ImportGraph:
    """The four folders as the packages they are mapped to: found by importlib both through the
    editable install's finder and through a plain path entry (grimp cannot list a namespace whose
    only path is an editable finder's placeholder)."""
    return grimp.build_graph(*(f"{PACKAGE}.{name}" for name in FOLDERS), include_external_packages=True, cache_dir=None)


def source_folder(package: str) -> Path:
    """Where the import system finds ``package``: the code the graph was built from."""
    spec = importlib.util.find_spec(f"{PACKAGE}.{package}")
    assert spec and spec.submodule_search_locations, f"{PACKAGE}.{package} is not importable"
    return Path(next(iter(spec.submodule_search_locations)))


def short(module: str) -> str:
    return module.removeprefix(f"{PACKAGE}.")


def internal_imports() -> Iterator[tuple[str, str]]:
    """Every direct import between two modules of the package, as (importer, imported)."""
    g = graph()
    for importer in sorted(g.modules):
        if not importer.startswith(f"{PACKAGE}."):
            continue
        for imported in sorted(g.find_modules_directly_imported_by(importer)):
            if imported.startswith(f"{PACKAGE}."):
                yield importer, imported


def described(importer: str, imported: str) -> str:
    """`importer → imported (line N: the import)`, one line per place the import is written."""
    details = graph().get_import_details(importer=importer, imported=imported)
    where = "; ".join(f"line {d['line_number']}: {d['line_contents']}" for d in details)
    return f"{short(importer)} → {short(imported)} ({where})"


def folder(module: str) -> str:
    return short(module).split(".")[0]


def flows_layer(module: str) -> str:
    """The flows layer of a module of flows (its sub-package), or ENTRY for flows' own modules."""
    parts = short(module).split(".")
    if len(parts) < 2 or parts[1] == "__main__":
        return ENTRY
    return parts[1]


FOLDERS_RANK = {name: rank for rank, name in enumerate(FOLDERS)}
FLOWS_RANK = {name: rank for rank, name in enumerate(FLOWS_LAYERS)} | {ENTRY: len(FLOWS_LAYERS)}


def flows_rank(module: str) -> int:
    """A module outside the layers counts as the top (test_every_module_of_flows_is_in_a_layer names it)."""
    return FLOWS_RANK.get(flows_layer(module), FLOWS_RANK[ENTRY])


# ---- (a) the folders, and the layers inside flows --------------------------------------------------------


@pytest.mark.parametrize("layer", FOLDERS)
def test_a_folder_imports_only_the_folders_below_it(layer: str) -> None:
    imports = list(internal_imports())
    assert imports, "grimp found no import between modules of the package"
    upward = [described(a, b) for a, b in imports if folder(a) == layer and FOLDERS_RANK[folder(b)] > FOLDERS_RANK[layer]]
    assert upward == [], f"{layer} imports a folder above it (order: {' → '.join(FOLDERS)}):\n" + "\n".join(upward)


def test_every_module_of_flows_is_in_a_layer() -> None:
    modules = [m for m in graph().modules if m.startswith(f"{PACKAGE}.flows")]
    assert modules, "grimp found no module under gongwen_engine.flows"
    stray = sorted(short(m) for m in modules if flows_layer(m) not in FLOWS_RANK)
    assert stray == [], f"modules of flows outside the layers {FLOWS_LAYERS}: {stray}"


@pytest.mark.parametrize("layer", FLOWS_LAYERS)
def test_a_flows_layer_imports_only_the_layers_below_it(layer: str) -> None:
    """(b) for flows.engine: nothing in the engine imports actions, runtime, services, cli or web."""
    in_flows = [(a, b) for a, b in internal_imports() if folder(a) == folder(b) == "flows"]
    upward = [described(a, b) for a, b in in_flows if flows_layer(a) == layer and flows_rank(b) > FLOWS_RANK[layer]]
    assert upward == [], f"flows.{layer} imports a layer above it (order: {' → '.join(FLOWS_LAYERS)}):\n" + "\n".join(upward)


DATA_MODELS = ("models.rules", "models.content", "models.records")  # pure rules and the data the renderer takes (document content, records): no database


def test_doc_templates_take_from_models_only_data() -> None:
    """Data in → bytes out: the renderer may use models.rules and models.content, never tables, a database or flows."""
    reaching = [
        described(a, b)
        for a, b in internal_imports()
        if folder(a) == "doc_templates" and folder(b) == "models" and not any(short(b) == m or short(b).startswith(f"{m}.") for m in DATA_MODELS)
    ]
    assert reaching == [], "doc_templates imports models beyond their data (rules, content):\n" + "\n".join(reaching)


# ---- (b) inside flows/engine --------------------------------------------------------------------------


def in_engine(module: str) -> bool:
    return short(module) == "flows.engine" or short(module).startswith("flows.engine.")


def test_the_engine_imports_only_models_config_and_itself() -> None:
    """The engine is handed its actions and renderer; from the package it knows only models and config."""
    reaching = [described(a, b) for a, b in internal_imports() if in_engine(a) and not in_engine(b) and folder(b) not in ("models", "config")]
    assert reaching == [], "flows/engine imports beyond models and config:\n" + "\n".join(reaching)


def test_no_import_cycle_inside_the_engine() -> None:
    engine = f"{PACKAGE}.flows.engine"
    assert graph().find_children(engine), "grimp found no module in flows/engine"
    breakers = sorted(graph().nominate_cycle_breakers(engine))
    assert breakers == [], "import cycles inside flows/engine; removing these imports would break them:\n" + "\n".join(described(a, b) for a, b in breakers)


# ---- (c) the interfaces call services: no database access under flows/cli and flows/web -------------------

DATABASE_PACKAGES = ("sqlmodel", "sqlalchemy")
SESSION_NAMES = ("Session", "select")
OPENS_A_SESSION = "transaction"  # models.db.transaction: a Session that commits


def database_uses(path: Path) -> Iterator[tuple[int, str]]:
    """(line, what) for every use of the database layer the AST of ``path`` shows."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    db_module = f"{PACKAGE}.models.db"
    db_aliases = set()  # the names models.db is bound to in this file
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in DATABASE_PACKAGES:
                    yield node.lineno, f"import {alias.name}"
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [a.name for a in node.names]
            if node.module.split(".")[0] in DATABASE_PACKAGES or (node.module == db_module and OPENS_A_SESSION in names):
                yield node.lineno, f"from {node.module} import {', '.join(names)}"
            if node.module == f"{PACKAGE}.models":
                db_aliases |= {a.asname or a.name for a in node.names if a.name == "db"}
        elif isinstance(node, ast.Name) and node.id in SESSION_NAMES:
            yield node.lineno, f"{node.id}"
        elif isinstance(node, ast.Attribute) and node.attr == "Session":
            yield node.lineno, "Session"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "exec":
            yield node.lineno, "session.exec"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == OPENS_A_SESSION and isinstance(node.value, ast.Name) and node.value.id in db_aliases:
            yield node.lineno, "db.transaction (opens a Session)"


@pytest.mark.parametrize("interface", INTERFACES)
def test_an_interface_never_opens_a_session_nor_selects(interface: str) -> None:
    folder = source_folder(f"flows.{interface}")
    files = sorted(folder.rglob("*.py"))
    assert files, f"no Python file under {folder}"
    uses = [f"flows/{interface}/{path.relative_to(folder)}:{line}: {what}" for path in files for line, what in sorted(set(database_uses(path)))]
    assert uses == [], f"flows/{interface} reaches the database (call a service instead):\n" + "\n".join(uses)


# ---- (d) Prefect stays in the runtime ----------------------------------------------------------------------


def test_only_the_runtime_imports_prefect() -> None:
    importers = graph().find_modules_that_directly_import("prefect")
    assert importers, "nothing imports prefect: the runtime's flows are gone"
    outside = sorted(described(m, "prefect") for m in importers if not short(m).startswith("flows.runtime."))
    assert outside == [], "prefect imported outside flows/runtime:\n" + "\n".join(outside)
