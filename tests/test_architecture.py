"""The layers of docs/architecture.md hold, and their contracts would catch a breach.

`make lint` runs import-linter on the repository; here each contract is also shown
to fail on a copy of the code with one forbidden import added or its one exemption
removed, so a contract that silently stopped checking would be noticed.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "tandem",
    "bench",
    "recette",
    "incidents",
    "evolutions",
    "workflow",
    "contacts",
)
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

LAYERS = "Layers: project > process apps > engine > reference data"
INDEPENDENT = "Process apps are independent; recette builds on evolutions only"
CONTACTS = "Reference data imports nothing of ours"
SHELL = "The project's shell imports no process app (each registers itself)"


def _verdicts(folder: Path) -> dict[str, str]:
    answer = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=folder,
        env={"PYTHONPATH": str(folder), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.findall(r"^(.+?) (KEPT|BROKEN)\b", answer.stdout, re.MULTILINE)
    assert found, answer.stdout + answer.stderr
    return dict(found)


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("layers")
    shutil.copy(ROOT / "pyproject.toml", folder)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            folder / package,
            ignore=shutil.ignore_patterns("__pycache__", "migrations", "static"),
        )
    return folder


def test_every_contract_holds_on_the_code(copy):
    assert _verdicts(copy) == dict.fromkeys(
        (LAYERS, INDEPENDENT, CONTACTS, SHELL), "KEPT"
    )


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("evolutions/models.py", "import recette.models", {LAYERS, INDEPENDENT}),
        (
            "workflow/access.py",
            "import evolutions.models",
            {LAYERS, INDEPENDENT, SHELL},
        ),
        ("contacts/models.py", "import workflow.access", {LAYERS, CONTACTS}),
        ("tandem/site.py", "import recette.pages", {SHELL}),
        # incidents: a sibling of recette, neither imports the other.
        ("incidents/models.py", "import recette.models", {LAYERS, INDEPENDENT}),
        ("recette/models.py", "import incidents.models", {LAYERS, INDEPENDENT}),
        ("incidents/clocks.py", "import evolutions.models", {INDEPENDENT}),
        (
            "workflow/access.py",
            "import incidents.models",
            {LAYERS, INDEPENDENT, SHELL},
        ),
        (
            "contacts/models.py",
            "import incidents.models",
            {LAYERS, CONTACTS, INDEPENDENT, SHELL},
        ),
        ("tandem/urls.py", "import incidents.models", {SHELL}),
    ],
)
def test_a_forbidden_import_breaks_its_contracts(copy, module, line, broken):
    path = copy / module
    source = path.read_text()
    path.write_text(f"{source}\n{line}\n")
    try:
        verdicts = _verdicts(copy)
    finally:
        path.write_text(source)
    assert {name for name, verdict in verdicts.items() if verdict == "BROKEN"} == broken


def test_without_its_exemption_the_independence_contract_breaks(copy):
    """recette imports evolutions by design; the exemption is what allows it."""
    config = copy / "pyproject.toml"
    source = config.read_text()
    exemption = '    "recette.** -> evolutions.**",\n'
    assert exemption in source
    config.write_text(source.replace(exemption, ""))
    try:
        verdicts = _verdicts(copy)
    finally:
        config.write_text(source)
    assert verdicts[INDEPENDENT] == "BROKEN"
    assert verdicts[LAYERS] == "KEPT"


def test_the_engine_and_the_reference_data_name_no_process_app():
    """The issue's own check: `grep -rn "import.*\\(evolutions\\|recette\\)"`."""
    pattern = re.compile(r"import.*(evolutions|recette)")
    hits = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in ("workflow", "contacts")
        for path in (ROOT / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
        for number, text in enumerate(
            path.read_bytes().decode(errors="replace").splitlines(), 1
        )
        if pattern.search(text)
    ]
    assert hits == []
