"""The ``borne`` command (borne/cli.py): each part loads only when used."""

from __future__ import annotations

import subprocess
import sys


def test_borne_help_lists_the_parts_without_importing_them():
    code = (
        "import sys; from borne.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'controller.app' not in sys.modules and 'flask' not in sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "controller" in result.stdout and "agent" in result.stdout


def test_the_agent_never_imports_the_controller():
    code = (
        "import sys, agent.cli, agent.daemon, agent.transport, agent.enrolment\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('controller', 'flask', 'sqlalchemy', 'flask_socketio')]\n"
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
