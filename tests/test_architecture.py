"""Architecture rules checked by parsing every module under src/seatwise with `ast`.

Only seatwise/config.py reads the environment; the simulator imports nothing from the product;
imports between layers follow `LAYERS` (front ends → application layer → stages → graph/store →
base); every module has a docstring. The rules run over whatever modules exist, so they keep
checking code written later.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "seatwise"

# Names through which Python code reads or changes the process environment.
ENVIRONMENT_NAMES = frozenset({"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"})


@dataclass(frozen=True)
class Module:
    """One parsed module: its dotted name, its path relative to src/, and its syntax tree."""

    name: str
    path: str
    tree: ast.Module

    @property
    def is_package(self) -> bool:
        return self.path.endswith("__init__.py")

    def imports(self) -> list[tuple[int, str]]:
        """Every module this one may import, as (line, absolute dotted name).

        `from pkg.mod import name` counts as `pkg.mod.name`, since `name` may be a submodule;
        a rule about `pkg.mod` therefore matches it as well.
        """
        found: list[tuple[int, str]] = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                found.extend((node.lineno, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = self._resolve(node)
                found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
        return found

    def _resolve(self, node: ast.ImportFrom) -> str:
        if node.level == 0:
            return node.module or ""
        parts = self.name.split(".")
        package = parts if self.is_package else parts[:-1]
        anchor = package[: len(package) - (node.level - 1)]
        return ".".join(anchor + ([node.module] if node.module else []))


PATHS = sorted(PACKAGE.rglob("*.py"))
SIMULATOR_PATHS = [p for p in PATHS if (PACKAGE / "simulator") in p.parents]


@functools.cache
def _parse(path: Path) -> Module:
    """Parse one module; a syntax error fails the test that asked, not the whole collection."""
    relative = path.relative_to(SRC)
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        pytest.fail(f"{relative} does not parse: {exc}")
    return Module(".".join(parts), relative.as_posix(), tree)


def _ids(paths: list[Path]) -> list[str]:
    return [p.relative_to(SRC).as_posix() for p in paths]


def test_modules_were_found() -> None:
    assert PACKAGE / "config.py" in PATHS


@pytest.mark.parametrize("path", PATHS, ids=_ids(PATHS))
def test_only_config_reads_the_environment(path: Path) -> None:
    module = _parse(path)
    if module.name == "seatwise.config":
        return
    uses = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Attribute) and node.attr in ENVIRONMENT_NAMES:
            uses.append((node.lineno, node.attr))
        elif isinstance(node, ast.Name) and node.id in ENVIRONMENT_NAMES:
            uses.append((node.lineno, node.id))
        elif isinstance(node, ast.alias) and node.name.split(".")[-1] in ENVIRONMENT_NAMES:
            uses.append((node.lineno, node.name))
    assert not uses, (
        f"{module.path} reads the environment at {uses}; "
        "only seatwise/config.py may, everything else receives Settings"
    )


def _inside(package: str, name: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize("path", SIMULATOR_PATHS, ids=_ids(SIMULATOR_PATHS))
def test_simulator_imports_nothing_from_the_product(path: Path) -> None:
    module = _parse(path)
    bad = [
        (line, name)
        for line, name in module.imports()
        if name.startswith("seatwise.") and not _inside("seatwise.simulator", name)
    ]
    assert not bad, f"{module.path} imports product code {bad}; the simulator must stand alone"


# Which layers each layer may import (besides itself), DESIGN §1 and §9: the front ends (cli,
# web, worker) parse, call the application layer (workspace) and render; none imports another.
# The stages (sync, analytics, reclaim) sit on graph and store; everything may use the base
# modules (config, errors, secrets, cells, services, skus).
FRONT_ENDS = ("cli", "web", "worker")
BELOW_WORKSPACE = frozenset({"sync", "analytics", "reclaim", "graph", "store", "base"})
LAYERS: dict[str, frozenset[str]] = {
    "cli": frozenset({"workspace"}) | BELOW_WORKSPACE,
    "web": frozenset({"workspace"}) | BELOW_WORKSPACE,
    "worker": frozenset({"workspace"}) | BELOW_WORKSPACE,
    "workspace": BELOW_WORKSPACE,
    "reclaim": frozenset({"analytics", "sync", "graph", "store", "base"}),
    "sync": frozenset({"graph", "store", "base"}),
    "analytics": frozenset({"store", "base"}),
    "graph": frozenset({"base"}),
    "store": frozenset({"base"}),
    "base": frozenset({"base"}),
    "simulator": frozenset(),
}
# Wiring that starts another part, named one by one: `python -m seatwise` runs the CLI; the
# CLI's `serve` and `demo` start the web server, `worker` the job worker, and `simulate` and
# `demo` the simulator.
WIRING = {
    "seatwise.__main__": ("seatwise.cli",),
    "seatwise.cli.web": ("seatwise.web.app", "seatwise.web.scheduler"),
    "seatwise.cli.demo": ("seatwise.web.app", "seatwise.simulator"),
    "seatwise.cli.simulate": ("seatwise.simulator",),
    "seatwise.cli.worker": ("seatwise.worker",),
}


def _layer(name: str) -> str:
    parts = name.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    return "base"


@pytest.mark.parametrize("path", PATHS, ids=_ids(PATHS))
def test_imports_follow_the_layers(path: Path) -> None:
    module = _parse(path)
    layer = _layer(module.name)
    allowed = LAYERS[layer] | {layer}
    bad = [
        (line, name)
        for line, name in module.imports()
        if name.startswith("seatwise.")
        and _layer(name) not in allowed
        and not any(_inside(p, name) for p in WIRING.get(module.name, ()))
    ]
    assert not bad, (
        f"{module.path} ({layer}) imports {bad}; {layer} may import only "
        f"{sorted(LAYERS[layer])} (tests/test_architecture.py LAYERS)"
    )


def test_the_layer_rule_catches_a_wrong_way_import() -> None:
    """The checker itself: web importing cli, a stage importing the workspace, both refused."""
    assert "cli" not in LAYERS["web"] and "web" not in LAYERS["worker"]
    assert "workspace" not in LAYERS["sync"] and "workspace" not in LAYERS["analytics"]
    assert _layer("seatwise.cli.context") == "cli" and _layer("seatwise.errors") == "base"
    assert all(layer in LAYERS for layer in FRONT_ENDS)


@pytest.mark.parametrize("path", PATHS, ids=_ids(PATHS))
def test_every_module_has_a_docstring(path: Path) -> None:
    module = _parse(path)
    doc = ast.get_docstring(module.tree)
    assert doc and doc.strip(), f"{module.path} has no module docstring"


def test_relative_imports_are_resolved() -> None:
    """The checker itself: relative imports in the simulator resolve to absolute names."""
    source = "from . import tenant\nfrom ..config import Settings\nfrom .. import errors\n"
    tree = ast.parse(source)
    sim = Module("seatwise.simulator.routes", "seatwise/simulator/routes.py", tree)
    assert {name for _, name in sim.imports()} == {
        "seatwise.simulator.tenant",
        "seatwise.config.Settings",
        "seatwise.errors",
    }
    package = Module("seatwise.simulator", "seatwise/simulator/__init__.py", tree)
    assert "seatwise.simulator.tenant" in {name for _, name in package.imports()}
