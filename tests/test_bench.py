"""The benchmark still works: its small configuration runs every scenario against the peers
(rss2email and feed2exec, installed in their own environment) and prints the table. Nothing
here is timed; the figures live in docs/performance.md.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers.prepared import have_command, needs
from helpers.project import ROOT

SCENARIOS = [
    "`--help` start-up",
    "first poll of 20 feeds (all new)",
    "steady state, 20 feeds (all 304)",
    "20 feeds, 10 % changed",
    "300 feeds, all 304",
    "CPU for one changed 100 KB WordPress feed, 20 articles new (parse to stored)",
    "the same feed, changed by 1 new article (20 stored, unchanged)",
    "rendering a 20-article digest (MJML included)",
    "sending 50 emails to the sink",
    "the same, first to last email taken",
]


@pytest.mark.bench
@pytest.mark.slow
def test_the_benchmark_runs_every_scenario_against_the_peers() -> None:
    needs("nginx", have_command("nginx"))
    needs("postfix's smtp-sink", have_command("smtp-sink"))
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--small"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split(" | ") for line in result.stdout.splitlines() if line.startswith("| ")]
    seen = {(row[0].removeprefix("| "), row[1]) for row in rows[2:]}
    for scenario in SCENARIOS:
        assert (scenario, "dispatch") in seen, scenario
    for peer in ("rss2email", "feed2exec"):
        assert ("first poll of 20 feeds (all new)", peer) in seen
        assert ("steady state, 20 feeds (all 304)", peer) in seen
    assert ("sending 50 emails to the sink", "rss2email") in seen
    assert ("the same, first to last email taken", "rss2email") in seen
    assert "fast parsing path: 20 of 20 feeds of the web corpus" in result.stdout


@pytest.mark.bench
@pytest.mark.slow
def test_the_slow_hosts_benchmark_runs_and_no_host_sees_more_than_two_connections() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "slow_hosts.py"),
            *("--feeds", "60", "--hosts", "6", "--stalling", "1", "--resetting", "1"),
            *("--stall", "2"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "60 feeds on 6 hosts (1 stalling 2 s, 1 resetting)" in result.stdout
    assert "most connections to one host at once: 2" in result.stdout
