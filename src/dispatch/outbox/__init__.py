"""The outbox: the deliverer that claims due deliveries, renders them and hands each to its
output, recording every step before the next; the sends in flight; the heartbeat that keeps
leases alive; recovery after a crash.
"""
