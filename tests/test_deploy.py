"""What Streamlit Community Cloud needs: requirements that install there, and torchviz importing on Python 3.12."""

import json
import shutil
import socket
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
    for name in ("streamlit", "torchviz", "graphviz", "plotly", "orjson", "sympy", "nbformat"):
        assert requirement(name), f"{name} is missing from requirements.txt"


def test_plotly_encodes_the_figure_with_orjson():
    """Every rerun with a plot encodes it with plotly.io.to_json; its "auto" engine takes orjson if it imports."""
    import orjson
    from plotly.io._json import JsonConfig, to_json_plotly

    assert JsonConfig().default_engine == "auto"
    calls, real_dumps = [], orjson.dumps
    try:
        orjson.dumps = lambda *args, **kwargs: calls.append(1) or real_dumps(*args, **kwargs)
        assert json.loads(to_json_plotly({"data": [{"x": [0.5, 1.0], "y": [2.0, -0.0]}]})) == {
            "data": [{"x": [0.5, 1.0], "y": [2.0, -0.0]}]}
    finally:
        orjson.dumps = real_dumps
    assert calls, "plotly fell back to the json module: orjson is not installed"


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


# torch's CPU build on Community Cloud (uv, then pip) and offline here: see the comment in requirements.txt.
CPU_PAGE = "https://download.pytorch.org/whl/cpu/torch/"
MAKEFILE = (ROOT / "Makefile").read_text()


def _content(line):
    """A requirements line without its comment (pip: a '#' at the line's start or after whitespace)."""
    return line.split(" #")[0].split("\t#")[0].strip() if not line.lstrip().startswith("#") else ""


def test_torch_cpu_page_is_a_find_links_line_of_its_own_and_no_requirement_carries_an_option():
    lines = [_content(line) for line in REQUIREMENTS if _content(line)]
    options = [line for line in lines if line.startswith("-")]
    assert options == [f"--find-links {CPU_PAGE}"], (
        "one flat page of torch's CPU wheels only: an index (-i/--extra-index-url) would make uv take jinja2, "
        "networkx, sympy... from PyTorch's index; the page of every build would give pip +xpu or +rocm"
    )
    for line in lines:
        if not line.startswith("-"):
            assert " -" not in line and "--" not in line, f"pip ignores index options on a requirement's line: {line}"


def test_torch_is_pinned_to_2_13_0_which_the_cpu_wheel_matches_and_outranks():
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    pin = requirement("torch")
    assert pin == "torch==2.13.0"
    spec = SpecifierSet(pin.removeprefix("torch"))
    # PEP 440, as pip applies it: `==2.13.0` admits the local label, and the label sorts above the bare version.
    assert "2.13.0+cpu" in spec and Version("2.13.0+cpu") > Version("2.13.0")
    assert "2.14.0" not in spec


def _requirements_installs():
    return [line.strip() for line in MAKEFILE.splitlines() if "pip install" in line and " -r requirements" in line]


def test_makefile_installs_requirements_without_retrying_an_unreachable_host():
    installs = _requirements_installs()
    assert len(installs) == 2, installs  # requirements.txt for make run, requirements-dev.txt (-r it) for make test
    for line in installs:
        assert " --retries 0 " in line, (
            f"pip retries an unreachable find-links page 5 times, with backoff, for every package: {line}"
        )


def _resolves(host):
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return False
    return True


@pytest.mark.slow  # runs pip: 2.6-6.5 s here
@pytest.mark.skipif(_resolves("download.pytorch.org"), reason="that host answers here: nothing offline to check")
def test_makefile_install_resolves_cpu_torch_offline_without_retrying(tmp_path):
    """The Makefile's flags on requirements.txt's option lines and torch: torch-2.13.0+cpu from this disk."""
    subset = tmp_path / "requirements.txt"
    kept = [line for line in map(_content, REQUIREMENTS) if line.startswith("-") or line.startswith("torch==")]
    subset.write_text("\n".join(kept) + "\n")
    flags = _requirements_installs()[0].split("pip install", 1)[1].split(" -r ")[0].split()
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        *flags,
        "--dry-run",
        "--ignore-installed",
        "--report",
        str(tmp_path / "report.json"),
        "-r",
        str(subset),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Retrying" not in result.stderr, "pip waited out retries of the unreachable page"
    installed = {
        item["metadata"]["name"].lower(): item["metadata"]["version"]
        for item in json.loads((tmp_path / "report.json").read_text())["install"]
    }
    assert installed["torch"] == "2.13.0+cpu"
    assert not [name for name in installed if name.startswith("nvidia") or name == "triton"]
