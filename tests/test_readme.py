"""The README stays true: its Safety table lists every limit with its value, and the commands exist."""

import re
from pathlib import Path

from explorer.engine import limits

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def shown(value):
    if value is None:
        return "none"
    if isinstance(value, str):
        return value
    if isinstance(value, tuple):
        return ", ".join(map(shown, value))
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:g}".replace("e+0", "e").replace("e+", "e")


def test_every_limit_is_in_the_safety_table_with_its_value():
    rows = [line for line in README.splitlines() if line.startswith("|")]
    for name, value in vars(limits).items():
        if not name.isupper() or name.startswith("_"):
            continue
        row = next((r for r in rows if f"`{name}`" in r), None)
        assert row is not None, f"README's Safety table lacks {name}"
        parts = [f"{key} {shown(part)}" for key, part in value.items()] if isinstance(value, dict) else [shown(value)]
        for part in parts:
            assert part in row.split("|")[-2], f"README shows {name} without {part}"


def test_readme_gives_the_two_commands():
    assert re.search(r"^make run\b", README, re.M) and re.search(r"^make test\b", README, re.M)


def test_the_map_names_every_module_of_the_house():
    """How it is built: every module under explorer/ is on the map, and the map names no module that is gone."""
    section = README.split("## How it is built", 1)[1].split("\n## ", 1)[0]
    block = section.split("```\nstreamlit_app.py", 1)[1].split("```", 1)[0]
    named, folder = set(), ""
    for line in block.splitlines():
        if line.startswith("  ") and line.strip().endswith("/") and " " not in line.strip():
            folder = line.strip()
            continue
        if not line.startswith("    "):  # back at the package's own level: explorer/__init__.py, tests/, ...
            folder = ""
        for word in line.strip().split("  ")[0].replace(",", " ").split():
            if word.endswith(".py"):
                named.add(folder + word)
    root = Path(__file__).resolve().parent.parent / "explorer"
    actual = {str(path.relative_to(root)) for path in root.rglob("*.py") if path.name != "__init__.py"}
    assert named - {"__init__.py"} == actual
