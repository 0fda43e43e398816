"""The domain package imports no framework: ``api → workflow``, never back."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

WORKFLOW = Path(__file__).resolve().parents[2] / "workflow"
FORBIDDEN = ("flask", "flask_smorest", "flask_sqlalchemy", "marshmallow", "sqlalchemy", "apscheduler", "api")


@pytest.mark.parametrize("module", sorted(WORKFLOW.rglob("*.py")), ids=lambda path: str(path.relative_to(WORKFLOW)))
def test_the_workflow_package_imports_no_framework(module: Path) -> None:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    imported += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    offending = [name for name in imported if name.split(".")[0] in FORBIDDEN]
    assert offending == [], f"{module.name} imports {offending}"


API = WORKFLOW.parent / "api"
# the use cases and the lifecycles' hooks get what they need passed in (a session, the engine, `now`, the
# principal): they read no application global; a plug-in's own endpoints and commands (views.py, commands.py)
# and ``registry()``'s default are the edge, as every view is
EDGE = {"views.py", "commands.py"}
HOOK_MODULES = sorted([*API.glob("cases/*.py"), API / "history.py", API / "numbering.py", API / "writers.py",
                       *(path for path in API.glob("lifecycles/**/*.py")
                         if path.name not in EDGE and path != API / "lifecycles" / "__init__.py")])


@pytest.mark.parametrize("module", HOOK_MODULES, ids=lambda path: str(path.relative_to(API)))
def test_use_cases_and_hooks_read_no_application_global(module: Path) -> None:
    text = module.read_text(encoding="utf-8")
    assert "current_app" not in text and "db.session" not in text, f"{module} reads an application global"


def test_the_import_contracts_hold() -> None:
    """import-linter's contracts (pyproject.toml ``[tool.importlinter]``): the domain imports no framework; use
    cases and lifecycles import no views, pages or demo data."""
    import subprocess
    import sys

    linter = Path(sys.executable).parent / "lint-imports"
    if not linter.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    done = subprocess.run([str(linter)], cwd=WORKFLOW.parent, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-2000:]
