"""requirements.lock pins, to one exact version, every package that pyproject.toml asks for, extras
included (make installs them all)."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_every_dependency_is_pinned_exactly():
    lock = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version and re.fullmatch(r"[0-9][0-9A-Za-z.+]*", version), f"not an exact pin: {line}"
            lock[_name(name)] = version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    missing = [r for r in wanted if _name(r) not in lock]
    assert not missing, f"in pyproject.toml but not locked: {missing}"
    assert lock["torch"] == "2.13.0" and {"pip", "setuptools"} <= set(lock)
