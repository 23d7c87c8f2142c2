"""Reading feeds: fetching them politely, parsing them (a checked fast path, feedparser for
the rest), finding their videos, and sanitising what they carry.
"""
