"""A deterministic corpus of feeds for the benchmarks: WordPress-style RSS 2.0 (20 items with
``content:encoded`` HTML, about 100 KB, some embedding YouTube videos by iframe or youtu.be
link), Atom, and YouTube channel feeds, in the proportions 70 % / 15 % / 15 %.

    python bench/corpus.py --feeds 200 --out bench/.data/corpus-200

``generation`` changes the newest item of a feed (the "10 % changed" scenario).
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

WORDS = (
    "budget council river school market bridge festival library election harbour railway "
    "museum weather hospital transport housing energy water farmers teachers students "
    "minister mayor report survey research engineers workers artists village province city "
    "announced reported opened closed raised cut planned delayed agreed rejected said "
    "the a of and to in on for with at by from new old first last more less many few"
).split()
EPOCH = datetime(2026, 11, 20, tzinfo=UTC)


@dataclass(frozen=True)
class Feed:
    kind: str  # wp, atom, yt
    number: int

    @property
    def path(self) -> str:
        return f"{self.kind}/{self.number:05d}.xml"

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.number:05d}"


def feeds(count: int) -> list[Feed]:
    """``count`` feeds: 70 % WordPress, 15 % Atom, 15 % YouTube."""
    atom = yt = count * 15 // 100
    wp = count - atom - yt
    return (
        [Feed("wp", n) for n in range(wp)]
        + [Feed("atom", n) for n in range(atom)]
        + [Feed("yt", n) for n in range(yt)]
    )


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 18))]
    return " ".join(words).capitalize() + "."


def _video(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(rng.choice(alphabet) for _ in range(11))


def _article_html(rng: random.Random, host: str, number: int) -> str:
    parts = []
    for paragraph in range(rng.randint(10, 14)):
        text = " ".join(_sentence(rng) for _ in range(rng.randint(3, 5)))
        if paragraph == 2:
            text += f' <a href="https://{host}/related/{number}">Related story</a>'
        parts.append(f"<p>{text}</p>")
    parts.insert(
        1,
        f'<figure class="wp-block-image"><img src="https://{host}/wp-content/uploads/'
        f'{number}.jpg" alt="Photo {number}" width="1024" height="683"></figure>',
    )
    roll = rng.random()
    if roll < 0.2:
        video = _video(rng)
        parts.insert(
            3,
            '<figure class="wp-block-embed is-type-video is-provider-youtube"><div '
            f'class="wp-block-embed__wrapper"><iframe title="Video {number}" width="640" '
            f'height="360" src="https://www.youtube.com/embed/{video}?feature=oembed" '
            'frameborder="0" allowfullscreen></iframe></div></figure>',
        )
    elif roll < 0.3:
        parts.append(f'<p>Watch: <a href="https://youtu.be/{_video(rng)}">the interview</a></p>')
    return "\n".join(parts)


def _date(feed: Feed, item: int, generation: int) -> datetime:
    return EPOCH + timedelta(hours=generation * 24 - item * 6, minutes=feed.number % 60)


def wordpress(feed: Feed, generation: int = 0, items: int = 20, *, template: bool = False) -> str:
    """A WordPress-style RSS 2.0 feed; with ``template``, carrying everything WordPress's
    default feed template (feed-rss2.php) adds: the comments link, the wfw:commentRss and
    slash:comments of each item, and the channel's sy:update*, generator and site icon.
    """
    host = f"news{feed.number}.example"
    count, items = items, []
    for item in range(count):
        number = generation * 10_000 + count - item  # a new generation brings new items on top
        rng = random.Random(f"{feed.path}/{number}")
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 10))).capitalize()
        link = f"https://{host}/{2026}/11/{number}/{title.lower().replace(' ', '-')[:40]}/"
        date = _date(feed, item, generation).strftime("%a, %d %b %Y %H:%M:%S +0000")
        html = _article_html(rng, host, number)
        comments = f"<comments>{link}#respond</comments>" if template else ""
        threads = (
            f"<wfw:commentRss>{link}feed/</wfw:commentRss>"
            f"<slash:comments>{number % 5}</slash:comments>"
            if template
            else ""
        )
        items.append(
            f"<item><title>{escape(title)}</title><link>{link}</link>{comments}"
            f"<dc:creator><![CDATA[Reporter {number % 7}]]></dc:creator>"
            f"<pubDate>{date}</pubDate><category><![CDATA[News]]></category>"
            f'<guid isPermaLink="false">https://{host}/?p={number}</guid>'
            f"<description><![CDATA[{_sentence(rng)} [&#8230;]]]></description>"
            f"<content:encoded><![CDATA[{html}]]></content:encoded>{threads}</item>"
        )
    namespaces, head = "", ""
    if template:
        namespaces = (
            'xmlns:wfw="http://wellformedweb.org/CommentAPI/" '
            'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/" '
            'xmlns:slash="http://purl.org/rss/1.0/modules/slash/" '
        )
        head = (
            "<sy:updatePeriod>\n\thourly\t</sy:updatePeriod>"
            "<sy:updateFrequency>\n\t1\t</sy:updateFrequency>"
            "<generator>https://wordpress.org/?v=6.8</generator>"
            f"<image><url>https://{host}/wp-content/uploads/icon-32x32.png</url>"
            f"<title>News {feed.number}</title><link>https://{host}/</link>"
            "<width>32</width><height>32</height></image>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        f'{namespaces}xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>'
        f"<title>News {feed.number}</title><link>https://{host}/</link>"
        f"<description>Local news</description><language>en-GB</language>{head}"
        + "".join(items)
        + "</channel></rss>\n"
    )


def atom(feed: Feed, generation: int = 0, items: int = 20) -> str:
    host = f"wire{feed.number}.example"
    entries = []
    for item in range(items):
        number = generation * 10_000 + items - item
        rng = random.Random(f"{feed.path}/{number}")
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 10))).capitalize()
        moment = _date(feed, item, generation).strftime("%Y-%m-%dT%H:%M:%SZ")
        html = escape(_article_html(rng, host, number))
        entries.append(
            f"<entry><id>tag:{host},2026:{number}</id><title>{escape(title)}</title>"
            f'<link rel="alternate" href="https://{host}/story/{number}"/>'
            f"<updated>{moment}</updated><published>{moment}</published>"
            f"<author><name>Wire desk</name></author>"
            f'<summary>{escape(_sentence(rng))}</summary><content type="html">{html}</content>'
            "</entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Wire {feed.number}</title><id>tag:{host},2026:feed</id>"
        f'<link rel="alternate" href="https://{host}/"/><updated>2026-11-27T00:00:00Z</updated>'
        + "".join(entries)
        + "</feed>\n"
    )


def youtube(feed: Feed, generation: int = 0, items: int = 15) -> str:
    channel = f"UC{random.Random(feed.path).getrandbits(64):022x}"[:24]
    entries = []
    for item in range(items):
        number = generation * 10_000 + items - item
        rng = random.Random(f"{feed.path}/{number}")
        video = _video(rng)
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 9))).capitalize()
        moment = _date(feed, item, generation).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        description = escape(" ".join(_sentence(rng) for _ in range(4)))
        entries.append(
            f"<entry><id>yt:video:{video}</id><yt:videoId>{video}</yt:videoId>"
            f"<yt:channelId>{channel}</yt:channelId><title>{escape(title)}</title>"
            f'<link rel="alternate" href="https://www.youtube.com/watch?v={video}"/>'
            f"<author><name>Channel {feed.number}</name>"
            f"<uri>https://www.youtube.com/channel/{channel}</uri></author>"
            f"<published>{moment}</published><updated>{moment}</updated>"
            f"<media:group><media:title>{escape(title)}</media:title>"
            f'<media:content url="https://www.youtube.com/v/{video}?version=3" '
            'type="application/x-shockwave-flash" width="640" height="390"/>'
            f'<media:thumbnail url="https://i1.ytimg.com/vi/{video}/hqdefault.jpg" '
            'width="480" height="360"/>'
            f"<media:description>{description}</media:description>"
            '<media:community><media:starRating count="12" average="5.00" min="1" max="5"/>'
            '<media:statistics views="345"/></media:community></media:group></entry>'
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns:yt="http://www.youtube.com/xml/'
        'schemas/2015" xmlns:media="http://search.yahoo.com/mrss/" '
        'xmlns="http://www.w3.org/2005/Atom">'
        f'<link rel="self" href="http://www.youtube.com/feeds/videos.xml?channel_id={channel}"/>'
        f"<id>yt:channel:{channel}</id><yt:channelId>{channel}</yt:channelId>"
        f"<title>Channel {feed.number}</title>"
        f'<link rel="alternate" href="https://www.youtube.com/channel/{channel}"/>'
        f"<author><name>Channel {feed.number}</name>"
        f"<uri>https://www.youtube.com/channel/{channel}</uri></author>"
        "<published>2020-01-01T00:00:00+00:00</published>" + "".join(entries) + "</feed>\n"
    )


RENDER = {"wp": wordpress, "atom": atom, "yt": youtube}


def write(
    directory: Path,
    count: int,
    generation: int = 0,
    *,
    only: set[str] | None = None,
    items: int | None = None,
) -> list[Feed]:
    """Write the corpus (or only the feeds named in ``only``; ``items`` per feed instead of
    the usual 20, or 15 for YouTube); returns every feed.
    """
    every = feeds(count)
    for feed in every:
        if only is not None and feed.name not in only:
            continue
        path = directory / feed.path
        path.parent.mkdir(parents=True, exist_ok=True)
        render = RENDER[feed.kind]
        text = render(feed, generation) if items is None else render(feed, generation, items)
        path.write_text(text, encoding="utf-8")
    return every


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--generation", type=int, default=0)
    arguments = parser.parse_args()
    written = write(arguments.out, arguments.feeds, arguments.generation)
    print(f"{len(written)} feeds in {arguments.out}")


if __name__ == "__main__":
    main()
