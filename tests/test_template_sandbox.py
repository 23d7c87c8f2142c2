"""Editors' templates run sandboxed: injection payloads are refused with an error the editor can
act on, and templates that loop too long or build huge values are stopped, naming the file.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dispatch.errors import TemplateError
from dispatch.render.renderer import Renderer
from dispatch.render.samples import sample_articles

PERIOD = datetime(2026, 11, 27, 7, tzinfo=UTC)


def render_subject(tmp_path: Path, source: str) -> str:
    folder = tmp_path / "templates" / "email"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "subject.txt.j2").write_text(source, encoding="utf-8")
    rendered = Renderer(tmp_path / "templates").digest(
        name="daily", title="Daily", articles=sample_articles(), period=PERIOD, timezone="UTC"
    )
    return rendered.subject


INJECTIONS = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('touch {canary}').read() }}",
    "{{ joiner.__init__.__globals__.os.system('touch {canary}') }}",
    "{{ lipsum.__globals__['os'].popen('touch {canary}') }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ digest.__class__ }}",
    "{{ articles[0].__class__.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ '{0.__class__}'.format(digest) }}",
    "{{ articles.append.__self__ }}",
    "{% set x = articles.pop() %}{{ x.title.__class__.__base__.__subclasses__() }}",
]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_template_injection_is_refused_with_an_editor_facing_error(
    tmp_path: Path, payload: str
) -> None:
    canary = tmp_path / "canary"
    with pytest.raises(TemplateError) as caught:
        render_subject(tmp_path, payload.replace("{canary}", str(canary)) + "\n")
    error = caught.value
    assert error.template == "templates/email/subject.txt.j2" and error.line == 1
    assert "SecurityError" in error.reason or "unsafe" in error.reason, error.reason
    assert not canary.exists()


HUGE = {
    "string repetition": "{{ 'x' * 100000000 }}",
    "a big exponent": "{{ 10 ** 100000000 }}",
    "doubling through a namespace": (
        "{% set ns = namespace(s='xx') %}"
        "{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}"
    ),
    "a filter that pads": "{{ 'x' | center(100000000) }}",
    "a list that grows": "{{ range(100000) | list * 100 }}",
    "too much output": "{% for i in range(100000) %}{{ 'y' * 100 }}{% endfor %}",
}


@pytest.mark.parametrize("case", sorted(HUGE))
def test_huge_values_and_output_are_stopped(tmp_path: Path, case: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render_subject(tmp_path, HUGE[case] + "\n")
    assert caught.value.template == "templates/email/subject.txt.j2"
    assert ("SecurityError" in caught.value.reason and "limit" in caught.value.reason) or (
        "passed 5,000,000 characters" in caught.value.reason
    ), caught.value.reason


LOOPS = {
    "nested ranges": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
    "{% endfor %}",
    "a loop that calls nothing": "{% set xs = range(100000) | list %}\n"
    "{% for i in xs %}{% for j in xs %}{% endfor %}{% endfor %}",
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(LOOPS))
def test_a_template_that_loops_too_long_is_stopped(tmp_path: Path, case: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render_subject(tmp_path, LOOPS[case] + "\n")
    assert "stopped after 2 s" in caught.value.reason
    assert caught.value.template.endswith("subject.txt.j2")
    # The thread that was stopped renders normally afterwards.
    assert render_subject(tmp_path, "Fine {{ digest.title }}\n") == "Fine Daily"


@pytest.mark.parametrize(
    "expression",
    [
        "d.title",  # an item
        "d._hidden",  # an item that looks private is still only an item
        "d.items()|list|length",  # a dict method wins over an item of the same name
        "d.keys is callable",
        "d.missing is defined",
        "d.__class__",  # refused by the sandbox
        "d.copy",  # a dict method the sandbox allows
    ],
)
def test_dict_lookups_answer_as_jinjas_own_sandbox_does(expression: str) -> None:
    """The sandbox looks up a dict's items without Jinja's failed attribute lookup first (a
    digest does it hundreds of times); what every lookup answers must not change.
    """
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    from dispatch.render.sandbox import GuardedSandbox

    value = {"title": "T", "_hidden": "h", "items": "not the method", "keys": 1}

    def answer(env: jinja2.Environment) -> str:
        try:
            return env.from_string("{{ " + expression + " }}").render(d=value)
        except Exception as e:
            return f"{type(e).__name__}: {e}"

    ours = answer(GuardedSandbox(undefined=jinja2.StrictUndefined))
    assert ours == answer(SandboxedEnvironment(undefined=jinja2.StrictUndefined))
    assert ours  # every expression answers something, or an error naming the lookup
