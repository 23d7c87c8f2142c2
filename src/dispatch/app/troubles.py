"""What is still failing after a run, whether or not the run touched it: what a cron job
alerts on, with exit code 4, until it is fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.config import Config
from dispatch.models import Delivery, RunReport
from dispatch.store.core import Store

SETTLE = "`dispatch status` lists them; `dispatch retry ID` or `dispatch resolve ID` settles one"


@dataclass(frozen=True)
class Trouble:
    """Something failing that a run did not report itself: a feed in backoff, an output whose
    deliveries wait to be retried or are ambiguous.
    """

    subject: str  # "feed 'news'", "output 'mail'"
    reason: str
    hint: str


def still_failing(config: Config, store: Store, report: RunReport) -> list[Trouble]:
    """What is failing now that ``report`` (the run just done) does not show: feeds that
    failed at their last poll and were not polled now (or are no longer polled: gone), and,
    per output, deliveries that wait to be retried or are ambiguous, and credentials refused.
    Each has an action that ends it; a failed delivery is final (dispatch will not try it
    again unless told to), so it is not among them: `dispatch status` lists those.
    """
    reported = {result.feed for result in report.feeds if result.status == "failed"}
    troubles = []
    states = store.feed_states(failing=True)
    for feed in config.feeds:
        state = states.get(feed.name)
        if state is None or feed.name in reported or not (state.error_count or state.disabled):
            continue
        since = f"{state.failing_since:%Y-%m-%d %H:%M} UTC" if state.failing_since else "?"
        if state.disabled:
            reason = f"not polled any more since {since}: {state.disabled}"
            hint = "fix its url in feeds.yaml (it is polled again once the url changes)"
        else:
            reason = f"failing since {since}, {state.error_count} tries: {state.last_error}"
            hint = "it is tried again at its next poll; `dispatch feeds list` shows every feed"
        troubles.append(Trouble(f"feed {feed.name!r}", reason, hint))
    shown = {result.delivery_id for result in report.deliveries}
    problems: dict[str, list[Delivery]] = {}
    for status_ in ("pending", "ambiguous"):
        for delivery in store.deliveries(status_, failed_before=status_ == "pending"):
            if delivery.id not in shown:
                problems.setdefault(delivery.output, []).append(delivery)
    refused = {name: state for name, state in store.output_states().items() if state.refused_since}
    for name in sorted(problems.keys() | refused.keys()):
        deliveries = problems.get(name, [])
        counts = {
            label: sum(d.status == status_ for d in deliveries)
            for status_, label in (("pending", "waiting to be retried"), ("ambiguous", "ambiguous"))
        }
        parts = [f"{n} {label}" for label, n in counts.items() if n]
        if name in refused:
            parts.append(f"credentials refused: {refused[name].refused_error}")
        last = max(deliveries, key=lambda d: d.id).last_error if deliveries else None
        reason = "; ".join(parts) + (f" (the last error: {last})" if last else "")
        troubles.append(Trouble(f"output {name!r}", reason, SETTLE))
    return troubles
