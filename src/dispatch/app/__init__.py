"""The application: one run of the whole flow (the dispatcher), the daemon around it with its
health and metrics endpoints and logs, the operator's commands, ``check``, and adding feeds.
"""
