"""An AT Protocol PDS on 127.0.0.1: sessions, records checked by atproto's models, blobs."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

from helpers.servers import Call, JsonServer, Reply, reply


def _jwt(subject: str, lifetime: float = 7200, scope: str = "com.atproto.appPass") -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    claims = {
        "scope": scope,
        "sub": subject,
        "iat": int(time.time()),
        "exp": int(time.time() + lifetime),
        "jti": f"{time.time_ns()}",
    }
    return f"{part({'typ': 'at+jwt', 'alg': 'ES256K'})}.{part(claims)}.c2lnbmF0dXJl"


class AtprotoStandIn(JsonServer):
    """A PDS: createSession, refreshSession, resolveHandle, uploadBlob, createRecord (an existing
    rkey is refused), getRecord.

    Every record is checked as the network checks it, by atproto's own models with strict
    validation and string formats, and each facet's byte range against the text; a thumbnail
    or an embedded image must be a blob uploaded as an image, within the lexicon's size. A
    record that fails is refused (400) and kept in ``invalid`` with the reason.
    """

    def __init__(self, handle: str = "journal.example.org", password: str = "app-pass") -> None:
        super().__init__()
        self.handle_name = handle
        self.password = password
        self.did = "did:plc:standin0000000000000000"
        self.records: dict[str, dict[str, Any]] = {}
        self.blobs: list[bytes] = []
        self.blob_types: dict[str, str] = {}
        self.invalid: list[str] = []
        self.handles: dict[str, str] = {}  # handle -> DID, for resolveHandle
        self.access_lifetime = 7200.0  # seconds an access token lives
        self.sessions = 0  # createSession calls
        self.refreshes = 0

    def output(self, **settings: Any) -> dict[str, Any]:
        """Output settings that reach this stand-in, with ``settings`` added or replaced."""
        return {
            "type": "bluesky",
            "service": self.url,
            "handle": self.handle_name,
            "app_password": self.password,
            **settings,
        }

    def handle(self, call: Call) -> Reply:
        path = call.path.removeprefix("/xrpc/")
        if path == "com.atproto.server.createSession":
            self.sessions += 1
            data = call.json()
            if data.get("identifier") != self.handle_name or data.get("password") != self.password:
                return reply(
                    401,
                    {
                        "error": "AuthenticationRequired",
                        "message": "Invalid identifier or password",
                    },
                )
            return reply(
                200,
                {
                    "did": self.did,
                    "handle": self.handle_name,
                    **self._tokens(),
                    "active": True,
                },
            )
        token = call.headers.get("authorization", "").removeprefix("Bearer ")
        claims = _claims(token)
        if claims is None:
            return reply(401, {"error": "AuthenticationRequired", "message": "no token"})
        if path == "com.atproto.server.refreshSession":
            if claims.get("scope") != "com.atproto.refresh":
                return reply(400, {"error": "InvalidToken", "message": "not a refresh token"})
            self.refreshes += 1
            return reply(200, {"did": self.did, "handle": self.handle_name, **self._tokens()})
        if claims.get("scope") != "com.atproto.appPass":
            return reply(400, {"error": "InvalidToken", "message": "Bad token scope"})
        if claims["exp"] < time.time():
            return reply(400, {"error": "ExpiredToken", "message": "Token has expired"})
        if path == "com.atproto.identity.resolveHandle":
            handle = call.query["handle"][0]
            if handle not in self.handles:
                return reply(
                    400, {"error": "InvalidRequest", "message": "Unable to resolve handle"}
                )
            return reply(200, {"did": self.handles[handle]})
        if path == "com.atproto.repo.uploadBlob":
            self.blobs.append(call.body)
            digest = hashlib.sha256(call.body).hexdigest()[:40]
            link = f"bafkrei{digest}"
            self.blob_types[link] = call.headers.get("content-type", "")
            return reply(
                200,
                {
                    "blob": {
                        "$type": "blob",
                        "ref": {"$link": link},
                        "mimeType": self.blob_types[link],
                        "size": len(call.body),
                    }
                },
            )
        if path == "com.atproto.repo.createRecord":
            data = call.json()
            rkey = data["rkey"]
            if rkey in self.records:
                return reply(
                    400, {"error": "InvalidRequest", "message": f"Record already exists: {rkey}"}
                )
            problem = self._invalid(data["record"])
            if problem is not None:
                self.invalid.append(problem)
                return reply(400, {"error": "InvalidRequest", "message": problem})
            self.records[rkey] = data["record"]
            return reply(200, {"uri": self._uri(rkey), "cid": f"bafyrei{rkey}"})
        if path == "com.atproto.repo.getRecord":
            rkey = call.query["rkey"][0]
            if rkey not in self.records:
                return reply(400, {"error": "RecordNotFound", "message": "Could not locate record"})
            return reply(
                200, {"uri": self._uri(rkey), "cid": f"bafyrei{rkey}", "value": self.records[rkey]}
            )
        return reply(501, {"error": "MethodNotImplemented", "message": path})

    def _uri(self, rkey: str) -> str:
        return f"at://{self.did}/app.bsky.feed.post/{rkey}"

    def _tokens(self) -> dict[str, str]:
        return {
            "accessJwt": _jwt(self.did, self.access_lifetime),
            "refreshJwt": _jwt(self.did, 90 * 86400, scope="com.atproto.refresh"),
        }

    def _invalid(self, record: dict[str, Any]) -> str | None:
        """Why Bluesky would refuse ``record``, by atproto's models and the facets' bytes."""
        from atproto_client import models
        from atproto_client.exceptions import ModelError
        from atproto_client.models.utils import get_or_create
        from pydantic import ValidationError

        try:
            get_or_create(record, models.AppBskyFeedPost.Record, strict_string_format=True)
        except (ModelError, ValidationError, ValueError) as e:
            return f"atproto's models refuse the record: {e}"
        text = record["text"].encode()
        for facet in record.get("facets", []):
            start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
            if not 0 <= start < end <= len(text):
                return f"facet {start}..{end} is outside the text"
            try:
                text[start:end].decode()
            except UnicodeDecodeError:
                return f"facet {start}..{end} splits a character"
            for feature in facet["features"]:
                if feature["$type"].endswith("#mention") and not feature["did"].startswith("did:"):
                    return f"mention facet without a DID: {feature}"
        replied = record.get("reply") or {}
        for role, ref in [(role, replied[role]) for role in ("root", "parent") if role in replied]:
            rkey = ref["uri"].rsplit("/", 1)[1]
            if rkey not in self.records or ref["cid"] != f"bafyrei{rkey}":
                return f"the reply's {role} is not a post here: {ref}"
        embed = record.get("embed") or {}
        pictures = [(embed.get("external") or {}).get("thumb")]
        pictures += [image["image"] for image in embed.get("images", [])]
        for blob in filter(None, pictures):
            mime = self.blob_types.get(blob["ref"]["$link"], "")
            if not mime.startswith("image/") or blob["mimeType"] != mime:
                return f"the picture is not an image blob: {mime!r}"
            if blob["size"] > 1_000_000:  # the lexicon's maxSize for both
                return f"the picture's blob is {blob['size']} bytes, over 1,000,000"
        return None


def _claims(token: str) -> dict[str, Any] | None:
    """The claims of one of our stand-in's tokens, or None for anything else."""
    try:
        payload = token.split(".")[1]
        return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
    except (IndexError, ValueError):
        return None


def bluesky_output(standin: AtprotoStandIn) -> dict[str, Any]:
    return standin.output(app_password="${BSKY_APP_PASSWORD}", language="en")
