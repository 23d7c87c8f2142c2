"""What can be tested of the image without a Docker engine (none runs on our machines): the
build context, by the Docker project's own Python client's reading of .dockerignore; the
entrypoint, run as the image runs it against folders owned by other users; and the compose
files against the configurations they run.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers.prepared import needs
from helpers.project import ROOT

ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
IMAGE_USER = 10001


def _context() -> set[str]:
    """The files `docker build .` sends, as docker-py (the Docker SDK for Python) reads
    .dockerignore.
    """
    from docker.utils.build import exclude_paths

    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    included = exclude_paths(str(ROOT), patterns)
    return {path for path in included if (ROOT / path).is_file()}


def test_the_build_context_is_the_project_without_the_machine() -> None:
    context = _context()
    copied = re.findall(r"^COPY (.+) \S+$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    for sources in copied:
        for source in sources.split():
            folder = source.rstrip("/") + "/"
            assert any(p == source or p.startswith(folder) for p in context), source
    assert "Dockerfile" in context and "src/dispatch/cli/main.py" in context
    assert "templates/email/digest.mjml.j2" in context
    for left_out in (".venv/", ".git/", "tests/", "bench/", "__pycache__/", ".mypy_cache/"):
        assert not [p for p in context if f"/{left_out}" in f"/{p}"], left_out
    size = sum((ROOT / path).stat().st_size for path in context)
    assert size < 2_000_000, f"{size:,} bytes"


@pytest.fixture
def reachable() -> Iterator[Path]:
    """A folder every user may reach (pytest's own are its user's alone), removed after."""
    folder = Path(tempfile.mkdtemp(prefix="dispatch-entrypoint-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


@pytest.fixture
def fake_dispatch(reachable: Path) -> dict[str, str]:
    """A `dispatch` on the PATH that records who ran it and writes a file, as the state is."""
    folder = reachable / "bin"
    folder.mkdir()
    script = folder / "dispatch"
    script.write_text(
        '#!/bin/sh\nid -u > "$DISPATCH_DATA/ran-as"\necho "$@" >> "$DISPATCH_DATA/ran-as"\n'
        'touch "$DISPATCH_DATA/state.db"\n'
    )
    script.chmod(0o755)
    folder.chmod(0o755)
    return {"PATH": f"{folder}:{os.environ['PATH']}"}


def _data(reachable: Path, owner: int) -> Path:
    data = reachable / "data"
    data.mkdir()
    os.chown(data, owner, owner)
    data.chmod(0o755)
    return data


def _run(data: Path, environ: dict[str, str], *prefix: str) -> subprocess.CompletedProcess[str]:
    # A copy every user can read, as the image's /usr/local/bin is: the checkout may not be.
    entrypoint = data.parent / "entrypoint.sh"
    shutil.copy(ENTRYPOINT, entrypoint)
    entrypoint.chmod(0o755)
    env = {**environ, "DISPATCH_DATA": str(data)}
    return subprocess.run(
        [*prefix, "sh", str(entrypoint), "run", "--log-format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _root() -> None:
    needs("root, to run the entrypoint as the image does", os.geteuid() == 0)
    needs("setpriv (util-linux)", shutil.which("setpriv") is not None)


def test_a_folder_owned_by_the_hosts_user_is_used_as_that_user(
    reachable: Path, fake_dispatch: dict[str, str]
) -> None:
    _root()
    data = _data(reachable, 1000)  # `-v "$PWD:/data"`: the host user's folder
    result = _run(data, fake_dispatch)
    assert result.returncode == 0, result.stderr
    ran_as, arguments = (data / "ran-as").read_text().splitlines()
    assert ran_as == "1000" and arguments == "run --log-format json"
    assert (data / "state.db").stat().st_uid == 1000  # the host user's, not the image's
    assert data.stat().st_uid == 1000  # the folder itself untouched


def test_a_root_owned_volume_is_given_to_the_images_user(
    reachable: Path, fake_dispatch: dict[str, str]
) -> None:
    _root()
    data = _data(reachable, 0)  # a new named volume
    result = _run(data, fake_dispatch)
    assert result.returncode == 0, result.stderr
    assert (data / "ran-as").read_text().splitlines()[0] == str(IMAGE_USER)
    assert data.stat().st_uid == IMAGE_USER


def test_started_as_another_user_it_runs_as_that_user(
    reachable: Path, fake_dispatch: dict[str, str]
) -> None:
    _root()
    data = _data(reachable, 2000)
    as_user = ("setpriv", "--reuid=2000", "--regid=2000", "--clear-groups", "--")
    result = _run(data, fake_dispatch, *as_user)  # `docker run --user 2000`
    assert result.returncode == 0, result.stderr
    assert (data / "ran-as").read_text().splitlines()[0] == "2000"
    assert stat.S_IMODE(data.stat().st_mode) == 0o755 and data.stat().st_uid == 2000


def _compose(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / name).read_text())


def _variables(config: Path) -> set[str]:
    """The environment variables a feeds.yaml names, without a default."""
    lines = [line.split(" #")[0] for line in config.read_text().splitlines()]
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    return {m.group(1) for m in re.finditer(r"\$\{([A-Za-z_]\w*)\}", text)}


def test_compose_passes_every_secret_the_bundled_config_names() -> None:
    service = _compose("compose.yaml")["services"]["dispatch"]
    passed = set(service["environment"])
    assert _variables(ROOT / "feeds.yaml") <= passed
    assert "./:/data" in service["volumes"]
    grace = int(str(service["stop_grace_period"]).rstrip("s"))
    from dispatch.config import load_config

    config = load_config(ROOT / "feeds.yaml", environ={})
    assert grace > config.daemon.shutdown_timeout.total_seconds()


def test_compose_postgres_starts_every_service_its_config_reaches() -> None:
    from dispatch.config import load_config

    compose = _compose("compose.postgres.yaml")
    services = compose["services"]
    config_file = ROOT / "examples" / "scaling" / "feeds.yaml"
    config = load_config(config_file, environ={})
    reached = [config.state] + [
        getattr(settings, "url", "") or getattr(settings, "base_url", "")
        for settings in config.outputs.values()
    ]
    for url in reached:
        host = re.match(r"\w+://(?:[^@/]*@)?([^:/]+)", str(url))
        assert host, url
        name = host.group(1)
        if name.endswith((".social", ".org", ".com")):
            continue  # a public network, not a service of ours
        assert name in services, f"{url} names {name!r}, which compose does not start"
    listmonk = services["listmonk"]["environment"]
    assert listmonk["LISTMONK_app__address"].endswith(":9000")  # where the output points
    postgres = services["postgres"]
    assert postgres["environment"]["POSTGRES_USER"] in config.state
    assert postgres["environment"]["POSTGRES_DB"] == config.state.rsplit("/", 1)[1]
    init = next(v for v in postgres["volumes"] if "docker-entrypoint-initdb.d" in v)
    script = (ROOT / init.split(":")[0]).read_text()
    assert f"CREATE DATABASE {listmonk['LISTMONK_db__database']}" in script
    worker = services["worker"]
    assert _variables(config_file) <= set(worker["environment"])
    assert "./examples/scaling:/data:ro" in worker["volumes"]
