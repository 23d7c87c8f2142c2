"""`dispatch preview`: the editors' workbench, a page on 127.0.0.1 that shows every digest and
post as it will go out, and why each article is in or out, and follows every save.

It watches feeds.yaml, the templates folder and the state file, rebuilds the preview after a
change and tells the open pages over Server-Sent Events; they swap in the new content. All work
on the store happens on one thread (SQLite connections belong to theirs); the state file is
only ever read, through an in-memory snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import jinja2
from aiohttp import web

from dispatch.app.dispatcher import Dispatcher
from dispatch.config import Config, load_config
from dispatch.errors import ConfigError, DispatchError, listen_error
from dispatch.outputs.base import Output
from dispatch.outputs.registry import open_outputs, recall_limits
from dispatch.preview.model import Preview, build, keep_last_good
from dispatch.render.renderer import Renderer
from dispatch.store.core import Store, opened

WATCH_EVERY = 0.25  # seconds between looks at the watched files
KEEPALIVE = 15.0  # seconds between comments on an idle event stream

log = logging.getLogger("dispatch.preview")
_page = jinja2.Environment(
    loader=jinja2.PackageLoader("dispatch.preview", "web"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass
class Workbench:
    """The preview's state: the last good config and preview, what is wrong now, a version
    that goes up with every rebuild.
    """

    config_path: Path
    config: Config
    preview: Preview | None = None
    config_problems: tuple[str, ...] = ()
    version: int = 0
    _store: Store | None = None
    _held: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)  # the snapshot
    _outputs: dict[str, Output] = field(default_factory=dict)
    _source: str = ""

    def load(self) -> None:
        """Read feeds.yaml and the store again; keep the last good config when it is invalid."""
        try:
            config = load_config(self.config_path)
            outputs = open_outputs(config)
        except ConfigError as e:
            self.config_problems = tuple(str(p) for p in e.problems) or (e.describe(),)
            return
        except DispatchError as e:
            self.config_problems = (e.describe(),)
            return
        self.config, self._outputs, self.config_problems = config, outputs, ()
        self._held.close()  # the last snapshot, if any
        self._store = self._held.enter_context(opened(config.state_location, snapshot=True))
        recall_limits(outputs, self._store.output_states())  # counted as a send will count
        self._source = f"the state store {self._store.path}"
        if not any(self._store.article_counts().values()):
            # Nothing read yet: read the feeds into the snapshot, as a dry run would.
            dispatcher = Dispatcher.build(config, self._store, outputs)
            dispatcher.poll(datetime.now(UTC), force=True)
            self._source = "the feeds, read into memory just now (the state store has none yet)"

    def render(self) -> None:
        assert self._store is not None
        templates = self.config.templates_dir
        current = build(
            self.config,
            self._store,
            Renderer(templates),
            self._outputs,
            datetime.now(UTC),
            self._source,
        )
        self.preview = keep_last_good(self.preview, current)

    def watched(self) -> dict[Path, tuple[int, int]]:
        """Each watched file's modification time and size (missing files count too)."""
        paths = [self.config_path]
        state = self.config.state_location
        if isinstance(state, Path):
            paths.append(state)
        folder = self.config.templates_dir
        if folder is not None:
            paths += sorted(p for p in folder.rglob("*") if p.is_file())
        seen = {}
        for path in paths:
            try:
                info = path.stat()
                seen[path] = (info.st_mtime_ns, info.st_size)
            except OSError:
                seen[path] = (0, -1)
        return seen

    def page(self, *, partial: bool = False) -> str:
        return _page.get_template("preview.html.j2").render(
            bench=self, preview=self.preview, partial=partial, config_path=self.config_path
        )

    def close(self) -> None:
        self._held.close()


