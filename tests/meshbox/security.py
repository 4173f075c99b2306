"""The server side, as mesh.yaml's `security` states it, against the xDS a test backend's
Envoy gets: its inbound listener accepts only mTLS where PeerAuthentication is STRICT (no
plaintext filter chain), and its RBAC filter lets the runbook's client in exactly when the
runbook expects an answer rather than 403 (AuthorizationPolicy).

Envoy picks the inbound filter chain by the connection's transport (TLS or not) and
destination port; Istio's RBAC filter allows a request when any policy's principals match the
peer's identity (`spiffe://<trust domain>/ns/<namespace>/sa/<account>`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from meshgen.render.answers import expected
from meshgen.render.verify import HELLOWORLD_PORT, SLEEP, client_namespace
from meshgen.spec import Mesh, Service

Finding = tuple[str, bool, str]  # (subject, ok, detail)


def governed(mesh: Mesh, service: Service) -> bool:
    security = mesh.spec.security
    if security is None:
        return False
    return security.peer_authentication is not None or any(
        p.namespace == service.namespace for p in security.authorization_policies
    )


def peer_mode(mesh: Mesh, service: Service) -> str | None:
    security = mesh.spec.security
    peer = None if security is None else security.peer_authentication
    if peer is None:
        return None
    if peer.namespaces and service.namespace not in peer.namespaces:
        return None
    return peer.mode


def _inbound_chains(listeners: list[dict[str, Any]], port: int) -> list[dict[str, Any]]:
    chains: list[dict[str, Any]] = []
    for listener in listeners:
        if listener.get("name") != "virtualInbound":
            continue
        for chain in listener.get("filterChains", []):
            match = chain.get("filterChainMatch", {})
            if int(match.get("destinationPort", port)) == port:
                chains.append(chain)
    return chains


def _tls(chain: dict[str, Any]) -> bool:
    match = chain.get("filterChainMatch", {})
    socket = chain.get("transportSocket")
    return match.get("transportProtocol") == "tls" or (
        socket is not None and "tls" in str(socket.get("name", ""))
    )


def mtls(mesh: Mesh, service: Service, listeners: list[dict[str, Any]]) -> Iterator[Finding]:
    mode = peer_mode(mesh, service)
    if mode is None:
        return
    chains = _inbound_chains(listeners, HELLOWORLD_PORT)
    subject = f"{service.namespace}/{service.name} inbound :{HELLOWORLD_PORT}"
    if not chains:
        yield subject, False, "no inbound filter chain for the port"
        return
    plaintext = [c for c in chains if not _tls(c)]
    tls = [c for c in chains if _tls(c)]
    if mode == "STRICT":
        ok = not plaintext and bool(tls)
        yield (
            subject,
            ok,
            ("mTLS only (STRICT)" if ok else f"{len(plaintext)} plaintext chain(s) under STRICT"),
        )
    elif mode == "PERMISSIVE":
        ok = bool(plaintext) and bool(tls)
        yield subject, ok, "mTLS and plaintext (PERMISSIVE)" if ok else "not both transports"
    else:
        ok = not tls
        yield subject, ok, "plaintext only (DISABLE)" if ok else "TLS chain under DISABLE"


def _string_matches(matcher: dict[str, Any], value: str) -> bool:
    if "exact" in matcher:
        return bool(value == matcher["exact"])
    if "prefix" in matcher:
        return value.startswith(matcher["prefix"])
    if "suffix" in matcher:
        return value.endswith(matcher["suffix"])
    if "safeRegex" in matcher:
        return re.fullmatch(matcher["safeRegex"]["regex"], value) is not None
    return False


def _principal_matches(principal: dict[str, Any], identity: str) -> bool:
    if principal.get("any"):
        return True
    if "orIds" in principal:
        return any(_principal_matches(p, identity) for p in principal["orIds"]["ids"])
    if "andIds" in principal:
        return all(_principal_matches(p, identity) for p in principal["andIds"]["ids"])
    if "notId" in principal:
        return not _principal_matches(principal["notId"], identity)
    if "authenticated" in principal:
        name = principal["authenticated"].get("principalName", {})
        return _string_matches(name, identity)
    for key in ("filterState", "metadata"):
        if key in principal:  # Istio's source.principal / namespace as filter state (1.2x)
            inner = principal[key]
            matcher = inner.get("stringMatch") or inner.get("value", {}).get("stringMatch", {})
            if matcher:
                return _string_matches(matcher, identity)
    return False


def _rbac_filters(chains: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for chain in chains:
        for f in chain.get("filters", []):
            config = f.get("typedConfig", {})
            for http in config.get("httpFilters", []):
                if http.get("name") == "envoy.filters.http.rbac":
                    found.append(http.get("typedConfig", {}))
    return found


def allows(rbac: dict[str, Any], identity: str) -> bool:
    rules = rbac.get("rules")
    if rules is None:
        return True  # no enforcing rules (shadow only)
    policies = rules.get("policies", {})
    action = rules.get("action", "ALLOW")
    matched = any(
        any(_principal_matches(p, identity) for p in policy.get("principals", []))
        for policy in policies.values()
    )
    return matched if action == "ALLOW" else not matched


def authorization(
    mesh: Mesh, service: Service, caller: str, listeners: list[dict[str, Any]]
) -> Iterator[Finding]:
    """The runbook's client of `service` in cluster `caller`: let in, or refused with 403 as
    the runbook expects."""
    security = mesh.spec.security
    if security is None or not any(
        p.namespace == service.namespace for p in security.authorization_policies
    ):
        return
    namespace = client_namespace(mesh, service)
    identity = f"spiffe://{mesh.spec.trust_domain}/ns/{namespace}/sa/{SLEEP}"
    chains = [c for c in _inbound_chains(listeners, HELLOWORLD_PORT) if _tls(c)]
    filters = _rbac_filters(chains)
    subject = f"{service.namespace}/{service.name} from {caller} as {identity}"
    if not filters:
        yield subject, False, "no RBAC filter on the inbound mTLS chain"
        return
    allowed = all(allows(f, identity) for f in filters)
    denied = expected(mesh, service, caller).status == 403
    ok = allowed != denied
    yield (
        subject,
        ok,
        (
            ("refused (403), as the runbook says" if denied else "let in, as the runbook says")
            if ok
            else (
                "let in, but the runbook says 403"
                if allowed
                else "refused, but the runbook says it answers"
            )
        ),
    )
