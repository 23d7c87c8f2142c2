"""What an operator does between runs: see the outputs and the outbox, send a failed delivery
again, and settle an ambiguous one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dispatch.config import Config
from dispatch.config.plugins import broken_output_types
from dispatch.config.secrets import Secret
from dispatch.errors import OperationError
from dispatch.models import Article, Delivery, FeedState, OutputState, Subscription
from dispatch.outbox.deliverer import plan_queue
from dispatch.outputs.base import Output
from dispatch.outputs.registry import output_types, recall_limits
from dispatch.plan.explain import DigestPlan, plan_digest
from dispatch.render.fit import unit
from dispatch.store.core import Store


@dataclass(frozen=True)
class OutputInfo:
    name: str
    type: str
    kinds: tuple[str, ...]
    ready: str | None  # None when ready, else why not
    settings: str  # secrets masked
    held: str | None = None  # credentials refused: since when, and the next try
    limit: str | None = None  # the limit posts are fitted to, and where it comes from


@dataclass(frozen=True)
class Status:
    counts: dict[str, dict[str, int]]  # output -> status -> count
    attention: list[Delivery]  # failed and ambiguous, oldest first
    waiting: list[Delivery]  # pending, oldest first
    feeds: list[FeedState]
    articles: dict[str, int]  # feed -> articles known
    outputs: dict[str, OutputState] = field(default_factory=dict)  # kept limits, refusals
    digests: list[DigestPlan] = field(default_factory=list)  # each digest's next issue
    held: dict[str, str] = field(default_factory=dict)  # output -> why it cannot send now
    subscriptions: dict[str, Subscription] = field(default_factory=dict)  # feed -> WebSub
    now: datetime | None = None  # when it was read
    planned: dict[int, datetime] = field(default_factory=dict)  # queued post -> when it goes


def describe_outputs(
    config: Config, outputs: dict[str, Output], states: Mapping[str, OutputState] | None = None
) -> list[OutputInfo]:
    """Each configured output: its type, whether it can send now (credentials refused at the
    last try, from the store's ``states``), its posts' limit and where it comes from, its
    settings with secrets masked.
    """
    recall_limits(outputs, states or {})
    infos = []
    for name, output in outputs.items():
        state = (states or {}).get(name)
        capabilities = output.capabilities
        limit = None
        if capabilities.limit is not None and "post" in output.kinds:
            limit = f"{capabilities.limit:,} {unit(capabilities)}"
            if capabilities.limit_source:
                limit += f"; {capabilities.limit_source}"
        shown = []
        fields = type(output.settings).model_fields
        for setting in sorted(output.settings.model_fields_set - {"type"}):
            value = getattr(output.settings, setting)
            key = fields[setting].alias or setting
            shown.append(f"{key}={value if isinstance(value, Secret) else _plain(value)}")
        infos.append(
            OutputInfo(
                name=name,
                type=output.settings.type,
                kinds=tuple(sorted(output.kinds)),
                ready=output.ready(),
                settings=" ".join(shown),
                held=state.held() if state and state.refused_since else None,
                limit=limit,
            )
        )
    return infos


def known_types() -> dict[str, str]:
    """Every output type installed, with where it comes from, and those that failed to load."""
    known = {name: f"{cls.__module__}.{cls.__qualname__}" for name, cls in output_types().items()}
    known.update({name: f"failed to load: {why}" for name, why in broken_output_types().items()})
    return dict(sorted(known.items()))


def status(
    store: Store,
    config: Config | None = None,
    outputs: Mapping[str, Output] | None = None,
    now: datetime | None = None,
) -> Status:
    """The outbox, feeds and outputs as the store has them; with ``config`` and ``outputs``,
    each digest's next issue too, and why an output's deliveries are held (a secret not set).
    """
    moment = now or datetime.now(UTC)
    counts: dict[str, dict[str, int]] = {}
    attention: list[Delivery] = []
    waiting: list[Delivery] = []
    for state in ("pending", "sending", "sent", "failed", "ambiguous"):
        for delivery in store.deliveries(state):
            per_output = counts.setdefault(delivery.output, {})
            per_output[state] = per_output.get(state, 0) + 1
            if state in ("failed", "ambiguous"):
                attention.append(delivery)
            elif state == "pending":
                waiting.append(delivery)
    feeds = sorted(store.feed_states().values(), key=lambda s: s.name)
    held = {}
    for name, output in (outputs or {}).items():
        reason = output.ready()
        if reason:
            held[name] = f"output not ready: {reason}"
    return Status(
        counts,
        sorted(attention, key=lambda d: d.id),
        waiting,
        feeds,
        store.article_counts(),
        store.output_states(),
        [
            plan_digest(rule, store.queued(rule.name), store.last_digest_period(rule.name), moment)
            for rule in (config.digests if config else [])
        ],
        held,
        store.subscriptions(),
        moment,
        {
            delivery_id: at
            for output in (outputs or {}).values()
            if config is not None and output.settings.queues
            for delivery_id, at in plan_queue(store, config, output, moment).items()
        },
    )


def retry(store: Store, delivery_id: int, now: datetime) -> Delivery:
    """Queue a failed or ambiguous delivery to be sent again at the next `dispatch send`.

    Raises:
        OperationError: no such delivery, or it is not failed or ambiguous.
    """
    delivery = _get(store, delivery_id, ("failed", "ambiguous"))
    store.set_status(
        delivery_id, "pending", now, f"retry asked by the operator ({delivery.status})"
    )
    return delivery


def resolve(store: Store, delivery_id: int, *, sent: bool, now: datetime) -> Delivery:
    """Settle an ambiguous delivery: it did go out (``sent``), or it did not (sent again).

    Raises:
        OperationError: no such delivery, or it is not ambiguous.
    """
    delivery = _get(store, delivery_id, ("ambiguous",))
    if sent:
        store.set_status(delivery_id, "sent", now, "resolved as sent by the operator")
    else:
        store.set_status(delivery_id, "pending", now, "resolved as unsent by the operator")
    return delivery


def _get(store: Store, delivery_id: int, allowed: tuple[str, ...]) -> Delivery:
    delivery = store.delivery(delivery_id)
    if delivery is None:
        raise OperationError(f"there is no delivery {delivery_id}; `dispatch status` lists them")
    if delivery.status not in allowed:
        raise OperationError(
            f"delivery {delivery_id} is {delivery.status}; this works on {' or '.join(allowed)}"
        )
    return delivery


def _plain(value: object) -> str:
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


def set_summary(store: Store, article_id: int, text: str) -> Article:
    """An editor's summary for one article, as plain text (markup stripped, whitespace
    collapsed), used by every digest and post rendered from now on.

    Raises:
        OperationError: no such article, or the text is empty.
    """
    import nh3

    summary = " ".join(nh3.clean(text, tags=set()).replace("&amp;", "&").split())
    if not summary:
        raise OperationError("the summary is empty; write it as plain text")
    if not store.articles_exist([article_id]):
        raise OperationError(f"no article has ID {article_id}; `dispatch articles list` shows them")
    store.set_summary(article_id, summary)
    (article,) = store.articles([article_id])
    return article
