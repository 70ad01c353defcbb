"""Imported first by every Python tool: when scripts/setup made .venv (the system's python3 lacks
a pinned tool), the tool runs again under .venv's python, with .venv/bin first on PATH so the
aws, cfn-lint and moto_server it starts are the pinned ones too."""
import os
import sys

_VENV = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".venv")
_PYTHON = os.path.join(_VENV, "bin", "python")

if os.path.exists(_PYTHON) and os.path.realpath(sys.prefix) != os.path.realpath(_VENV):
    os.environ["PATH"] = os.path.join(_VENV, "bin") + os.pathsep + os.environ.get("PATH", "")
    os.execv(_PYTHON, [_PYTHON, os.path.abspath(sys.argv[0])] + sys.argv[1:])
