"""The API reference site: mkdocs.yml at the root, and an API page for every subpackage."""

from pathlib import Path

import yaml

from conftest import ROOT

PACKAGE = ROOT / "src" / "nanocloak"


def subpackages() -> list[str]:
    return sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))


def test_every_subpackage_has_an_api_page():
    def documented(name: str) -> bool:
        page = ROOT / "docs" / "api" / f"{name}.md"
        return page.exists() and f"::: nanocloak.{name}" in page.read_text(encoding="utf-8")

    missing = [name for name in subpackages() if not documented(name)]
    assert subpackages() and not missing, f"docs/api/ lacks a page for: {', '.join(missing)}"


def test_mkdocs_config_builds_offline_and_strict():
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    config = yaml.safe_load(text)
    assert config["strict"] is True and config["docs_dir"] == "docs"
    assert config["theme"]["name"] == "material" and config["theme"]["font"] is False   # no web fonts
    handler = config["plugins"][1]["mkdocstrings"]["handlers"]["python"]
    assert handler["paths"] == ["src"]                      # read from the source, no install needed
    assert "import" not in handler                          # no inventories fetched from the network
    assert Path(ROOT / "docs" / "index.md").exists()
