"""flask-websub's hub (a WebSub hub written by others, from PyPI), run on 127.0.0.1 for the
interoperability test: ``python flask_hub.py PORT DATABASE``.

Its tasks run through Celery; here Celery runs them at once, in the request that asked
(``task_always_eager``), so no broker is needed: the hub verifies a subscription before it
answers the request, and notifies subscribers before it answers a publish. Publishing
(``hub.mode=publish``) is on, as flask-websub allows for tests. ``/subscriptions`` lists what
its store holds, for the test to see.
"""

from __future__ import annotations

import json
import sqlite3
import sys

from celery import Celery
from flask import Flask
from flask_websub.hub import Hub, SQLite3HubStorage


def main() -> None:
    port, database = int(sys.argv[1]), sys.argv[2]
    app = Flask("hub")
    app.config.update(PUBLISH_SUPPORTED=True, HUB_MIN_LEASE_SECONDS=10)
    celery = Celery("hub", broker="memory://", backend="cache+memory://")
    celery.conf.task_always_eager = True
    hub = Hub(SQLite3HubStorage(database), celery, REQUEST_TIMEOUT=10)
    app.register_blueprint(hub.build_blueprint(url_prefix="/hub"))

    @app.route("/subscriptions")
    def subscriptions() -> str:
        with sqlite3.connect(database) as connection:
            rows = connection.execute("SELECT topic_url, callback_url FROM hub").fetchall()
        return json.dumps(rows)

    app.run(host="127.0.0.1", port=port, threaded=True)


if __name__ == "__main__":
    main()
