"""MG106-MG109: values the schema accepts but that must not reach the output: paths that
leave where they point into, and credentials that would be committed with the generated
files.

Everything meshgen writes is meant to be committed to git: a token in `gitops.repoURL` would
sit in every Argo CD Application, Flux GitRepository and the README; a key in `istio.values`
in every install file. These checks never print the secret they found.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from meshgen.checks._common import error, warning
from meshgen.codes import summaries
from meshgen.diagnostics import Diagnostic
from meshgen.load import Positions, YamlPath
from meshgen.spec import Mesh
from meshgen.spec_traffic import StringMatch

CODES = summaries("MG106", "MG107", "MG108", "MG109")

GITOPS_PATH: YamlPath = ("spec", "gitops", "path")
KEY_PREFIX: YamlPath = ("spec", "secrets", "keyPrefix")
REPO_URL: YamlPath = ("spec", "gitops", "repoURL")
VALUES: YamlPath = ("spec", "istio", "values")


# --- MG106 -------------------------------------------------------------------------------


def path_problems(path: str, *, absolute_ok: bool = False) -> list[str]:
    """What makes `path` other than a clean relative path ("" when it is one). A lone "."
    (the repository root) is clean; `absolute_ok` allows one leading "/"."""
    problems: list[str] = []
    if "\\" in path:
        problems.append("a backslash")
    body = path
    if path.startswith("/"):
        if not absolute_ok:
            problems.append("a leading / (it is absolute)")
        body = path[1:]
    segments = body.split("/")
    if ".." in segments:
        problems.append('a ".." segment')
    if "." in segments and body != ".":
        problems.append('a "." segment')
    if "" in segments:
        problems.append("an empty segment (// or a trailing /)")
    return problems


def check_paths(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG106: `gitops.path` is joined into Argo CD Application and Flux Kustomization paths
    and the README's commands; `secrets.keyPrefix` starts every remote key of the
    ExternalSecrets. `..` would point outside the output (or the mesh's keys)."""
    gitops = mesh.spec.gitops
    if gitops is not None:
        problems = path_problems(gitops.path)
        if problems:
            yield error(
                "MG106",
                f'gitops.path "{gitops.path}" has {_and(problems)}',
                positions.at(GITOPS_PATH),
                "write where meshgen's output directory is in the repository, relative to its "
                'root and without "." or ".." segments, e.g. out or clusters/prod/out',
            )
    prefix = mesh.spec.secrets.key_prefix
    problems = path_problems(prefix, absolute_ok=True)
    if problems and mesh.spec.secrets.provider == "external-secrets":
        yield error(
            "MG106",
            f'secrets.keyPrefix "{prefix}" has {_and(problems)}',
            positions.at(KEY_PREFIX),
            "remote keys are <keyPrefix>/<mesh>/<cluster>/...; write the prefix as plain "
            "segments, e.g. meshgen or teams/platform/meshgen (a leading / is fine)",
        )


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# --- MG107 -------------------------------------------------------------------------------

