"""Installing the project, as `make up` does: the build says nothing is deprecated."""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_licence_is_an_spdx_expression_without_licence_classifiers():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    assert not [c for c in project.get("classifiers", []) if c.startswith("License ::")]


@pytest.mark.integration
@pytest.mark.timeout(240)
def test_building_the_project_prints_no_deprecation_warning(tmp_path):
    # The same build `pip install -e .` runs (an isolated setuptools from the index), verbose
    # so the backend's warnings are shown; on a copy, as setuptools writes build/ beside it.
    source = tmp_path / "source"
    source.mkdir()
    for part in ("pyproject.toml", "README.md", "contracts", "infra", "services"):
        copy = shutil.copytree if (ROOT / part).is_dir() else shutil.copy
        copy(ROOT / part, source / part, **({"ignore": shutil.ignore_patterns("__pycache__")} if (ROOT / part).is_dir() else {}))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--wheel-dir", str(tmp_path / "wheels"), str(source)],
        capture_output=True, text=True, timeout=220,
    )
    output = built.stdout + built.stderr
    assert built.returncode == 0, output
    assert "Deprecat" not in output and "deprecat" not in output, output
