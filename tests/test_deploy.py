"""What Streamlit Community Cloud needs: requirements that install there, and torchviz importing on Python 3.12."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = (ROOT / "requirements.txt").read_text().split("\n")


def find_python_312():
    """A working python3.12: pyenv's shim on PATH may refuse to run, so try its install folder too."""
    candidates = [shutil.which("python3.12"), *sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))]
    for candidate in filter(None, candidates):
        probe = subprocess.run([str(candidate), "--version"], capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.startswith("Python 3.12"):
            return candidate
    return None


PYTHON_312 = find_python_312()


def requirement(name):
    return next((line.strip() for line in REQUIREMENTS if line.split("=")[0].strip() == name), None)


def test_requirements_pin_torch_and_keep_setuptools_for_torchviz():
    assert requirement("torch") == "torch==2.13.0", "an unpinned torch pulls a multi-GB CUDA build"
    assert requirement("setuptools") is not None, "torchviz 0.0.3 imports distutils, gone from Python 3.12"
    for name in ("streamlit", "torchviz", "graphviz", "plotly", "sympy", "nbformat"):
        assert requirement(name), f"{name} is missing from requirements.txt"


def test_packages_txt_installs_graphviz_for_the_svg_export():
    packages = (ROOT / "packages.txt").read_text().split()  # Community Cloud: Debian packages, one a line
    assert "graphviz" in packages, "without Graphviz's dot the page cannot offer the graph as SVG"
    assert "graphviz" in (ROOT / ".ci" / "run").read_text(), "CI installs it too, so the SVG test runs"


def test_app_entry_point_is_at_the_root():
    assert (ROOT / "streamlit_app.py").is_file()


# A stand-in torch: torchviz imports distutils *before* torch, which is what this checks; the
# real torch 2.13.0 wheel on this disk is for Python 3.11 only.
FAKE_TORCH = {"torch/__init__.py": "__version__ = '2.13.0'\n", "torch/autograd.py": "Variable = object\n"}


def _run(python, *args, **kwargs):
    return subprocess.run([str(python), *args], capture_output=True, text=True, timeout=300, **kwargs)


@pytest.mark.slow  # over 5 s (--durations)
@pytest.mark.skipif(PYTHON_312 is None, reason="no python3.12 on this machine to test Community Cloud's default")
def test_torchviz_imports_on_python_312_only_with_setuptools(tmp_path):
    venv = tmp_path / "py312"
    assert _run(PYTHON_312, "-m", "venv", str(venv)).returncode == 0
    python = venv / "bin" / "python"
    for name, text in FAKE_TORCH.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    pins = [requirement("torchviz"), requirement("graphviz")]
    assert _run(python, "-m", "pip", "install", "-q", "--no-deps", *pins).returncode == 0
    env = {"PYTHONPATH": str(tmp_path), "PATH": str(venv / "bin")}
    without = _run(python, "-c", "import torchviz", env=env)
    assert "distutils" in without.stderr, "a bare 3.12 venv should lack distutils: the check below proves setuptools"
    assert _run(python, "-m", "pip", "install", "-q", requirement("setuptools")).returncode == 0
    with_setuptools = _run(python, "-c", "import torchviz; print(torchviz.make_dot.__name__)", env=env)
    assert with_setuptools.returncode == 0, with_setuptools.stderr
    assert with_setuptools.stdout.strip() == "make_dot"


def test_python_is_311_or_newer():
    assert sys.version_info >= (3, 11)
