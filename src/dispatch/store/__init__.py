"""All durable state, and the only SQL: the schema and its migrations, one ``Store`` over
SQLite (the default) or PostgreSQL (many workers), and the engines that run it.
"""
