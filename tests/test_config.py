"""Configuration: every error at once, each with its place and line; secrets from the env."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from dispatch.config import load_config, parse_config, parse_duration
from dispatch.config.secrets import Secret
from dispatch.errors import ConfigError
from helpers.project import run_cli

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
feeds:
  - name: a
    url: https://example.org/feed/
outputs:
  archive: {type: file, path: out/}
  toots: {type: mastodon, base_url: https://example.social, access_token: "${TOKEN}"}
posts:
  - name: social
    outputs: [archive, toots]
"""


def problems(text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "feeds.yaml", environ or {})
    return [str(problem) for problem in caught.value.problems]


def test_bundled_example_loads() -> None:
    config = load_config(ROOT / "feeds.yaml", environ={})
    assert [feed.name for feed in config.feeds] == ["thinktank", "thinktank-tv", "wire"]
    assert config.feeds[0].every == timedelta(minutes=15)
    assert config.resolve(config.state) == ROOT / "dispatch.db"


def test_secret_comes_from_the_environment_and_is_masked() -> None:
    config = parse_config(GOOD, "feeds.yaml", {"TOKEN": "s3cr3t-value-123"})
    token = config.outputs["toots"].access_token  # type: ignore[attr-defined]
    assert isinstance(token, Secret)
    assert token.reveal() == "s3cr3t-value-123"
    assert "s3cr3t" not in str(token) and "s3cr3t" not in repr(config)


def test_unset_secret_loads_and_names_its_variable() -> None:
    config = parse_config(GOOD, "feeds.yaml", {})
    token = config.outputs["toots"].access_token  # type: ignore[attr-defined]
    assert token.value is None
    assert "TOKEN" in str(token)


def test_unset_variable_in_a_plain_field_is_an_error_naming_it() -> None:
    text = GOOD.replace("https://example.org/feed/", "${FEED_URL}")
    assert problems(text) == ["feeds[0].url (line 3): environment variable FEED_URL is not set"]


def test_default_in_reference_is_used() -> None:
    text = GOOD.replace("https://example.org/feed/", "${FEED_URL:-https://example.org/x}")
    assert parse_config(text, "f", {}).feeds[0].url == "https://example.org/x"


def test_every_error_is_reported_at_once_with_place_and_line() -> None:
    text = """\
feeds:
  - name: a
    url: https://example.org/feed/
    every: soon
  - name: b
    url: ftp://example.org/feed
    colour: blue
outputs:
  archive: {type: file, path: out/}
  bad: {type: carrier-pigeon}
digests:
  - name: daily
    feeds: [a, nope]
    outputs: [archive, missing]
    schedule: "99 * * * *"
    timezone: Mars/Olympus
"""
    found = problems(text)
    assert (
        "feeds[0].every (line 4): 'soon' is neither auto nor a duration; "
        "write auto, or like 30s, 15m, 2h or 1d" in found
    )
    assert any(p.startswith("feeds[1].url (line 6): scheme 'ftp' is not fetched") for p in found)
    assert any(p.startswith("feeds[1].colour (line 7): unknown key") for p in found)
    assert any(
        p.startswith("outputs.bad.type (line 10): unknown output type 'carrier-pigeon'")
        for p in found
    )
    assert any(p.startswith("digests[0].schedule (line 15):") for p in found)
    assert any(
        p.startswith("digests[0].timezone (line 16): 'Mars/Olympus' is not an IANA") for p in found
    )


def test_a_feed_url_that_cannot_be_fetched_is_refused_at_its_line() -> None:
    # Each once reached the fetch and stopped the whole poll with a traceback.
    text = """\
feeds:
  - {name: a, url: "http://[x/feed"}
  - {name: b, url: "https://news.example:99999/feed"}
  - {name: c, url: "https:///feed"}
  - {name: d, url: "https://news.example:8443/feed"}
"""
    assert problems(text) == [
        "feeds[0].url (line 2): the URL cannot be read (Invalid IPv6 URL)",
        "feeds[1].url (line 3): the URL cannot be read (Port out of range 0-65535)",
        "feeds[2].url (line 4): the URL has no host",
    ]


def test_cross_references_are_checked() -> None:
    text = """\
feeds:
  - name: a
    url: https://example.org/feed/
  - name: a
    url: https://example.org/other/
outputs:
  archive: {type: file}
  toots: {type: mastodon, base_url: https://example.social, access_token: x}
digests:
  - name: daily
    feeds: [nope]
    outputs: [toots, missing]
"""
    found = problems(text)
    assert "feeds[1].name (line 4): 'a' is used twice" in found
    assert "digests[0].feeds[0] (line 11): no feed is named 'nope'" in found
    assert "digests[0].outputs[0] (line 12): output 'toots' (mastodon) cannot send digests" in found
    assert "digests[0].outputs[1] (line 12): no output is named 'missing'" in found


def test_output_settings_are_validated_by_their_type() -> None:
    text = GOOD.replace('access_token: "${TOKEN}"', "acces_token: x")
    found = problems(text)
    assert any(p.startswith("outputs.toots.access_token (line 6): Field required") for p in found)
    assert any(p.startswith("outputs.toots.acces_token (line 6): unknown key") for p in found)


def test_an_smtp_address_with_a_line_break_is_refused_at_its_line() -> None:
    """Addresses go into SMTP commands (pipelined, bypassing smtplib's own check) and headers."""
    text = GOOD.replace(
        "  archive: {type: file, path: out/}",
        "  archive: {type: file, path: out/}\n"
        "  mail:\n"
        "    type: smtp\n"
        "    host: 127.0.0.1\n"
        '    from: "d@example.org"\n'
        '    to: ["a@example.org", "b@example.org\\r\\nRCPT TO:<eve@example.org>"]',
    )
    found = problems(text)
    assert any(p.startswith("outputs.mail.to (line 10): ") and "line break" in p for p in found)
    clean = parse_config(text.replace("\\r\\nRCPT TO:<eve@example.org>", ""), "feeds.yaml", {})
    assert clean.outputs["mail"].to == ["a@example.org", "b@example.org"]  # type: ignore[attr-defined]


