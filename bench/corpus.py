"""Deterministic corpora of feeds for the benchmarks.

``web`` (the default) is shaped like what the common generators really emit, each carried over
from its own template or code: WordPress's default feed-rss2.php (comment links and counts,
sy:update*, the site icon, several categories, WordPress's YouTube embed markup), the same with
what media plugins add (media:content, media:thumbnail, an image enclosure), Blogger's Atom,
Ghost's, Substack's and Medium's RSS, Hugo's default RSS (an escaped HTML summary), jekyll-feed's
Atom (``type="html"``, ``xml:base`` on the content), Drupal's RSS (``xml:base`` on the feed, a
GUID like ``7 at https://site``) and YouTube channel feeds.

``classic`` is the benchmark's first corpus: WordPress-style RSS 2.0 without the template's
extras, Atom and YouTube feeds, 70 % / 15 % / 15 %.

    python bench/corpus.py --feeds 200 --out bench/.data/corpus-200 [--mix classic]

``generation`` changes the newest item of a feed (the "10 % changed" scenario).
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
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
    kind: str  # a key of RENDER: wp, wpmedia, blogger, ghost ... (classic: wpclassic, atom, yt)
    number: int

    @property
    def path(self) -> str:
        return f"{self.kind}/{self.number:05d}.xml"

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.number:05d}"


# The web's mix, in percent: WordPress runs most news sites; YouTube channels are what our
# users follow beside them.
WEB = {
    "wp": 46,
    "wpmedia": 14,
    "blogger": 6,
    "ghost": 5,
    "substack": 5,
    "medium": 4,
    "hugo": 4,
    "jekyll": 4,
    "drupal": 4,
    "yt": 8,
}
CLASSIC = {"wpclassic": 70, "atom": 15, "yt": 15}
MIXES = {"web": WEB, "classic": CLASSIC}


def feeds(count: int, mix: str = "web") -> list[Feed]:
    """``count`` feeds in the mix's proportions (the first kind takes what rounding leaves)."""
    shares = MIXES[mix]
    sizes = {kind: count * share // 100 for kind, share in shares.items()}
    first = next(iter(shares))
    sizes[first] += count - sum(sizes.values())
    return [Feed(kind, n) for kind, size in sizes.items() for n in range(size)]


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


def _rfc822(moment: datetime, zone: str = "+0000") -> str:
    return moment.strftime(f"%a, %d %b %Y %H:%M:%S {zone}")


def _title(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 10))).capitalize()


def _slug(title: str) -> str:
    return title.lower().replace(" ", "-")[:40]


def _categories(rng: random.Random) -> list[str]:
    tags = ("News", "Politics", "Economy", "Local", "Culture", "Sport", "Opinion", "Video")
    return rng.sample(tags, rng.randint(1, 4))


def _numbers(count: int, generation: int) -> list[tuple[int, int]]:
    """(item position, article number), newest first: a new generation brings new items on top."""
    return [(item, generation * 10_000 + count - item) for item in range(count)]


def _wordpress_embed(rng: random.Random, number: int) -> str:
    """A YouTube video as WordPress's block editor embeds it."""
    return (
        '<figure class="wp-block-embed is-type-video is-provider-youtube wp-block-embed-youtube '
        'wp-embed-aspect-16-9 wp-has-aspect-ratio"><div class="wp-block-embed__wrapper">\n'
        f'<iframe title="Video {number}" width="500" height="281" '
        f'src="https://www.youtube.com/embed/{_video(rng)}?feature=oembed" frameborder="0" '
        'allow="accelerometer; autoplay; clipboard-write; encrypted-media; gyroscope; '
        'picture-in-picture; web-share" referrerpolicy="strict-origin-when-cross-origin" '
        "allowfullscreen></iframe>\n</div></figure>"
    )


def _rss(namespaces: str, channel: str, items: list[str], *, root: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"{root} {namespaces}>\n'
        f"<channel>{channel}" + "\n".join(items) + "</channel></rss>\n"
    )


