"""Every DVC stage lists, among its deps, the project code it runs.

A stage's code is the module its ``cmd`` runs (``python -m pipelines.<stage>``) and every
first-party module that one imports, directly or through others (imports inside functions count:
they run too). A code change in any of them must rerun the stage, so each file has to sit under
one of the stage's ``deps`` (a file or a folder). Package ``__init__`` files that hold no code
(a docstring, ``__version__``, ``__all__``) are left out: they change nothing a stage computes.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
#: First-party top-level packages and the folder each lives in.
PACKAGE_ROOTS = {
    "speech2video": REPO / "src",
    "speech2video_mlops": REPO / "src",
    "speech2video_api": REPO / "src",
    "pipelines": REPO,
}


def module_file(name: str) -> Path | None:
    """The source file of first-party module ``name`` (``a.b.c``), or None if not ours."""
    root = PACKAGE_ROOTS.get(name.split(".")[0])
    if root is None:
        return None
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path, module: str) -> set[str]:
    """Module names ``path`` (the source of ``module``) imports, anywhere in its body."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            names.add(target)
            # ``from pkg import submodule`` imports the submodule too.
            names.update(f"{target}.{alias.name}" for alias in node.names)
    # Importing ``a.b.c`` runs ``a`` and ``a.b`` as well.
    expanded = set()
    for name in names:
        parts = name.split(".")
        expanded.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return expanded


def holds_code(path: Path) -> bool:
    """False for an ``__init__.py`` that only has a docstring and plain constants."""
    if path.name != "__init__.py":
        return True
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant | ast.List):
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        return True
    return False


def stage_code(entry: str) -> set[Path]:
    """Files of every first-party module that running module ``entry`` imports, itself too."""
    seen: dict[str, Path] = {}
    todo = [entry]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = module_file(name)
        if path is None:
            continue
        seen[name] = path
        todo.extend(imported_modules(path, name) - set(seen))
    return {path for path in seen.values() if holds_code(path)}


def covered(path: Path, deps: list[str]) -> bool:
    relative = path.relative_to(REPO).as_posix()
    return any(relative == dep or relative.startswith(dep.rstrip("/") + "/") for dep in deps)


def _stages() -> dict[str, dict]:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


STAGES = _stages()


def test_every_stage_runs_a_pipelines_module() -> None:
    for name, stage in STAGES.items():
        assert re.fullmatch(r"python -m pipelines\.\w+", stage["cmd"]), (name, stage["cmd"])


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_list_the_code_it_runs(name: str) -> None:
    stage = STAGES[name]
    entry = stage["cmd"].split()[-1]
    code = stage_code(entry)
    assert module_file(entry) in code, f"{name}: {entry} not found"
    deps = [dep for dep in stage.get("deps", []) if "${" not in dep]
    missing = sorted(p.relative_to(REPO).as_posix() for p in code if not covered(p, deps))
    assert not missing, f"dvc.yaml stage {name!r} runs code its deps omit: {missing}"


def test_the_import_walk_finds_lazy_and_relative_imports(tmp_path: Path) -> None:
    """The walker itself: an import inside a function and a ``from . import`` are followed."""
    source = tmp_path / "mod.py"
    source.write_text(
        "def f():\n    from speech2video.body import pose_layout\n"
        "from . import stage_io\nimport speech2video.audio.features as feats\n"
    )
    names = imported_modules(source, "pipelines.mod")
    assert "speech2video.body.pose_layout" in names
    assert "pipelines.stage_io" in names
    assert {"speech2video.audio", "speech2video.audio.features"} <= names
