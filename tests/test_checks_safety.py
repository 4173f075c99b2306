"""MG106-MG109: paths that leave their root, and credentials that would be committed with the
output (see SEED in tests/test_checks.py; the edits below insert lines after line 7)."""

from __future__ import annotations

import pytest

from meshgen.checks import CODES
from meshgen.checks.safety import path_problems, repo_url_credential, token_kind
from meshgen.diagnostics import Diagnostic
from meshgen.load import load_text
from meshgen.validate import validate
from tests.helpers import SEED, Edit, diagnose, edit, summary

VERSION = '    version: "1.10.0"\n'  # SEED line 7

# Made up at run time, so that no secret scanner mistakes this file for a leak.
JWT = "eyJhbGciOiJIUzI1NiJ9." + "eyJzdWIiOiJtZXNoZ2VuIn0" + ".c2lnbmF0dXJl"
GITHUB = "ghp_" + "0Ab1" * 9
AWS = "AKIA" + "IOSFODNN7EXAMPLE"
PEM_KEY = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----"
PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"


def gitops(path: str = "out", url: str = "https://git.example.com/mesh.git") -> Edit:
    """spec.gitops on line 8 (repoURL at 8:37, path at 8:79 for the default flow mapping)."""
    return VERSION, f"{VERSION}  gitops: {{engine: argocd, repoURL: '{url}', path: '{path}'}}\n"


def secrets(prefix: str, provider: str = "external-secrets") -> Edit:
    return VERSION, (
        f"{VERSION}  secrets: {{provider: {provider}, keyPrefix: '{prefix}', "
        "store: {name: vault}}\n"
    )


def values(flow: str) -> Edit:
    """istio.values on line 8, as one flow mapping."""
    return VERSION, f"{VERSION}    values: {flow}\n"


def codes(text: str) -> list[str]:
    """The codes of every diagnostic, from validation or the checks."""
    from meshgen.checks import run_checks

    loaded, diags = load_text(text, "mesh.yaml")
    assert loaded is not None, diags
    mesh, diags = validate(loaded)
    if mesh is None:
        return [d.code for d in diags]
    return [d.code for d in run_checks(mesh, loaded.positions)]


# --- MG106 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        ([gitops("../../x")], ["MG106 error 8:79"]),
        ([gitops("out/..")], ["MG106 error 8:79"]),
        ([gitops("a/./b")], ["MG106 error 8:79"]),
        ([gitops(".")], []),
        ([gitops("clusters/prod/out")], []),
        ([secrets("../other-team")], ["MG106 error 8:52"]),
        ([secrets("teams/../../x")], ["MG106 error 8:52"]),
        ([secrets("a//b")], ["MG106 error 8:52"]),
        ([secrets("a/")], ["MG106 error 8:52"]),
        ([secrets("/ssm/meshgen")], []),  # AWS Parameter Store names start with /
        ([secrets("../unused", provider="placeholder")], []),  # no remote keys at all
    ],
    ids=[
        "dotdot",
        "trailing-dotdot",
        "dot",
        "root",
        "nested",
        "prefix-dotdot",
        "prefix-inner-dotdot",
        "prefix-empty",
        "prefix-trailing",
        "prefix-absolute",
        "prefix-unused",
    ],
)
def test_paths(edits: list[Edit], expected: list[str]) -> None:
    assert summary(diagnose(edit(*edits))) == expected


@pytest.mark.parametrize("path", ["/abs/out", "a//b", "a/", "a\\\\b", "../x", "x/../../y"])
def test_gitops_path_is_rejected(path: str) -> None:
    """Absolute paths, empty segments and backslashes already fail the schema (MG104); the
    check would catch them too (test_path_problems)."""
    found = codes(edit(gitops(path)))
    assert found
    assert set(found) <= {"MG104", "MG106"}


@pytest.mark.parametrize(
    ("path", "absolute_ok", "problems"),
    [
        ("out", False, []),
        (".", False, []),
        ("/abs", False, ["a leading / (it is absolute)"]),
        ("/abs", True, []),
        ("a\\b", False, ["a backslash"]),
        ("a//b", False, ["an empty segment (// or a trailing /)"]),
        ("a/", True, ["an empty segment (// or a trailing /)"]),
        ("/", True, ["an empty segment (// or a trailing /)"]),
        ("../a/./b", False, ['a ".." segment', 'a "." segment']),
        ("..", True, ['a ".." segment']),
        ("a..b/c.", False, []),
    ],
)
def test_path_problems(path: str, absolute_ok: bool, problems: list[str]) -> None:
    assert path_problems(path, absolute_ok=absolute_ok) == problems


def test_path_message() -> None:
    [diag] = diagnose(edit(gitops("../../x")))
    assert diag.message == 'gitops.path "../../x" has a ".." segment'
    assert (diag.hint or "").startswith("write where meshgen's output directory is")


