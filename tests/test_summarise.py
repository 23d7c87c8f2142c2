"""The extractive summariser: no boilerplate, keeps the lede, ends on a sentence."""

from __future__ import annotations

from dispatch.enrich.summarise import ExtractiveSummariser
from dispatch.models import Article

ARTICLE = Article(feed="f", key="k", title="t", link=None)


def summarise(text: str, max_chars: int = 280) -> str:
    return ExtractiveSummariser(max_chars).summarise(ARTICLE, text)


def test_keeps_the_lede_and_ends_on_a_sentence() -> None:
    text = (
        "The council voted to close the old bridge on Monday. Repairs will take a year. "
        "Traders fear the detour will cost them customers. The mayor disagrees."
    )
    assert summarise(text, 90) == (
        "The council voted to close the old bridge on Monday. Repairs will take a year."
    )


def test_drops_bylines_and_boilerplate() -> None:
    text = (
        "By Ayesha Raza\n26 November 2026\nThe minister resigned on Tuesday evening after "
        "a week of pressure.\nContinue reading →\n"
        "The post Minister resigns appeared first on The Journal."
    )
    assert summarise(text) == "The minister resigned on Tuesday evening after a week of pressure."


def test_a_long_first_sentence_is_cut_at_a_word() -> None:
    text = "word " * 200 + "end."
    summary = summarise(text, 50)
    assert len(summary) <= 50 and summary.endswith("…") and "wor…" not in summary


def test_length_is_configurable() -> None:
    text = " ".join(f"Sentence number {n} is here." for n in range(40))
    assert len(summarise(text, 100)) <= 100
    assert len(summarise(text, 600)) > 500


def test_trailing_read_more_ellipsis_is_dropped() -> None:
    assert summarise("Half the city buys its water by the truckload. [&hellip;]") == (
        "Half the city buys its water by the truckload."
    )
    assert summarise("Half the city buys its water by the truckload. […]") == (
        "Half the city buys its water by the truckload."
    )


def test_empty_text_gives_empty_summary() -> None:
    assert summarise("") == ""
