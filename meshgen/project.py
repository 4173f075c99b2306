"""Where meshgen lives online. The repository's owner/name is set here and nowhere else; every
link meshgen writes (the schema modeline, a diagnostic's documentation) is made from it and
points at this release's tag, which never changes once tagged."""

from __future__ import annotations

from meshgen import __version__

REPOSITORY = "meshgen/meshgen"
REPOSITORY_URL = f"https://github.com/{REPOSITORY}"
TAG = f"v{__version__}"


def docs_url(page: str, anchor: str = "") -> str:
    """A page of docs/ at this release's tag, e.g. docs_url("diagnostics.md", "mg101")."""
    return f"{REPOSITORY_URL}/blob/{TAG}/docs/{page}" + (f"#{anchor}" if anchor else "")


def raw_url(path: str) -> str:
    """A file of the repository at this release's tag, as served raw (what editors fetch)."""
    return f"https://raw.githubusercontent.com/{REPOSITORY}/{TAG}/{path}"