# --- MG107 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://user:s3cret@git.example.com/mesh.git", "a password or token after the user name"),
        (
            "https://x-access-token:tok@github.com/org/mesh.git",
            "a password or token after the user name",
        ),
        ("ssh://git:pw@git.example.com/mesh.git", "a password or token after the user name"),
        ("git:pw@github.com:org/mesh.git", "a password or token after the user name"),
        (f"https://{GITHUB}@github.com/org/mesh.git", "a token as the user name"),
        ("https://" + "a1b2c3d4" * 5 + "@git.example.com/mesh.git", "a token as the user name"),
        ("git@github.com:org/mesh.git", None),
        ("ssh://git@github.com/org/mesh.git", None),
        ("https://myorg@dev.azure.com/myorg/p/_git/mesh", None),
        ("https://git.example.com/mesh.git", None),
        ("https://git.example.com:8443/a@b.git", None),  # an @ in the path is no user part
    ],
)
def test_repo_url_credential(url: str, why: str | None) -> None:
    assert repo_url_credential(url) == why


@pytest.mark.parametrize(
    "url",
    [
        "https://user:s3cret@git.example.com/mesh.git",
        f"https://{GITHUB}@github.com/org/mesh.git",
        "ssh://git:s3cret@git.example.com/mesh.git",
    ],
)
def test_repo_url_with_credentials_is_rejected(url: str) -> None:
    [diag] = diagnose(edit(gitops(url=url)))
    assert summary([diag]) == ["MG107 error 8:37"]
    assert "s3cret" not in diag.message
    assert GITHUB not in diag.message
    assert "***@" in diag.message
    assert "repository Secret" in (diag.hint or "")


def test_repo_url_hint_names_the_engine() -> None:
    text = edit(gitops(url="https://u:s3cret@git.example.com/m.git"))
    [diag] = diagnose(text.replace("engine: argocd", "engine: flux"))
    assert "secretRef" in (diag.hint or "")


def test_ssh_url_without_password_is_fine() -> None:
    assert diagnose(edit(gitops(url="git@github.com:org/mesh.git"))) == []


# --- MG108, MG109 --------------------------------------------------------------------------


def _one(diags: list[Diagnostic]) -> Diagnostic:
    [diag] = diags
    return diag


@pytest.mark.parametrize(
    ("secret", "kind"),
    [
        (JWT, "a JSON Web Token"),
        (f"Bearer {JWT}", "a JSON Web Token"),
        (GITHUB, "a GitHub token"),
        (AWS, "an AWS access key ID"),
        (PEM_KEY, "a PEM private key"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----", "a PEM private key"),
        ("-----BEGIN PRIVATE KEY-----", "a PEM private key"),
    ],
)
def test_secret_in_values(secret: str, kind: str) -> None:
    assert token_kind(secret) == kind
    flow = f"{{meshConfig: {{defaultConfig: {{proxyMetadata: {{K: {secret!r}}}}}}}}}"
    diag = _one(diagnose(edit(values(flow.replace("\\n", "\n")))))
    assert diag.code == "MG108"
    assert diag.is_error
    assert diag.message == (
        f"istio.values.meshConfig.defaultConfig.proxyMetadata.K holds {kind}, "
        "which would be copied into the install files and committed"
    )
    assert secret not in diag.message
    assert "Kubernetes Secrets" in (diag.hint or "")
    assert diag.location.line == 8


def test_secret_in_a_list_and_a_route_match() -> None:
    [diag] = diagnose(edit(values(f"{{a: [x, {{b: {GITHUB}}}]}}")))
    assert diag.message.startswith("istio.values.a[1].b holds a GitHub token")
    route = (
        "        - destinations:\n",
        f"        - match: [{{headers: {{authorization: {{exact: 'Bearer {JWT}'}}}}}}]\n"
        "          destinations:\n",
    )
    [diag] = diagnose(edit(route))
    assert diag.code == "MG108"
    assert diag.message == (
        "services[0].routes[0].match[0].headers.authorization.exact holds a "
        "JSON Web Token, which would be copied into the service's "
        "VirtualService and committed"
    )


def test_certificate_is_a_warning() -> None:
    flow = "{meshConfig: {caCertificates: [{pem: '" + PEM_CERT.replace("\n", " ") + "'}]}}"
    diag = _one(diagnose(edit(values(flow))))
    assert (diag.code, diag.is_error) == ("MG109", False)
    assert diag.message == (
        "istio.values.meshConfig.caCertificates[0].pem holds a PEM "
        "certificate, which is copied into the install files"
    )


@pytest.mark.parametrize(
    "flow",
    [
        "{global: {proxy: {resources: {requests: {cpu: 100m}}}}}",
        "{pilot: {env: {PILOT_JWT_POLICY: third-party-jwt, TOKEN_AUDIENCE: istio-ca}}}",
        "{global: {hub: registry.example.com/istio, tag: 1.10.0-distroless}}",
    ],
)
def test_ordinary_values_pass(flow: str) -> None:
    assert diagnose(edit(values(flow))) == []


def test_codes_are_registered() -> None:
    assert {"MG106", "MG107", "MG108", "MG109"} <= set(CODES)
    assert CODES["MG109"].startswith("warning")
    assert SEED.count(VERSION) == 1
