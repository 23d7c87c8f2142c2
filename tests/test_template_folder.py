"""The built-in templates as editors meet them: one top-level templates/ folder that is also
what the package carries, a templates/ folder beside feeds.yaml used without configuring it,
an editor's file that extends a built-in and overrides one block (in a dry run and in the
preview), and `dispatch templates init` for an installed dispatch.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.preview import running_preview
from helpers.project import ROOT, run_cli

TEMPLATES = ROOT / "templates"
FOOTER = """{% extends "default:email/digest.mjml.j2" %}
{% block footer %}
    <mj-section padding="24px 0">
      <mj-column>
        <mj-text align="center">{{ message }}</mj-text>
        <mj-text align="center"><a href="{{ unsubscribe }}">Leave the list</a></mj-text>
      </mj-column>
    </mj-section>
{% endblock %}
"""


def built_ins() -> dict[str, bytes]:
    return {
        path.relative_to(TEMPLATES).as_posix(): path.read_bytes()
        for path in TEMPLATES.rglob("*.j2")
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The bundled example, with a templates/ folder beside feeds.yaml (and no `templates:`)
    whose digest extends the built-in one and replaces its footer.
    """
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    shutil.copy(ROOT / "feeds.yaml", tmp_path / "feeds.yaml")
    assert "\ntemplates:" not in (tmp_path / "feeds.yaml").read_text()
    digest = tmp_path / "templates" / "email" / "digest.mjml.j2"
    digest.parent.mkdir(parents=True)
    digest.write_text(FOOTER.replace("{{ message }}", "Edited by the night desk"))
    return tmp_path


def assert_footer_replaced(html: str, message: str) -> None:
    assert message in html and "Leave the list" in html
    assert "because you subscribed to it" not in html  # the built-in footer is gone
    assert "The Think Tank Journal" in html  # the built-in header stays
    assert "Read more" in html or "<a " in html  # and its articles


def test_the_package_carries_the_top_level_templates() -> None:
    packaged = ROOT / "src" / "dispatch" / "templates"
    assert packaged.resolve() == TEMPLATES.resolve(), "one copy: the package's is the top level's"
    assert {"email/digest.mjml.j2", "social/x.txt.j2"} <= set(built_ins())


def test_a_dry_run_uses_the_folder_beside_feeds_yaml_and_the_built_in_it_extends(
    project: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = run_cli("send", "--dry-run", "--out", str(out), config=project / "feeds.yaml")
    assert result.code == 0, result.stderr
    pages = [page.read_text() for page in out.glob("digest-*.html")]
    assert pages, sorted(p.name for p in out.iterdir())
    for page in pages:
        assert_footer_replaced(page, "Edited by the night desk")


@pytest.fixture
def preview(project: Path) -> Iterator[str]:
    with running_preview(project / "feeds.yaml") as url:
        yield url


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode("utf-8"))


def test_the_preview_shows_the_override_and_follows_its_edits(project: Path, preview: str) -> None:
    index = fetch(preview)
    digests = sorted(set(re.findall(r"digest/(\d+)", index)))
    assert digests, index[:2000]
    assert_footer_replaced(fetch(f"{preview}digest/{digests[0]}"), "Edited by the night desk")

    digest = project / "templates" / "email" / "digest.mjml.j2"
    digest.write_text(FOOTER.replace("{{ message }}", "Edited again at dawn"))
    deadline = time.monotonic() + 10
    while "Edited again at dawn" not in (page := fetch(f"{preview}digest/{digests[0]}")):
        assert time.monotonic() < deadline, "the preview did not follow the template's save"
        time.sleep(0.2)
    assert_footer_replaced(page, "Edited again at dawn")


def test_templates_init_copies_the_built_ins_beside_feeds_yaml(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"  # need not exist yet
    result = run_cli("templates", "init", config=config)
    assert result.code == 0, result.stderr
    folder = tmp_path / "templates"
    copied = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.j2")}
    assert copied == built_ins()
    assert f"wrote {len(copied)} template(s) to {folder}" in result.stdout
    assert "set `templates:" not in result.stdout  # beside feeds.yaml: used as it is

    subject = folder / "email" / "subject.txt.j2"
    subject.write_text("{{ digest.title }}\n")
    again = run_cli("templates", "init", config=config)
    assert again.code == 0 and "wrote 0 template(s)" in again.stdout
    assert f"kept {len(copied)} already there" in again.stdout
    assert subject.read_text() == "{{ digest.title }}\n"

    forced = run_cli("templates", "init", "--force", config=config)
    assert forced.code == 0 and subject.read_bytes() == built_ins()["email/subject.txt.j2"]


def test_templates_init_into_another_folder_says_how_to_use_it(tmp_path: Path) -> None:
    result = run_cli("templates", "init", str(tmp_path / "mine"), config=tmp_path / "feeds.yaml")
    assert result.code == 0, result.stderr
    assert f"set `templates: {tmp_path / 'mine'}` in feeds.yaml" in result.stdout
    assert (tmp_path / "mine" / "email" / "digest.mjml.j2").is_file()


def test_templates_init_names_a_folder_it_cannot_write(tmp_path: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a folder")
    result = run_cli("templates", "init", str(blocker), config=tmp_path / "feeds.yaml")
    assert result.code == 1
    assert f"cannot write the templates into {blocker}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_the_wheel_carries_the_templates_as_files(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "templates", source / "templates")
    shutil.copytree(ROOT / "src", source / "src", symlinks=True, ignore=ignore)
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path / "wheel"),
            str(source),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "wheel").glob("dispatch-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packaged = {
            name.removeprefix("dispatch/templates/"): archive.read(name)
            for name in archive.namelist()
            if name.startswith("dispatch/templates/") and name.endswith(".j2")
        }
        assert "dispatch/preview/web/preview.html.j2" in archive.namelist()
    assert packaged == built_ins()
