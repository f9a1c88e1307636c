"""The house: layers as packages (page -> serving -> views -> symbolic -> engine), no import cycles, small rooms.

`make test` runs `lint-imports` on the real tree; these tests show the contract failing on a wrong-way import,
so a green `lint-imports` means something.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
MAX_MODULE_LINES = 420  # "about 400": a room a reader holds in mind


def _lint_imports(root):
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


@pytest.fixture
def copy_of_the_house(tmp_path):
    shutil.copytree(ROOT / "explorer", tmp_path / "explorer", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_layers_hold_in_the_tree():
    run = _lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 kept, 0 broken" in run.stdout


@pytest.mark.parametrize("module, wrong_way", [
    ("engine/tree.py", "from explorer.views import graph"),  # the engine reaching up to a view
    ("views/plot.py", "from explorer.serving import cache"),  # a view reaching up to serving
    ("symbolic/calculus.py", "import streamlit"),  # Streamlit below the page
])
def test_a_wrong_way_import_breaks_the_contract(copy_of_the_house, module, wrong_way):
    path = copy_of_the_house / "explorer" / module
    path.write_text(path.read_text() + f"\n{wrong_way}  # noqa\n")
    run = _lint_imports(copy_of_the_house)
    assert run.returncode == 1
    assert "1 kept, 1 broken" in run.stdout


def test_no_module_imports_itself_through_others():
    graph = grimp.build_graph("explorer")
    cycles = [
        (importer, imported)
        for importer in sorted(graph.modules)
        for imported in graph.find_modules_directly_imported_by(importer)
        if graph.chain_exists(importer=imported, imported=importer)
    ]
    assert cycles == []



def _printed_by(code):
    """What `code` prints, run by a fresh Python in the repo: what a process starts with is what is tested."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout


def test_nothing_runs_at_import():
    """Importing every module of the house starts no thread, freezes nothing out of the collector and builds no
    worker: the entry script calls explorer.serving.facade.start() for that, once."""
    code = (
        "import gc, pkgutil, importlib, threading, explorer\n"
        "for module in pkgutil.walk_packages(explorer.__path__, 'explorer.'):\n"
        "    importlib.import_module(module.name)\n"
        "from explorer.symbolic import client\n"
        "print(threading.active_count(), gc.get_freeze_count(), client._POOL._starting + len(client._POOL._idle))\n"
    )
    assert _printed_by(code).split() == ["1", "0", "0"]


def test_start_starts_the_memory_threads_once():
    code = (
        "import threading, gc\n"
        "from explorer.serving import facade\n"
        "facade.start(); facade.start()\n"
        "print(sorted(t.name for t in threading.enumerate() if t.name != 'MainThread'), gc.get_freeze_count() > 0)\n"
    )
    assert _printed_by(code).strip() == "['gc-collect', 'malloc-trim'] True"


def test_the_warm_up_runs_once_after_the_first_page_off_the_visitors_path():
    code = (
        "import gc, threading\n"
        "from explorer.serving import facade\n"
        "facade.start(); frozen = gc.get_freeze_count()\n"
        "assert facade.WARM_UP_DELAY_SECONDS >= 1; facade.WARM_UP_DELAY_SECONDS = 0\n"
        "facade.warm_up(); facade.warm_up()\n"
        "names = [t.name for t in threading.enumerate() if t.name.startswith('torch-func')]\n"
        "facade._WARMED[0].join(60)\n"
        "print(names, facade._WARMED[0].is_alive(), gc.get_freeze_count() > frozen + 50_000)\n"
    )
    # What the warm-up imports (sympy, torch.fx: ~117k objects) is frozen out of the collector's walks too.
    assert _printed_by(code).strip() == "['torch-func-warm-up'] False True"


def test_every_module_is_a_small_room():
    sizes = {str(path.relative_to(ROOT)): len(path.read_text().splitlines())
             for path in (ROOT / "explorer").rglob("*.py")}
    assert {path: lines for path, lines in sizes.items() if lines > MAX_MODULE_LINES} == {}
