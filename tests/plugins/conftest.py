"""Plugins installed for real: a site folder on sys.path with packages and their dist-info.

`site.example("nodespace-paper")` installs an example of `examples/plugins/`
the way pip lays it out (the package and a `*.dist-info` whose
`entry_points.txt` is made from the example's own pyproject.toml), so
`importlib.metadata` finds its entry point exactly as it would after
`pip install`. `site.module(...)` installs a one-file plugin written by a test.
`plugins(allow=..., deny=...)` discovers again with those settings; every
test ends with the registries as the built-ins left them.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nodespace_lab.config import Settings
from nodespace_lab.plugins import registry

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "plugins"

UsePlugins = Callable[..., registry.Plugins]


class Site:
    """A folder on sys.path holding installed plugins."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _dist_info(self, name: str, version: str, entry_points: dict[str, str]) -> None:
        info = self.path / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        info.joinpath("METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
        )
        lines = "".join(f"{ep} = {target}\n" for ep, target in entry_points.items())
        info.joinpath("entry_points.txt").write_text(f"[nodespace_lab]\n{lines}", encoding="utf-8")

    def example(self, folder: str) -> None:
        """Install `examples/plugins/<folder>` (its package and its declared entry points)."""
        project = tomllib.loads((EXAMPLES / folder / "pyproject.toml").read_text("utf-8"))
        meta = project["project"]
        for package in (EXAMPLES / folder / "src").iterdir():
            shutil.copytree(package, self.path / package.name, ignore=_CACHES)
        self._dist_info(meta["name"], meta["version"], meta["entry-points"]["nodespace_lab"])

    def module(self, name: str, source: str, *, version: str = "0.1", entry: str = "") -> None:
        """Install module `name` (from `source`) as a plugin, entry point `entry` or `name`."""
        self.path.joinpath(f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        self._dist_info(name.replace("_", "-"), version, {entry or name: name})


_CACHES = shutil.ignore_patterns("__pycache__")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """An empty site folder on sys.path; its modules are forgotten afterwards."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    before = set(sys.modules)
    yield Site(folder)
    for name in set(sys.modules) - before:
        module = sys.modules[name]
        if str(getattr(module, "__file__", "") or "").startswith(str(folder)):
            del sys.modules[name]


@pytest.fixture
def plugins(site: Site) -> Iterator[UsePlugins]:
    """`plugins(allow=[...], deny=[...])`: discover the site's plugins with these settings."""

    def use(allow: list[str] | None = None, deny: list[str] | None = None) -> registry.Plugins:
        settings = Settings()
        settings.plugins.allow = list(allow or [])
        settings.plugins.deny = list(deny or [])
        return registry.reload(settings)

    yield use
    registry.reset()


@pytest.fixture(autouse=True)
def _no_entity_kinds_of_earlier_tests() -> None:
    """Entity kinds still register process-wide (issue 13 item 2, step 2, is not done):
    an entity kind 'paper' defined by an earlier test would clash with the example plugin's."""
    from nodespace_lab.nodes.kinds import KINDS

    for name in [n for n, spec in KINDS.items() if spec.extra.get("entity")]:
        del KINDS[name]
