"""A small client of one box cluster's API server (urllib, the admin token): what the box's
own machinery reads and writes between runbook lines must cost milliseconds, not a kubectl
process each."""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
RETRIES = 30


class ApiError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


def bearer_request(
    url: str, token: str, method: str, body: object = None, content_type: str = "application/json"
) -> urllib.request.Request:
    """A Kubernetes API request with a bearer token, asking for JSON and sending `body` as
    JSON (or as `content_type`, for a patch)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", content_type)
    return request


@dataclass
class Api:
    server: str  # https://127.0.0.1:PORT
    token: str
    ca_file: str | None = None
    _context: ssl.SSLContext = field(init=False, repr=False)

    def __post_init__(self) -> None:
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.ca_file is None:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        self._context = context

    def request(
        self,
        method: str,
        path: str,
        body: Obj | None = None,
        content_type: str = "application/json",
    ) -> Obj:
        req = bearer_request(self.server + path, self.token, method, body, content_type)
        for attempt in range(RETRIES):
            try:
                with urllib.request.urlopen(req, context=self._context, timeout=30) as resp:
                    raw = resp.read()
                break
            except urllib.error.HTTPError as error:
                # 429 "storage is (re)initializing": a CRD just created, its watch cache not
                # ready; the server says when to come back.
                if error.code == 429 and attempt + 1 < RETRIES:
                    time.sleep(min(float(error.headers.get("Retry-After") or 1), 1.0))
                    continue
                raise ApiError(error.code, error.read().decode(errors="replace")[:500]) from None
        result: Obj = json.loads(raw) if raw else {}
        return result

    def get(self, path: str) -> Obj:
        return self.request("GET", path)

    def items(self, path: str, **query: str) -> list[Obj]:
        suffix = "?" + urllib.parse.urlencode(query) if query else ""
        found: list[Obj] = self.get(path + suffix).get("items", [])
        return found

    def maybe(self, path: str) -> Obj | None:
        try:
            return self.get(path)
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    def create(self, path: str, body: Obj) -> Obj:
        return self.request("POST", path, body)

    def patch(self, path: str, body: Obj) -> Obj:
        return self.request("PATCH", path, body, "application/merge-patch+json")

    def delete(self, path: str) -> None:
        try:
            self.request("DELETE", path)
        except ApiError as error:
            if error.status != 404:
                raise

    def token_for(self, namespace: str, account: str, audience: str | None = None) -> str:
        """A token of a service account (TokenRequest), as the kubelet projects one."""
        spec: Obj = {"expirationSeconds": 86400}
        if audience is not None:
            spec["audiences"] = [audience]
        answer = self.create(
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec},
        )
        token: str = answer["status"]["token"]
        return token
