"""What an editor shows, from the real yaml-language-server (issue 21): the server editors run
(VS Code's YAML extension, Neovim, Helix), pinned in scripts/install-tools, spoken to over
stdio as an editor does. Each example opens with a modeline that points at a schema file next
to it (offline, as `meshgen init` writes it); hover on every property shows that property's
own description, completion offers an enum's values, and a misspelt key gets a diagnostic."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from meshgen.schema import schema_text
from tests.helpers import EXAMPLES, ROOT

pytestmark = pytest.mark.tools

SERVER = ROOT / ".tools" / "node" / "node_modules" / "yaml-language-server" / "bin"
SERVER_JS = SERVER / "yaml-language-server"
TIMEOUT = 30


class Client:
    """A minimal LSP client: JSON-RPC with Content-Length framing over the server's stdio."""

    def __init__(self, root: Path) -> None:
        node = shutil.which("node")
        assert node is not None
        self.proc = subprocess.Popen(
            [node, str(SERVER_JS), "--stdio"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.next_id = 0
        self.responses: dict[int, queue.Queue[Any]] = {}
        self.notifications: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.request(
            "initialize",
            {
                "processId": None,
                "rootUri": root.as_uri(),
                "capabilities": {
                    "textDocument": {
                        "hover": {"contentFormat": ["markdown", "plaintext"]},
                        "completion": {"completionItem": {"snippetSupport": False}},
                        "publishDiagnostics": {},
                    },
                    "workspace": {"configuration": True},
                },
            },
        )
        self.notify("initialized", {})
        settings = {"yaml": {"validate": True, "hover": True, "completion": True}}
        self.notify("workspace/didChangeConfiguration", {"settings": settings})

    def _read(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        while True:
            length = 0
            while True:
                line = stream.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            message = json.loads(stream.read(length))
            if "id" in message and "method" in message:  # a request from the server
                self._answer(message)
            elif "id" in message:
                self.responses.setdefault(message["id"], queue.Queue()).put(message)
            else:
                self.notifications.put(message)

    def _answer(self, message: dict[str, Any]) -> None:
        result: Any = None
        if message["method"] == "workspace/configuration":
            result = [{"validate": True, "hover": True, "completion": True}] * len(
                message["params"]["items"]
            )
        self._send({"jsonrpc": "2.0", "id": message["id"], "result": result})

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        stdin = self.proc.stdin
        assert stdin is not None
        stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        stdin.flush()

    def request(self, method: str, params: dict[str, Any]) -> Any:
        self.next_id += 1
        box = self.responses.setdefault(self.next_id, queue.Queue())
        self._send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        answer = box.get(timeout=TIMEOUT)
        assert "error" not in answer, answer
        return answer["result"]

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def open(self, path: Path, text: str) -> str:
        uri = path.as_uri()
        document = {"uri": uri, "languageId": "yaml", "version": 1, "text": text}
        self.notify("textDocument/didOpen", {"textDocument": document})
        return uri

    def diagnostics(self, uri: str) -> list[dict[str, Any]]:
        while True:
            message = self.notifications.get(timeout=TIMEOUT)
            params = message.get("params") or {}
            if message.get("method") == "textDocument/publishDiagnostics" and (
                params.get("uri") == uri
            ):
                found: list[dict[str, Any]] = params["diagnostics"]
                return found

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if not SERVER_JS.exists() or shutil.which("node") is None:
        pytest.skip("yaml-language-server is not installed (scripts/install-tools)")
    root = tmp_path_factory.mktemp("ls")
    (root / "mesh.schema.json").write_text(schema_text(), encoding="utf-8")
    c = Client(root)
    c.root = root  # type: ignore[attr-defined]
    yield c
    c.close()


def local(text: str) -> str:
    """The example with the modeline `meshgen init` writes: the schema file next to it."""
    lines = text.splitlines(keepends=True)
    assert lines[0].startswith("# yaml-language-server: $schema=")
    return "# yaml-language-server: $schema=./mesh.schema.json\n" + "".join(lines[1:])


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(schema_text())
    return schema


def _resolve(node: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node and len(node) == 1:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _object_schemas(node: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The object schemas a value under `node` can be (through $ref, items, anyOf)."""
    node = _resolve(node, schema) if "$ref" in node and "properties" not in node else node
    if "$ref" in node and "properties" not in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
    out = [node] if "properties" in node else []
    if "items" in node:
        out += _object_schemas(node["items"], schema)
    for option in node.get("anyOf", ()):
        out += _object_schemas(option, schema)
    return out


def documented_keys(text: str) -> list[tuple[int, int, str, str]]:
    """(line, column, key, its description) of every key of the spec the schema describes."""
    schema = _schema()
    data = YAML().load(text)
    out: list[tuple[int, int, str, str]] = []

    def walk(value: Any, schemas: list[dict[str, Any]]) -> None:
        if isinstance(value, CommentedMap):
            for key, child in value.items():
                props = [s["properties"][key] for s in schemas if key in s.get("properties", {})]
                if not props:
                    continue
                line, column = value.lc.key(key)
                description = props[0].get("description")
                if isinstance(description, str):
                    out.append((line, column, key, description))
                walk(child, [o for p in props for o in _object_schemas(p, schema)])
        elif isinstance(value, list):
            for item in value:
                walk(item, schemas)

    walk(data, [schema])
    return out


def _hover_text(hover: Any) -> str:
    contents = hover["contents"] if hover else ""
    if isinstance(contents, dict):
        return str(contents.get("value", ""))
    if isinstance(contents, list):
        return "\n".join(c if isinstance(c, str) else c.get("value", "") for c in contents)
    return str(contents)


def _plain(text: str) -> str:
    """Markdown hover text as words: escapes and emphasis gone, spaces single."""
    for char in "\\`*_":
        text = text.replace(char, "")
    return " ".join(text.split())


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_hover_shows_each_propertys_own_description(client: Client, example: str) -> None:
    root: Path = client.root  # type: ignore[attr-defined]
    text = local(EXAMPLES[example].read_text(encoding="utf-8"))
    path = root / f"{example}.yaml"
    path.write_text(text, encoding="utf-8")
    uri = client.open(path, text)
    keys = documented_keys(text)
    assert len(keys) > 20
    wrong = []
    for line, column, key, description in keys:
        hover = client.request(
            "textDocument/hover",
            {"textDocument": {"uri": uri}, "position": {"line": line, "character": column + 1}},
        )
        shown = _plain(_hover_text(hover))
        if _plain(description)[:60] not in shown:
            wrong.append(f"{line + 1}:{column + 1} {key}: {shown[:120]!r}")
    assert not wrong, "\n".join(wrong)


def test_completion_offers_an_enums_values(client: Client) -> None:
    root: Path = client.root  # type: ignore[attr-defined]
    text = local(EXAMPLES["openshift-submariner"].read_text(encoding="utf-8"))
    lines = text.splitlines()
    row = next(i for i, line in enumerate(lines) if line.strip().startswith("installer:"))
    column = lines[row].index("installer:") + len("installer: ")
    lines[row] = lines[row][:column]
    edited = "\n".join(lines) + "\n"
    path = root / "completion.yaml"
    uri = client.open(path, edited)
    result = client.request(
        "textDocument/completion",
        {"textDocument": {"uri": uri}, "position": {"line": row, "character": column}},
    )
    items = result["items"] if isinstance(result, dict) else result
    labels = {item["label"] for item in items}
    assert {"istioctl", "operator", "helm", "sail"} <= labels, labels


def test_a_misspelt_key_gets_a_diagnostic(client: Client) -> None:
    root: Path = client.root  # type: ignore[attr-defined]
    text = local(EXAMPLES["openshift-submariner"].read_text(encoding="utf-8"))
    typo = text.replace("podCIDR:", "podCIRD:", 1)
    path = root / "typo.yaml"
    uri = client.open(path, typo)
    diagnostics = client.diagnostics(uri)
    row = next(i for i, line in enumerate(typo.splitlines()) if "podCIRD:" in line)
    messages = [d["message"] for d in diagnostics if d["range"]["start"]["line"] == row]
    assert any("podCIRD" in m and "not allowed" in m for m in messages), diagnostics