class Server:
    """The web side: the page, each digest's HTML for its frames, the event stream, and the
    watcher that rebuilds after a save.
    """

    def __init__(self, bench: Workbench) -> None:
        self.bench = bench
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="preview")
        self._changed = asyncio.Condition()
        self._stopping = asyncio.Event()

    async def _run(self, call: Callable[[], None]) -> None:
        await asyncio.get_running_loop().run_in_executor(self._worker, call)

    def app(self) -> web.Application:
        app = web.Application()
        app.add_routes(
            [
                web.get("/", self._index),
                web.get("/digest/{index:\\d+}", self._digest),
                web.get("/events", self._events),
                web.get("/archive/{digest}/{path:.*}", self._archive),
            ]
        )
        app.cleanup_ctx.append(self._lifetime)
        app.on_shutdown.append(self._shutdown)
        return app

    async def _lifetime(self, app: web.Application) -> AsyncIterator[None]:
        await self._run(self._first_build)
        watcher = asyncio.create_task(self._watch())
        yield
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await self._run(self.bench.close)
        self._worker.shutdown()

    def _first_build(self) -> None:
        self.bench.load()
        self.bench.render()
        self.bench.version += 1

    async def _shutdown(self, app: web.Application) -> None:
        self._stopping.set()
        async with self._changed:
            self._changed.notify_all()

    async def _watch(self) -> None:
        seen = self.bench.watched()
        while True:
            await asyncio.sleep(WATCH_EVERY)
            now = self.bench.watched()
            if now == seen:
                continue
            changed = {p for p in now.keys() | seen.keys() if now.get(p) != seen.get(p)}
            reload = self.bench.config_path in changed or any(
                p.name.startswith(Path(self.bench.config.state).name) for p in changed
            )
            seen = now
            log.info("changed: %s", ", ".join(sorted(p.name for p in changed)))
            await self._run(self._reload if reload else self._rerender)
            seen = self.bench.watched()  # a reload may change what is watched
            async with self._changed:
                self.bench.version += 1
                self._changed.notify_all()

    def _reload(self) -> None:
        self.bench.load()
        self._rerender()

    def _rerender(self) -> None:
        try:
            self.bench.render()
        except DispatchError as e:  # the store or an output, not a template: say so
            self.bench.config_problems = (e.describe(),)

    async def _archive(self, request: web.Request) -> web.StreamResponse:
        """A digest's web archive, as a static host would serve it: /archive/<digest>/."""
        rule = next(
            (d for d in self.bench.config.digests if d.name == request.match_info["digest"]),
            None,
        )
        if rule is None or rule.archive is None:
            raise web.HTTPNotFound(text="no such digest, or it has no archive")
        folder = self.bench.config.resolve(rule.archive.path).resolve()
        wanted = (folder / (request.match_info["path"] or "index.html")).resolve()
        if wanted.is_dir():
            wanted = wanted / "index.html"
        if not wanted.is_relative_to(folder) or not wanted.is_file():
            raise web.HTTPNotFound(text="not in the archive (yet): a real send writes it")
        return web.FileResponse(wanted)

    async def _index(self, request: web.Request) -> web.Response:
        partial = request.query.get("partial") == "1"
        return web.Response(
            text=self.bench.page(partial=partial),
            content_type="text/html",
            headers={"Cache-Control": "no-store"},
        )

    async def _digest(self, request: web.Request) -> web.Response:
        index = int(request.match_info["index"])
        digests = self.bench.preview.digests if self.bench.preview else ()
        if index >= len(digests):
            raise web.HTTPNotFound(text="no such digest; reload the page")
        return web.Response(
            text=digests[index].html,
            content_type="text/html",
            headers={
                "Cache-Control": "no-store",
                # The email is shown, never run: no scripts, nothing fetched but its images.
                "Content-Security-Policy": "default-src 'none'; img-src * data:; "
                "style-src 'unsafe-inline'; font-src *",
            },
        )

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        sent = -1
        try:
            while not self._stopping.is_set():
                if self.bench.version != sent:
                    sent = self.bench.version
                    await response.write(f"data: {sent}\n\n".encode())
                    continue
                async with self._changed:
                    try:
                        await asyncio.wait_for(self._changed.wait(), KEEPALIVE)
                    except TimeoutError:
                        await response.write(b": keepalive\n\n")
        except ConnectionResetError:  # the tab was closed or reloaded: nothing to say
            pass
        return response


def serve(config_path: Path, config: Config, host: str, port: int) -> None:
    """Serve the preview until interrupted.

    Raises:
        ListenError: the port is taken, or not allowed.
    """
    server = Server(Workbench(config_path, config))

    def announce(message: object) -> None:
        print(f"dispatch preview: http://{host}:{port}/ (Ctrl-C stops it)", flush=True)

    try:
        web.run_app(
            server.app(),
            host=host,
            port=port,
            print=announce,
            shutdown_timeout=1.0,
            access_log=None,
            handle_signals=True,
        )
    except OSError as e:
        if e.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise
        raise listen_error(
            "the preview",
            f"{host}:{port}",
            e,
            "another preview may be open there; pass --port with a free port (like "
            f"--port {port + 1})",
        ) from None
