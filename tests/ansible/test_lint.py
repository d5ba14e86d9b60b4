"""The playbooks parse, ansible-lint's production profile passes, and every variable a role reads
has its default in ``defaults/main.yml``."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.ansible.conftest import ANSIBLE_DIR, run_ansible

PLAYBOOKS = ("pc", "kiosk", "hotspot")
DEVICE_ROLES = ("borne_agent", "public_pc", "charging_kiosk", "hotspot")


@pytest.mark.parametrize("kind", PLAYBOOKS)
def test_playbook_passes_ansibles_syntax_check(kind, ansible_env):
    result = run_ansible(
        "ansible-playbook", "--syntax-check", "-i", "localhost,", f"playbooks/{kind}.yml",
        env=ansible_env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_ansible_lint_production_profile_passes(ansible_env):
    result = run_ansible("ansible-lint", "--nocolor", env=ansible_env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Profile 'production' was required, and it passed" in result.stdout + result.stderr


@pytest.mark.parametrize("role", DEVICE_ROLES)
def test_role_has_the_conventional_layout(role):
    folders = {path.name for path in (ANSIBLE_DIR / "roles" / role).iterdir() if path.is_dir()}
    assert {"tasks", "handlers", "templates", "defaults", "meta"} <= folders


@pytest.mark.parametrize("role", DEVICE_ROLES)
def test_every_variable_a_role_reads_has_a_default(role):
    folder = ANSIBLE_DIR / "roles" / role
    defaults = set(yaml.safe_load((folder / "defaults" / "main.yml").read_text()) or {})
    set_here: set[str] = set()  # registered results, facts and task-level vars
    text = ""
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.parts[-2] == "defaults":
            continue
        text += path.read_text()
        if path.suffix == ".yml":
            set_here |= _names_set_by(yaml.safe_load(path.read_text()))
    read = set(re.findall(rf"\b({role}_[a-z0-9_]+)\b", text))
    assert read - defaults - set_here == set()


def _names_set_by(node: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(node, list):
        for item in node:
            names |= _names_set_by(item)
    elif isinstance(node, dict):
        if isinstance(node.get("register"), str):
            names.add(node["register"])
        for key in ("vars", "ansible.builtin.set_fact"):
            if isinstance(node.get(key), dict):
                names |= set(node[key])
        for value in node.values():
            names |= _names_set_by(value)
    return names


def test_the_device_roles_read_only_what_borne_agent_defines():
    agent = set(yaml.safe_load((ANSIBLE_DIR / "roles/borne_agent/defaults/main.yml").read_text()))
    for role in DEVICE_ROLES[1:]:
        folder = ANSIBLE_DIR / "roles" / role
        text = "".join(p.read_text() for p in folder.rglob("*") if p.is_file())
        read = set(re.findall(r"\b(borne_[a-z0-9_]+)\b", text)) - {"borne_agent"}  # the role
        assert read - agent == set(), role
