"""The preview's model: why each article is in or out, and the last good render kept beside a
template error. A real feed server, a real SQLite file, the real pipeline.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dispatch.app.dispatcher import Dispatcher, send
from dispatch.config import load_config
from dispatch.outputs.registry import open_outputs
from dispatch.preview.model import Preview, build, keep_last_good
from dispatch.render.renderer import Renderer
from dispatch.store.core import Store
from helpers.project import ROOT, State, article_items, rss, write_config
from helpers.servers import FeedServer

MORNING = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)


def _setup(server: FeedServer, tmp_path: Path, state: State, **extra: Any) -> Dispatcher:
    news = server.serve("/news", rss(article_items(2, prefix="n")))
    wire = server.serve("/wire", rss(article_items(3, prefix="w")))
    data: dict[str, Any] = {
        "state": state.value,
        "allow_private_networks": True,
        "feeds": [
            {"name": "news", "url": news},  # a baseline: nothing new on the first poll
            {"name": "wire", "url": wire, "backfill": "all"},
        ],
        "outputs": {"archive": {"type": "file", "path": "archive"}},
        "digests": [
            {"name": "daily", "outputs": ["archive"], "schedule": "0 7 * * *", "max_items": 2}
        ],
        "posts": [{"name": "social", "feeds": ["wire"], "outputs": ["archive"]}],
    }
    data.update(extra)
    config = load_config(write_config(tmp_path, data))
    store = Store.open(config.state_location)
    return Dispatcher.build(config, store, open_outputs(config))


def _preview(dispatcher: Dispatcher, now: datetime, renderer: Renderer | None = None) -> Preview:
    return build(
        dispatcher.config,
        dispatcher.store,
        renderer or dispatcher.renderer,
        dispatcher.outputs,
        now,
        "the test store",
    )


def _reasons(preview: Preview) -> dict[str, tuple[str, ...]]:
    return {row.title: tuple(f"{r.verdict}: {r.text}" for r in row.reasons) for row in preview.rows}


def test_each_article_says_why_it_is_in_or_out(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    dispatcher = _setup(server, tmp_path, state)
    dispatcher.poll(MORNING)

    before = _preview(dispatcher, MORNING)
    assert before.columns == ("digest daily", "social → archive")
    reasons = _reasons(before)
    # The queue is in the order dispatch found them (a feed lists its newest first): w3 and
    # w2 fill max_items, w1 waits for a later digest.
    assert reasons["Story w3"][0] == "in: new: in the digest that is due now"
    assert reasons["Story w2"][0] == "in: new: in the digest that is due now"
    assert reasons["Story w1"][0].startswith("waiting: over max_items (2): number 3")
    assert reasons["Story w1"][1] == "in: new: goes out at the next send"
    assert reasons["Story n1"] == (
        "out: baseline: it was in the feed when dispatch first read it",
        "out: filtered: feed 'news' is not among this rule's feeds",
    )
    (digest,) = before.digests
    assert digest.articles == 2 and "Story w3" in digest.text and "Story w1" not in digest.text
    assert digest.subject and digest.size == len(digest.html.encode()) and not digest.problem
    assert {p.article for p in before.posts} == {"Story w1", "Story w2", "Story w3"}
    assert all(p.length <= (p.limit or 0) or p.limit is None for p in before.posts)

    send(dispatcher, MORNING, dry_run=False, out_dir=None, poll=False)

    after = _preview(dispatcher, LATER)
    reasons = _reasons(after)
    sent = "sent: already sent, in the digest of 2026-11-26 07:00 UTC"
    assert reasons["Story w3"] == (sent, "sent: already sent")
    assert reasons["Story w1"] == (
        "waiting: new: waiting for its schedule, next at 2026-11-27 07:00 UTC",
        "sent: already sent",
    )
    (digest,) = after.digests
    assert digest.note.startswith("the next issue: 1 new article(s) of 1 queued, next at")
    assert all(p.note.startswith("nothing pending") for p in after.posts)
    dispatcher.store.close()


def test_min_items_and_an_empty_queue(server: FeedServer, tmp_path: Path, state: State) -> None:
    dispatcher = _setup(
        server,
        tmp_path,
        state,
        digests=[{"name": "daily", "outputs": ["archive"], "min_items": 5}],
    )
    dispatcher.poll(MORNING)
    reasons = _reasons(_preview(dispatcher, MORNING))
    assert reasons["Story w1"][0] == "waiting: new: waiting for min_items (3 of 5 queued)"
    dispatcher.store.close()


def test_a_broken_template_shows_its_line_and_keeps_the_last_good_render(
    server: FeedServer, tmp_path: Path, state: State
) -> None:
    templates = tmp_path / "templates" / "email"
    templates.mkdir(parents=True)
    subject = templates / "subject.txt.j2"
    subject.write_text("Good subject {{ digest.title }}\n", encoding="utf-8")
    dispatcher = _setup(server, tmp_path, state, templates="templates")
    dispatcher.poll(MORNING)
    good = _preview(dispatcher, MORNING, Renderer(tmp_path / "templates"))
    assert good.digests[0].subject == "Good subject daily"

    subject.write_text("Line one\n{% if digest.title %}\nBroken {{ digest.title }\n", "utf-8")
    broken = _preview(dispatcher, MORNING, Renderer(tmp_path / "templates"))
    (digest,) = broken.digests
    assert digest.problem is not None and not digest.html
    assert digest.problem.template == "templates/email/subject.txt.j2"
    assert digest.problem.line == 3
    assert digest.problem.source == "Broken {{ digest.title }"
    assert "unexpected '}'" in digest.problem.message

    shown = keep_last_good(good, broken)
    (digest,) = shown.digests
    assert digest.stale and digest.problem is not None
    assert digest.subject == "Good subject daily" and digest.html == good.digests[0].html
    # Posts do not use the subject template: they render as before.
    assert [p.text for p in shown.posts] == [p.text for p in good.posts]
    dispatcher.store.close()


def test_a_digest_past_its_outputs_clipping_size_is_marked(
    server: FeedServer, tmp_path: Path
) -> None:
    # The size is the smtp output's own (the bytes of HTML it counts), not the preview's.
    mail = {"type": "smtp", "host": "localhost", "from": "a@example.org", "to": ["b@example.org"]}
    outputs = {"mail": mail, "archive": {"type": "file", "path": "archive"}}
    digests = [{"name": "daily", "outputs": ["mail", "archive"], "schedule": "0 7 * * *"}]
    dispatcher = _setup(
        server, tmp_path, State("sqlite", "state.db"), outputs=outputs, digests=digests, posts=[]
    )
    dispatcher.poll(MORNING)
    article = (ROOT / "templates" / "email" / "article.mjml.j2").read_text()
    folder = tmp_path / "templates" / "email"
    folder.mkdir(parents=True)
    (folder / "article.mjml.j2").write_text(
        article + "<mj-raw><!-- " + "x" * 60_000 + " --></mj-raw>"
    )
    preview = _preview(dispatcher, MORNING, Renderer(tmp_path / "templates"))
    views = {digest.output: digest for digest in preview.digests}
    assert views["mail"].size > 102_000 and views["mail"].clip_at == 102_000
    assert views["mail"].clipped
    assert views["archive"].clip_at is None and not views["archive"].clipped
