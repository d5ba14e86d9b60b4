"""The controller's layout holds: a small kernel and one package per domain (DESIGN.md, "Inside
the controller"). A domain may call another domain's service functions, never its ``web`` or
``api``; the kernel never imports a domain, but for the app factory that lists them.

The imports are read from the source (every ``import``, function-local ones included), so a
violation fails here before anything runs.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import controller
from controller.app import DOMAINS

ROOT = Path(controller.__file__).parent
DOMAIN_NAMES = frozenset(d.__name__.removeprefix("controller.") for d in DOMAINS)
ADAPTERS = ("web", "api")
COMPOSITION_ROOT = "controller.app"  # lists the domains once


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, importer: str) -> set[str]:
    """Every module ``source`` imports; ``from controller import places`` counts as
    ``controller.places``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importer's package
                base = importer.rsplit(".", node.level)[0]
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def domain_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "controller" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in DOMAIN_NAMES else None


def violations(importer: str, imported: set[str]) -> list[str]:
    """What ``importer`` may not import, with the rule it breaks (once per module imported)."""
    own = domain_of(importer)
    found = set()
    for module in imported:
        other = domain_of(module)
        if other is None:
            continue
        target = ".".join(module.split(".")[:3])  # controller.<domain>.<module>
        if own is None and importer != COMPOSITION_ROOT:
            found.add(f"{importer} (kernel) imports the domain module {target}")
        elif own is not None and other != own and target.split(".")[2:] in ([a] for a in ADAPTERS):
            found.add(f"{importer} ({own}) imports {target}, another domain's adapter")
    return sorted(found)


def controller_modules() -> list[tuple[str, str]]:
    return [
        (module_name(path), path.read_text(encoding="utf-8"))
        for path in sorted(ROOT.rglob("*.py"))
        if "migrations/versions" not in path.as_posix()
    ]


def test_no_domain_imports_another_domains_pages_or_api_and_the_kernel_no_domain():
    problems = [
        problem
        for name, source in controller_modules()
        for problem in violations(name, imported_modules(source, name))
    ]
    assert problems == []


def test_every_domain_package_is_listed_once_in_the_app_factory():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    kernel_packages = {"api", "web", "migrations"}
    assert packages - kernel_packages == DOMAIN_NAMES
    assert len(DOMAINS) == len(DOMAIN_NAMES)
    for domain in DOMAINS:
        assert callable(domain.init_app), f"{domain.__name__} has no init_app"


@pytest.mark.parametrize(
    ("importer", "source", "expected"),
    [
        ("controller.lockers.service", "from controller.fleet import web", ["adapter"]),
        ("controller.lockers.web", "from controller.hotspots.api import hotspots_api", ["adapter"]),
        ("controller.lockers.web", "from controller.fleet import service as fleet", []),
        ("controller.lockers.web", "from controller.lockers.web import x", []),
        ("controller.jobs", "from controller.fleet.models import Device", ["kernel"]),
        ("controller.metrics", "from controller import places", ["kernel"]),
        ("controller.app", "from controller import places", []),
        ("controller.jobs", "from controller.db import Base", []),
    ],
)
def test_the_walk_catches_each_kind_of_violation(importer, source, expected, monkeypatch):
    monkeypatch.setattr("tests.controller.test_boundaries.DOMAIN_NAMES", DOMAIN_NAMES | {"lockers"})
    found = violations(importer, imported_modules(source, importer))
    assert [("adapter" if "adapter" in p else "kernel") for p in found] == expected


def test_the_kernels_templates_name_no_domains_page_or_template():
    # Jinja is not Python: the import walk cannot see url_for('fleet.index') in base.html.
    mentions = re.compile(r"""url_for\(\s*['"](\w+)\.|(?:import|extends|include)\s+['"](\w+)/""")
    found = []
    for path in sorted((ROOT / "web" / "templates").glob("*.html")):
        for match in mentions.finditer(path.read_text(encoding="utf-8")):
            name = match.group(1) or match.group(2)
            if name in DOMAIN_NAMES:
                found.append(f"{path.name}: {match.group(0)}")
    assert found == []
