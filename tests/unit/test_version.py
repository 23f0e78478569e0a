"""One version, moving with releases: pyproject.toml's, as installed, printed and released."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from click.testing import CliRunner

import monitor
from monitor.cli import main

ROOT = Path(__file__).resolve().parents[2]
RELEASED = re.compile(r"^## (\d+\.\d+\.\d+) — (\d{4}-\d{2}-\d{2})$", re.MULTILINE)
"""A released section of CHANGELOG.md: `## 1.2.3 — 2026-12-05` (not `## Unreleased`)."""


def project_version() -> str:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert isinstance(version, str)
    return version


def test_the_newest_released_changelog_section_is_the_project_version() -> None:
    released = RELEASED.findall((ROOT / "CHANGELOG.md").read_text(encoding="utf-8"))
    assert released, "CHANGELOG.md has no released section"
    newest = released[0][0]
    assert newest == project_version(), "a release moves pyproject.toml's version and CHANGELOG.md together"
    versions = [tuple(map(int, v.split("."))) for v, _ in released]
    assert versions == sorted(versions, reverse=True), "the newest release comes first"
    dates = [d for _, d in released]
    assert dates == sorted(dates, reverse=True), dates


def test_the_installed_package_and_the_command_line_say_the_project_version() -> None:
    version = project_version()
    assert monitor.__version__ == version, "installed metadata is stale: pip install -e '.[test]' again"
    shown = CliRunner().invoke(main, ["--version"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.strip() == f"inbox-monitor, version {version}"


def test_the_kubernetes_manifests_deploy_the_project_version() -> None:
    version = project_version()
    kubernetes = ROOT / "deploy" / "kubernetes"
    kustomization = yaml.safe_load((kubernetes / "kustomization.yaml").read_text(encoding="utf-8"))
    assert [i["newTag"] for i in kustomization["images"] if i["name"] == "inbox-monitor"] == [version]
    deployment = yaml.safe_load((kubernetes / "deployment.yaml").read_text(encoding="utf-8"))
    images = [c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]]
    assert images == [f"inbox-monitor:{version}"]