def wordpress(feed: Feed, generation: int = 0, items: int = 20) -> str:
    """The classic corpus's WordPress-style RSS 2.0: the article fields without what
    WordPress's own template adds around them (see ``wordpress_site``).
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
        items.append(
            f"<item><title>{escape(title)}</title><link>{link}</link>"
            f"<dc:creator><![CDATA[Reporter {number % 7}]]></dc:creator>"
            f"<pubDate>{date}</pubDate><category><![CDATA[News]]></category>"
            f'<guid isPermaLink="false">https://{host}/?p={number}</guid>'
            f"<description><![CDATA[{_sentence(rng)} [&#8230;]]]></description>"
            f"<content:encoded><![CDATA[{html}]]></content:encoded></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>'
        f"<title>News {feed.number}</title><link>https://{host}/</link>"
        "<description>Local news</description><language>en-GB</language>"
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


_WP_NAMESPACES = (
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:wfw="http://wellformedweb.org/CommentAPI/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:atom="http://www.w3.org/2005/Atom" '
    'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/" '
    'xmlns:slash="http://purl.org/rss/1.0/modules/slash/"'
)


def wordpress_site(feed: Feed, generation: int = 0, items: int = 10, *, media: bool = False) -> str:
    """WordPress's default feed-rss2.php, as a news site serves it (10 items, the default of
    "Syndication feeds show the most recent"); with ``media``, what the common media plugins
    add to each item: media:content with its media:title, media:thumbnail, an image enclosure.
    """
    host = f"site{feed.number}.example"
    entries = []
    for item, number in _numbers(items, generation):
        rng = random.Random(f"{feed.path}/{number}")
        title = _title(rng)
        link = f"https://{host}/2026/11/{_slug(title)}/"
        html = _article_html(rng, host, number)
        if rng.random() < 0.3:
            html = html.replace("</p>\n", "</p>\n" + _wordpress_embed(rng, number) + "\n", 1)
        categories = "".join(
            f"\n\t\t<category><![CDATA[{tag}]]></category>" for tag in _categories(rng)
        )
        image = f"https://{host}/wp-content/uploads/2026/11/{number}-1024x683.jpg"
        extras = ""
        if media:
            extras = (
                f'\n\t\t<media:content url="{image}" medium="image">'
                f'<media:title type="html">{escape(title)}</media:title></media:content>'
                f'\n\t\t<media:thumbnail url="{image.replace("1024x683", "150x150")}"/>'
                f'\n\t\t<enclosure url="{image}" length="{40_000 + number % 9000}" '
                'type="image/jpeg"/>'
            )
        entries.append(
            f"\t<item>\n\t\t<title>{escape(title)}</title>\n\t\t<link>{link}</link>"
            f"\n\t\t<comments>{link}#respond</comments>"
            f"\n\t\t<dc:creator><![CDATA[Reporter {number % 7}]]></dc:creator>"
            f"\n\t\t<pubDate>{_rfc822(_date(feed, item, generation))}</pubDate>{categories}"
            f'\n\t\t<guid isPermaLink="false">https://{host}/?p={number}</guid>'
            f"\n\t\t<description><![CDATA[{_sentence(rng)} [&#8230;]]]></description>"
            f"\n\t\t<content:encoded><![CDATA[{html}]]></content:encoded>"
            f"\n\t\t<wfw:commentRss>{link}feed/</wfw:commentRss>"
            f"\n\t\t<slash:comments>{number % 5}</slash:comments>{extras}\n\t</item>"
        )
    namespaces = _WP_NAMESPACES + (' xmlns:media="http://search.yahoo.com/mrss/"' if media else "")
    channel = (
        f"\n\t<title>Site {feed.number}</title>"
        f'\n\t<atom:link href="https://{host}/feed/" rel="self" type="application/rss+xml" />'
        f"\n\t<link>https://{host}</link>\n\t<description>News from the valley</description>"
        f"\n\t<lastBuildDate>{_rfc822(_date(feed, 0, generation))}</lastBuildDate>"
        "\n\t<language>en-GB</language>"
        "\n\t<sy:updatePeriod>\n\thourly\t</sy:updatePeriod>"
        "\n\t<sy:updateFrequency>\n\t1\t</sy:updateFrequency>"
        "\n\t<generator>https://wordpress.org/?v=6.8.1</generator>"
        f"\n<image>\n\t<url>https://{host}/wp-content/uploads/2026/01/cropped-icon-32x32.png</url>"
        f"\n\t<title>Site {feed.number}</title>\n\t<link>https://{host}</link>"
        "\n\t<width>32</width>\n\t<height>32</height>\n</image> \n"
    )
    return _rss(namespaces, channel, entries)


def wordpress_media(feed: Feed, generation: int = 0, items: int = 10) -> str:
    return wordpress_site(feed, generation, items, media=True)


def blogger(feed: Feed, generation: int = 0, items: int = 25) -> str:
    """Blogger's Atom feed (/feeds/posts/default): its ids, replies links and thread counts,
    author email and gd:image, media:thumbnail, dates with milliseconds in the blog's zone.
    """
    blog = 1_000_000_000 + feed.number
    host = f"valley{feed.number}.blogspot.com"
    zone = timezone(timedelta(hours=5))
    author = (
        f"<author><name>Blogger {feed.number}</name><uri>https://www.blogger.com/profile/"
        f"{blog}</uri><email>noreply@blogger.com</email><gd:image "
        'rel="http://schemas.google.com/g/2005#thumbnail" width="16" height="16" '
        'src="https://img1.blogblog.com/img/b16-rounded.gif"/></author>'
    )
    entries = []
    for item, number in _numbers(items, generation):
        rng = random.Random(f"{feed.path}/{number}")
        title = _title(rng)
        moment = _date(feed, item, generation).astimezone(zone)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{number % 1000:03d}+05:00"
        link = f"https://{host}/2026/11/{_slug(title)}.html"
        post = f"tag:blogger.com,1999:blog-{blog}.post-{number}"
        feeds = f"https://www.blogger.com/feeds/{blog}"
        categories = "".join(
            f"<category scheme='http://www.blogger.com/atom/ns#' term='{tag}'/>"
            for tag in _categories(rng)
        )
        html = escape(_article_html(rng, host, number), {"'": "&#39;"})
        entries.append(
            f"<entry><id>{post}</id><published>{stamp}</published><updated>{stamp}</updated>"
            f"{categories}<title type='text'>{escape(title)}</title>"
            f"<content type='html'>{html}</content>"
            f"<link rel='replies' type='application/atom+xml' href='{feeds}/{number}/comments/"
            f"default' title='Post Comments'/><link rel='replies' type='text/html' "
            f"href='{link}#comment-form' title='{number % 4} Comments'/>"
            f"<link rel='edit' type='application/atom+xml' href='{feeds}/posts/default/"
            f"{number}'/><link rel='self' type='application/atom+xml' href='{feeds}/posts/"
            f"default/{number}'/><link rel='alternate' type='text/html' href='{link}' "
            f"title='{escape(title)}'/>{author}"
            "<media:thumbnail xmlns:media='http://search.yahoo.com/mrss/' "
            f"url='https://blogger.googleusercontent.com/img/b/{number}/s72-c/photo.jpg' "
            f"height='72' width='72'/><thr:total>{number % 4}</thr:total></entry>"
        )
    updated = _date(feed, 0, generation).astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S.000+05:00")
    return (
        "<?xml version='1.0' encoding='UTF-8'?><feed xmlns='http://www.w3.org/2005/Atom' "
        "xmlns:openSearch='http://a9.com/-/spec/opensearchrss/1.0/' "
        "xmlns:blogger='http://schemas.google.com/blogger/2008' "
        "xmlns:georss='http://www.georss.org/georss' xmlns:gd=\"http://schemas.google.com/g/2005\" "
        "xmlns:thr='http://purl.org/syndication/thread/1.0'>"
        f"<id>tag:blogger.com,1999:blog-{blog}</id><updated>{updated}</updated>"
        "<category term='News'/><category term='Local'/>"
        f"<title type='text'>Valley {feed.number}</title><subtitle type='html'>Notes from the "
        "valley</subtitle>"
        f"<link rel='http://schemas.google.com/g/2005#feed' type='application/atom+xml' "
        f"href='https://{host}/feeds/posts/default'/><link rel='self' "
        f"type='application/atom+xml' href='https://www.blogger.com/feeds/{blog}/posts/default'/>"
        f"<link rel='alternate' type='text/html' href='https://{host}/'/><link rel='hub' "
        "href='http://pubsubhubbub.appspot.com/'/><link rel='next' type='application/atom+xml' "
        f"href='https://www.blogger.com/feeds/{blog}/posts/default?start-index=26&amp;"
        f"max-results=25'/>{author}"
        "<generator version='7.00' uri='http://www.blogger.com'>Blogger</generator>"
        f"<openSearch:totalResults>{items * 9}</openSearch:totalResults>"
        "<openSearch:startIndex>1</openSearch:startIndex>"
        f"<openSearch:itemsPerPage>25</openSearch:itemsPerPage>" + "".join(entries) + "</feed>"
    )


def ghost(feed: Feed, generation: int = 0, items: int = 15) -> str:
    """Ghost's RSS (the ``rss`` npm package): CDATA everywhere, a 24-hex GUID that is no URL,
    the feature image as media:content and again at the head of the content.
    """
    host = f"ghost{feed.number}.example"
    entries = []
    for item, number in _numbers(items, generation):
        rng = random.Random(f"{feed.path}/{number}")
        title = _title(rng)
        image = f"https://{host}/content/images/2026/11/{number}.jpg"
        html = f'<img src="{image}" alt="{escape(title)}" />' + _article_html(rng, host, number)
        categories = "".join(f"<category><![CDATA[{tag}]]></category>" for tag in _categories(rng))
        entries.append(
            f"<item><title><![CDATA[{title}]]></title><description><![CDATA[{_sentence(rng)}]]>"
            f"</description><link>https://{host}/{_slug(title)}/</link>"
            f'<guid isPermaLink="false">{number:024x}</guid>{categories}'
            f"<dc:creator><![CDATA[Writer {number % 5}]]></dc:creator>"
            f"<pubDate>{_rfc822(_date(feed, item, generation), 'GMT')}</pubDate>"
            f'<media:content url="{image}" medium="image"/>'
            f"<content:encoded><![CDATA[{html}]]></content:encoded></item>"
        )
    channel = (
        f"<title><![CDATA[Ghost {feed.number}]]></title><description><![CDATA[Thoughts and "
        f"stories]]></description><link>https://{host}/</link><image><url>https://{host}/"
        f"favicon.png</url><title>Ghost {feed.number}</title><link>https://{host}/</link>"
        f"</image><generator>Ghost 5.101</generator><lastBuildDate>"
        f"{_rfc822(_date(feed, 0, generation), 'GMT')}</lastBuildDate><atom:link "
        f'href="https://{host}/rss/" rel="self" type="application/rss+xml"/><ttl>60</ttl>'
    )
    namespaces = (
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:atom="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/"'
    )
    return _rss(namespaces, channel, entries)


def substack(feed: Feed, generation: int = 0, items: int = 20) -> str:
    """Substack's RSS: the cover image as an enclosure, a podcast-ready channel (itunes and
    googleplay elements), CDATA titles and descriptions.
    """
    host = f"letters{feed.number}.substack.com"
    entries = []
    for item, number in _numbers(items, generation):
        rng = random.Random(f"{feed.path}/{number}")
        title = _title(rng)
        link = f"https://{host}/p/{_slug(title)}"
        entries.append(
            f"<item><title><![CDATA[{title}]]></title><description><![CDATA[{_sentence(rng)}]]>"
            f"</description><link>{link}</link>"
            f'<guid isPermaLink="false">{link}</guid>'
            f"<dc:creator><![CDATA[Letter writer {feed.number}]]></dc:creator>"
            f"<pubDate>{_rfc822(_date(feed, item, generation), 'GMT')}</pubDate>"
            f'<enclosure url="https://substackcdn.com/image/fetch/{number}.jpeg" length="0" '
            'type="image/jpeg"/>'
            f"<content:encoded><![CDATA[{_article_html(rng, host, number)}]]></content:encoded>"
            "</item>"
        )
    channel = (
        f"<title><![CDATA[Letters {feed.number}]]></title><description><![CDATA[A newsletter]]>"
        f"</description><link>https://{host}</link><image><url>https://substackcdn.com/image/"
        f"fetch/w_256/{feed.number}.png</url><title>Letters {feed.number}</title>"
        f"<link>https://{host}</link></image><generator>Substack</generator><lastBuildDate>"
        f"{_rfc822(_date(feed, 0, generation), 'GMT')}</lastBuildDate><atom:link "
        f'href="https://{host}/feed" rel="self" type="application/rss+xml"/>'
        f"<copyright><![CDATA[Letter writer {feed.number}]]></copyright><language><![CDATA[en]]>"
        f"</language><webMaster><![CDATA[letters{feed.number}@substack.com]]></webMaster>"
        "<itunes:owner><itunes:email><![CDATA[letters@substack.com]]></itunes:email>"
        f"<itunes:name><![CDATA[Letter writer {feed.number}]]></itunes:name></itunes:owner>"
        f"<itunes:author><![CDATA[Letter writer {feed.number}]]></itunes:author>"
        "<googleplay:owner><![CDATA[letters@substack.com]]></googleplay:owner>"
        "<googleplay:email><![CDATA[letters@substack.com]]></googleplay:email>"
        f"<googleplay:author><![CDATA[Letter writer {feed.number}]]></googleplay:author>"
    )
    namespaces = (
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:atom="http://www.w3.org/2005/Atom" '
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
        'xmlns:googleplay="http://www.google.com/schemas/play-podcasts/1.0"'
    )
    return _rss(namespaces, channel, entries)


def medium(feed: Feed, generation: int = 0, items: int = 10) -> str:
    """Medium's RSS: no description, the whole story in content:encoded, atom:updated beside
    pubDate, tracking parameters in links, a WebSub hub on the channel.
    """
    entries = []
    for item, number in _numbers(items, generation):
        rng = random.Random(f"{feed.path}/{number}")
        title = _title(rng)
        story = f"{number:012x}"
        moment = _date(feed, item, generation)
        categories = "".join(
            f"<category><![CDATA[{tag.lower()}]]></category>" for tag in _categories(rng)
        )
        entries.append(
            f"<item><title><![CDATA[{title}]]></title><link>https://medium.com/@writer"
            f"{feed.number}/{_slug(title)}-{story}?source=rss-{feed.number:08x}------2</link>"
            f'<guid isPermaLink="false">https://medium.com/p/{story}</guid>{categories}'
            f"<dc:creator><![CDATA[Writer {feed.number}]]></dc:creator>"
            f"<pubDate>{_rfc822(moment, 'GMT')}</pubDate>"
            f"<atom:updated>{moment.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z</atom:updated>"
            f"<content:encoded><![CDATA[{_article_html(rng, 'medium.com', number)}]]>"
            "</content:encoded></item>"
        )
    channel = (
        f"<title><![CDATA[Stories by Writer {feed.number} on Medium]]></title><description>"
        f"<![CDATA[Stories by Writer {feed.number} on Medium]]></description>"
        f"<link>https://medium.com/@writer{feed.number}?source=rss-{feed.number:08x}------2</link>"
        f"<image><url>https://cdn-images-1.medium.com/fit/c/150/150/{feed.number}.png</url>"
        f"<title>Stories by Writer {feed.number} on Medium</title><link>https://medium.com/"
        f"@writer{feed.number}</link></image><generator>Medium</generator><lastBuildDate>"
        f"{_rfc822(_date(feed, 0, generation), 'GMT')}</lastBuildDate><atom:link "
        f'href="https://medium.com/@writer{feed.number}/feed" rel="self" '
        'type="application/rss+xml"/><webMaster><![CDATA[yourfriends@medium.com]]></webMaster>'
        '<atom:link href="http://medium.superfeedr.com" rel="hub"/>'
    )
    namespaces = (
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:atom="http://www.w3.org/2005/Atom" '
        'xmlns:cc="http://cyber.law.harvard.edu/rss/creativeCommonsRssModule.html"'
    )
    return _rss(namespaces, channel, entries)


def hugo(feed: Feed, generation: int = 0, items: int = 20) -> str:
    """Hugo's default rss.xml: a permalink GUID, the page's summary as escaped HTML (an
    excerpt: dispatch fetches the page for the rest).
    """
    host = f"hugo{feed.number}.example"
    entries = []
    for item, number in _numbers(items, generation):
        rng = random.Random(f"{feed.path}/{number}")
        title = _title(rng)
        link = f"https://{host}/posts/{_slug(title)}/"
        summary = " ".join(_sentence(rng) for _ in range(5))
        entries.append(
            f"    <item>\n      <title>{escape(title)}</title>\n      <link>{link}</link>\n"
            f"      <pubDate>{_rfc822(_date(feed, item, generation), '+0500')}</pubDate>\n      \n"
            f"      <guid>{link}</guid>\n      <description>{escape(f'<p>{summary}</p>')}"
            "</description>\n    </item>"
        )
    channel = (
        f"\n    <title>Hugo {feed.number}</title>\n    <link>https://{host}/</link>\n"
        f"    <description>Recent content on Hugo {feed.number}</description>\n"
        "    <generator>Hugo -- gohugo.io</generator>\n    <language>en-us</language>\n"
        f"    <lastBuildDate>{_rfc822(_date(feed, 0, generation), '+0500')}</lastBuildDate>"
        f'<atom:link href="https://{host}/index.xml" rel="self" type="application/rss+xml" />\n'
    )
    return _rss('xmlns:atom="http://www.w3.org/2005/Atom"', channel, entries).replace(
        'encoding="UTF-8"?>', 'encoding="utf-8" standalone="yes"?>', 1
    )


def jekyll(feed: Feed, generation: int = 0, items: int = 10) -> str:
    """jekyll-feed's Atom: html-typed title and summary, the content with its own xml:base,
    an author, categories and tags, the post's image as media:content.
    """
    host = f"jekyll{feed.number}.example"
    entries = []
    for item, number in _numbers(items, generation):
        rng = random.Random(f"{feed.path}/{number}")
        title = _title(rng)
        page = f"https://{host}/2026/11/{number}/{_slug(title)}.html"
        moment = _date(feed, item, generation).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        tags = "".join(f'<category term="{tag.lower()}" />' for tag in _categories(rng))
        entries.append(
            f'<entry xml:lang="en"><title type="html">{escape(title)}</title><link '
            f'href="{page}" rel="alternate" type="text/html" title="{escape(title)}" />'
            f"<published>{moment}</published><updated>{moment}</updated>"
            f"<id>https://{host}/2026/11/{number}/{_slug(title)}</id>"
            f'<content type="html" xml:base="{page}">'
            f"{escape(_article_html(rng, host, number))}</content><author><name>Author "
            f'{feed.number}</name></author>{tags}<summary type="html">{escape(_sentence(rng))}'
            f'</summary><media:content xmlns:media="http://search.yahoo.com/mrss/" '
            f'url="https://{host}/assets/{number}.jpg" medium="image" /></entry>'
        )
    updated = _date(feed, 0, generation).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        'xml:lang="en"><generator uri="https://jekyllrb.com/" version="4.3.4">Jekyll</generator>'
        f'<link href="https://{host}/feed.xml" rel="self" type="application/atom+xml" />'
        f'<link href="https://{host}/" rel="alternate" type="text/html" hreflang="en" />'
        f"<updated>{updated}</updated><id>https://{host}/feed.xml</id>"
        f'<title type="html">Jekyll {feed.number}</title><subtitle>Notes</subtitle>'
        f"<author><name>Author {feed.number}</name></author>" + "".join(entries) + "</feed>"
    )


def drupal(feed: Feed, generation: int = 0, items: int = 10) -> str:
    """Drupal's RSS (views' feed display): xml:base on the feed, the teaser as escaped HTML
    with relative links, a GUID like ``7 at https://site``.
    """
    host = f"drupal{feed.number}.example"
    entries = []
    for item, number in _numbers(items, generation):
        rng = random.Random(f"{feed.path}/{number}")
        title = _title(rng)
        teaser = (
            f'<p>{_sentence(rng)} {_sentence(rng)}</p><p><a href="/node/{number - 1}">'
            "Earlier story</a></p>"
        )
        entries.append(
            f"  <item>\n    <title>{escape(title)}</title>\n    <link>https://{host}/node/"
            f"{number}</link>\n    <description>{escape(teaser)}</description>\n"
            f"  <pubDate>{_rfc822(_date(feed, item, generation))}</pubDate>\n"
            f"    <dc:creator>editor{number % 3}</dc:creator>\n"
            f'    <guid isPermaLink="false">{number} at https://{host}</guid>\n'
            f"    <comments>https://{host}/node/{number}#comments</comments>\n  </item>"
        )
    channel = (
        f"\n    <title>Drupal {feed.number}</title>\n    <link>https://{host}/</link>\n"
        "    <description></description>\n    <language>en</language>\n"
    )
    return _rss(
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom"',
        channel,
        entries,
        root=f' xml:base="https://{host}/"',
    )


RENDER = {
    "wp": wordpress_site,
    "wpmedia": wordpress_media,
    "blogger": blogger,
    "ghost": ghost,
    "substack": substack,
    "medium": medium,
    "hugo": hugo,
    "jekyll": jekyll,
    "drupal": drupal,
    "yt": youtube,
    "wpclassic": wordpress,
    "atom": atom,
}


def write(
    directory: Path,
    count: int,
    generation: int = 0,
    *,
    only: set[str] | None = None,
    items: int | None = None,
    mix: str = "web",
) -> list[Feed]:
    """Write the corpus (or only the feeds named in ``only``; ``items`` per feed instead of
    each generator's usual count); returns every feed.
    """
    every = feeds(count, mix)
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
    parser.add_argument("--mix", choices=sorted(MIXES), default="web")
    arguments = parser.parse_args()
    written = write(arguments.out, arguments.feeds, arguments.generation, mix=arguments.mix)
    print(f"{len(written)} feeds in {arguments.out}")


if __name__ == "__main__":
    main()
