"""The configuration: feeds.yaml's typed models (``schema``), loading them with every problem
placed (``load``), the output types it may name (``plugins``), secrets from the environment
(``secrets``). Editing the file in place is ``dispatch.app.feeds``.

Every stage reads the configuration, so its common names are importable from here.
"""

from dispatch.config.load import DEFAULT_PATH, config_path, format_place, load_config, parse_config
from dispatch.config.schema import (
    TEMPLATES_FOLDER,
    USER_AGENT,
    ArchiveSettings,
    Config,
    DaemonSettings,
    DigestConfig,
    FeedConfig,
    FetchSettings,
    FilterSettings,
    LlmSettings,
    OutputSettings,
    PostConfig,
    RuleConfig,
    StoriesSettings,
    SummarySettings,
    UtmSettings,
    Window,
    cron_trigger,
    feed_url_problem,
    parse_duration,
)

__all__ = [
    "DEFAULT_PATH",
    "TEMPLATES_FOLDER",
    "USER_AGENT",
    "ArchiveSettings",
    "Config",
    "DaemonSettings",
    "DigestConfig",
    "FeedConfig",
    "FetchSettings",
    "FilterSettings",
    "LlmSettings",
    "OutputSettings",
    "PostConfig",
    "RuleConfig",
    "StoriesSettings",
    "SummarySettings",
    "UtmSettings",
    "Window",
    "config_path",
    "cron_trigger",
    "feed_url_problem",
    "format_place",
    "load_config",
    "parse_config",
    "parse_duration",
]