# Access tokens by their documented prefixes (GitHub, GitLab, AWS, Slack, Google), and JWTs:
# a base64url JSON header and payload (`{"` encodes as `eyJ`) and a signature.
TOKENS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a JSON Web Token", re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")),
    (
        "a GitHub token",
        re.compile(r"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})"),
    ),
    ("a GitLab token", re.compile(r"(?<![A-Za-z0-9])glpat-[A-Za-z0-9_-]{20,}")),
    ("an AWS access key ID", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")),
    ("a Slack token", re.compile(r"(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9-]{10,}")),
    ("a Google API key", re.compile(r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_-]{35}")),
)
PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
CERTIFICATE = re.compile(r"-----BEGIN (?:TRUSTED |X509 )?CERTIFICATE-----")


def token_kind(text: str) -> str | None:
    """What kind of credential `text` holds, by its shape; None when it looks like none."""
    if PRIVATE_KEY.search(text):
        return "a PEM private key"
    for kind, pattern in TOKENS:
        if pattern.search(text):
            return kind
    return None


def _looks_random(user: str) -> bool:
    # A user name of 32 or more letters and digits, both, is a token used as a user name
    # (`https://<token>@host/...`), not an account.
    return (
        len(user) >= 32
        and re.fullmatch(r"[A-Za-z0-9_.~-]+", user) is not None
        and re.search(r"[0-9]", user) is not None
        and re.search(r"[A-Za-z]", user) is not None
    )


def url_userinfo(url: str) -> str | None:
    """The user part of a Git URL (`https://user:pw@host/...`, `ssh://git@host/...`,
    scp-like `git@host:path`), or None."""
    if "://" in url:
        authority = url.split("://", 1)[1].split("/", 1)[0]
    else:  # scp-like: [user@]host:path, the path after the first ":" of the host part
        authority = url.split("/", 1)[0]
        at = authority.rfind("@")
        colon = authority.find(":", at + 1)
        authority = authority[:colon] if colon >= 0 else authority
    return authority.rsplit("@", 1)[0] if "@" in authority else None


def repo_url_credential(url: str) -> str | None:
    """Why `url` carries credentials, or None: a password in its user part, or a user name
    that is a token."""
    user = url_userinfo(url)
    if user is None:
        return None
    name, _, password = user.partition(":")
    if password:
        return "a password or token after the user name"
    if token_kind(name) is not None or _looks_random(name):
        return "a token as the user name"
    return None


def _redacted(url: str) -> str:
    user = url_userinfo(url)
    return url if user is None else url.replace(user + "@", "***@", 1)


def check_repo_url(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG107: the URL is copied into every Argo CD Application (`repoURL`), the Flux
    GitRepository and the README, all of them committed."""
    gitops = mesh.spec.gitops
    if gitops is None:
        return
    why = repo_url_credential(gitops.repo_url)
    if why is None:
        return
    engine = (
        "an Argo CD repository Secret (label argocd.argoproj.io/secret-type: repository, "
        "or repo-creds for every repository under a URL prefix)"
        if gitops.engine == "argocd"
        else "the Secret of the GitRepository's secretRef (the one `flux bootstrap` creates, "
        "flux-system)"
    )
    yield error(
        "MG107",
        f'gitops.repoURL "{_redacted(gitops.repo_url)}" carries credentials ({why}), '
        "which would be copied into the generated files",
        positions.at(REPO_URL),
        f"write the URL without them and give the credentials to the GitOps engine: {engine}; "
        "rotate them if the spec was ever committed or shared",
    )


# --- MG108, MG109 ------------------------------------------------------------------------


def _strings(value: object, path: YamlPath) -> Iterator[tuple[YamlPath, str]]:
    """Every string of a JSON value (mapping keys too) with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key), str(key)
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def _dotted(path: YamlPath) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _match_strings(mesh: Mesh) -> Iterator[tuple[YamlPath, str]]:
    for si, svc in enumerate(mesh.spec.services):
        for ri, route in enumerate(svc.routes):
            for mi, match in enumerate(route.match):
                base: YamlPath = ("spec", "services", si, "routes", ri, "match", mi)
                found: list[tuple[YamlPath, StringMatch]] = []
                if match.uri is not None:
                    found.append(((*base, "uri"), match.uri))
                found += [((*base, "headers", name), m) for name, m in match.headers.items()]
                for path, m in found:
                    for field in ("exact", "prefix", "regex"):
                        text = getattr(m, field)
                        if text is not None:
                            yield (*path, field), text


_SECRET_HINT = (
    "secrets belong in Kubernetes Secrets, not in the spec: create the Secret in "
    "the cluster (or from your store with External Secrets) and refer to it by "
    "name; rotate this one if the spec was ever committed or shared"
)


def check_secret_values(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG108, MG109: a private key or token (MG108), or a certificate (MG109), in free text.

    `istio.values` is copied verbatim into the install files (IstioOperator, Helm values,
    Sail `Istio`), route matches into the VirtualServices; a private key or a token there
    would be committed. A certificate is public, but one in install values is usually half
    of a key pair, or a CA bundle better kept in a ConfigMap or Secret."""
    for path, text in [*_strings(mesh.spec.istio.values, VALUES), *_match_strings(mesh)]:
        kind = token_kind(text)
        where = _dotted(path[1:])
        if kind is not None:
            copied = "the install files" if path[:3] == VALUES else "the service's VirtualService"
            yield error(
                "MG108",
                f"{where} holds {kind}, which would be copied into {copied} and committed",
                positions.at(path),
                _SECRET_HINT,
            )
        elif path[:3] == VALUES and CERTIFICATE.search(text):
            yield warning(
                "MG109",
                f"{where} holds a PEM certificate, which is copied into the install files",
                positions.at(path),
                "a trust anchor (e.g. meshConfig.caCertificates) may stay; key material "
                "belongs in a Secret such as cacerts (see out/README.md)",
            )


CHECKS = (check_paths, check_repo_url, check_secret_values)
