"""The networks' own code, run in Node.js from tests/oracles (installed by tests/prepare.sh):
what Bluesky's app and X's twitter-text say of a text.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from helpers.prepared import needs

ORACLES = Path(__file__).resolve().parent.parent / "oracles"


def judge(texts: list[str]) -> list[dict[str, Any]]:
    """For each text: ``facets`` as @atproto/api detects them (a mention's handle where its DID
    would go), ``x`` and ``valid`` as twitter-text's parseTweet counts it, and ``hashtags``
    as twitter-text's extractHashtags finds them (without their ``#``).
    """
    node = shutil.which("node")
    installed = (ORACLES / "node_modules" / "@atproto" / "api").is_dir()
    needs("the networks' own code (Node.js and tests/oracles)", node is not None and installed)
    assert node is not None
    answer = subprocess.run(
        [node, "judge.mjs"],
        cwd=ORACLES,
        input="".join(json.dumps(text) + "\n" for text in texts),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    verdicts = [json.loads(line) for line in answer.stdout.splitlines()]
    assert len(verdicts) == len(texts), answer.stderr
    return verdicts
