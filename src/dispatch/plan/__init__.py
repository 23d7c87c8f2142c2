"""Pure decisions, with no I/O and ``now`` passed in: which articles are new, when a feed is
due and a digest fires, which rule an article goes to and why, and the outbox's rules for
retrying and recovering deliveries.
"""