def test_yaml_syntax_error_has_its_line() -> None:
    found = problems("feeds:\n  - name: a\n    url: [unclosed\n")
    assert len(found) == 1 and found[0].startswith("line 4: not valid YAML")


def test_a_yaml_syntax_error_shows_the_line_with_a_caret_and_a_hint_for_yaml() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("feeds:\n  - name: a\n    url: http://x: y\n", "feeds.yaml", {})
    shown = str(caught.value)
    assert "  line 3: not valid YAML: mapping values are not allowed" in shown
    assert "      3 |     url: http://x: y\n        |                  ^" in shown
    assert "hint: check the indentation and quotes on that line" in shown
    assert "fix the keys named above" not in shown


def test_missing_file_names_its_full_path_and_where_dispatch_looks(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(Path(os.path.relpath(tmp_path / "absent.yaml")))
    shown = str(caught.value)
    assert shown.startswith(f"{tmp_path / 'absent.yaml'}: ")
    assert "there is no such file" in shown
    assert "--config PATH, else $DISPATCH_CONFIG, else feeds.yaml" in shown


def test_misspelt_keys_names_and_time_zones_get_a_did_you_mean() -> None:
    found = problems(
        GOOD.replace(
            "    url: https://example.org/feed/", "    url: https://example.org/f\n    evry: 5m"
        )
        .replace("path: out/}", "path: out/, pth: x}")
        .replace("outputs: [archive, toots]", "outputs: [archiv, toots]\n    feeds: [aa]")
        + "digests:\n  - name: d\n    outputs: [archive]\n    shedule: '0 7 * * *'\n"
        "    timezone: Europe/Berlinn\n" + "daemon: {listn: 'x'}\n"
    )
    expected = [
        "feeds[0].evry (line 4): unknown key; did you mean 'every'?",
        "outputs.archive.pth (line 6): unknown key; did you mean 'path'?",
        "posts[0].outputs[0] (line 10): no output is named 'archiv'; did you mean 'archive'?",
        "posts[0].feeds[0] (line 11): no feed is named 'aa'; did you mean 'a'?",
        "digests[0].shedule (line 15): unknown key; did you mean 'schedule'?",
        "digests[0].timezone (line 16): 'Europe/Berlinn' is not an IANA time zone; "
        "did you mean 'Europe/Berlin'?",
        "daemon.listn (line 17): unknown key; did you mean 'listen'?",
    ]
    assert found == expected
    far = problems(GOOD + "zzzzz: 1\n")
    assert far == ["zzzzz (line 10): unknown key (check its spelling; the README lists every key)"]


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("1h30m", 5400), ("2d", 172800), (90, 90)]
)
def test_durations(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "0m", "15x", "m15", "-5m", True])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_a_lease_no_longer_than_a_send_timeout_is_refused_at_its_line() -> None:
    text = """\
state: postgresql://dispatch@db/dispatch
daemon:
  lease: 20s
feeds: [{name: news, url: feed.xml}]
outputs:
  hook: {type: webhook, url: "https://example.org/hook", timeout: 30s}
"""
    with pytest.raises(ConfigError) as raised:
        parse_config(text, "feeds.yaml")
    (problem,) = raised.value.problems
    assert (problem.place, problem.line) == ("daemon.lease", 3)
    assert "output 'hook'" in problem.message and "30s" in problem.message
    fixed = parse_config(text.replace("lease: 20s", "lease: 31s"), "feeds.yaml")
    assert fixed.daemon.lease == timedelta(seconds=31)
    assert fixed.state_location == "postgresql://dispatch@db/dispatch"


def test_a_mapping_given_as_text_or_a_list_says_so_in_plain_words() -> None:
    found = problems(GOOD + "  - name: other\n    outputs: [archive]\n    include: python\n")
    assert found == [
        "posts[1].include (line 12): should be a mapping of keys (`key: value` lines), not text"
    ]
    listed = problems(
        GOOD.replace("outputs: [archive, toots]", "outputs: [archive]\n    exclude: [a]")
    )
    assert listed == [
        "posts[0].exclude (line 10): should be a mapping of keys (`key: value` lines), not a list"
    ]


def test_a_list_given_as_text_says_so_in_plain_words() -> None:
    found = problems(GOOD + "    include: {keywords: python}\n")
    assert found == [
        "posts[0].include.keywords (line 10): should be a list (`[a, b]`, or `- a` lines), not text"
    ]


def test_one_bad_filter_is_one_message_however_many_outputs_its_rule_has(
    tmp_path: Path,
) -> None:
    """Seen once by a new user: one bad filter reported three times. Every command that reads
    the configuration reports each mistake once, on a rule with three outputs.
    """
    text = GOOD.replace("outputs: [archive, toots]", "outputs: [archive, toots, more]")
    text = text.replace("posts:", "  more: {type: file, path: more/}\nposts:")
    config = tmp_path / "feeds.yaml"
    config.write_text(text + '    include: {patterns: ["(unclosed"]}\n')
    for command in (["send", "--dry-run"], ["check"], ["status"]):
        result = run_cli(*command, config=config)
        assert result.code == 2, (command, result.stderr)  # a configuration error
        assert result.stderr.count("(unclosed") == 1, (command, result.stderr)
        assert "not a regular expression" in result.stderr
