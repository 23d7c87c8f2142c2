"""Sample articles that stress templates, for ``dispatch check`` and the preview of a store
with nothing in it yet.
"""

from __future__ import annotations

from datetime import UTC, datetime

from dispatch.models import Article, VideoCard


def sample_articles() -> list[Article]:
    """Articles that stress templates: a long non-ASCII title with a video, image and long
    summary; a plain short one; one with emoji and no link to an image.
    """
    published = datetime(2026, 11, 26, 17, 30, tzinfo=UTC)
    video = VideoCard(
        "aqz-KE-bpKQ",
        "https://www.youtube.com/watch?v=aqz-KE-bpKQ",
        "https://i.ytimg.com/vi/aqz-KE-bpKQ/hqdefault.jpg",
        "The budget explained",
    )
    return [
        Article(
            feed="sample",
            source="The Sample Gazette",
            key="s1",
            id=1,
            title="Bürgerhaushalt 2026: what the new tax bands mean for teachers, "
            "shopkeepers and retired engineers across the province",
            link="https://news.example/2026/11/26/budget-2026-tax-bands/",
            author="Ayesha Raza",
            published=published,
            categories=("Economy",),
            image="https://news.example/wp-content/uploads/bands.png",
            cards=(video,),
            summary="The finance minister moved three income tax bands on Thursday and "
            "froze a fourth, the largest change to personal taxation in a decade. "
            "We worked through what that means for three households.",
        ),
        Article(
            feed="sample",
            source="The Sample Gazette",
            key="s2",
            id=2,
            title="Metro line 2 opens",
            link="https://news.example/metro",
            image="https://news.example/wp-content/uploads/metro.jpg",
            published=published,
            summary="The second metro line opened on Thursday.",
        ),
        Article(
            feed="sample",
            source="Regional Wire",
            key="s3",
            id=3,
            title="Cinemas report their best weekend since 2019 🎬🍿",
            link="https://wire.example/cinemas",
            published=None,
            summary="Two local productions sold out in every major city. 日本語も。",
        ),
    ]
