"""The runbook's canary upgrade, with istio.revisions: one cluster at a time, the whole
single-cluster sequence of https://istio.io/latest/docs/setup/upgrade/canary/ (Helm:
https://istio.io/latest/docs/setup/upgrade/helm/#canary-upgrade-recommended) in each."""

from __future__ import annotations

from meshgen.placement import namespaces_in
from meshgen.render import markdown as md
from meshgen.render.control_planes import for_revision, newest
from meshgen.render.istio import operator_name
from meshgen.render.objects import ISTIO_NAMESPACE
from meshgen.render.runbook.commands import helm_releases, install_revision
from meshgen.render.runbook.model import Runbook
from meshgen.render.sail import REVISION_DELETION_GRACE_SECONDS
from meshgen.render.shell import Line, cmd, comment
from meshgen.revisions import (
    ControlPlane,
    control_planes,
    injection_labels,
    several_control_planes,
    tags_of,
)
from meshgen.spec import Cluster, Mesh
from meshgen.versions import TOP_LEVEL_TAG, TOP_LEVEL_UNINSTALL, release


def canary_steps(mesh: Mesh, rb: Runbook) -> None:
    """With istio.revisions: the canary upgrade, one cluster at a time
    (https://istio.io/latest/docs/setup/upgrade/canary/, and for Helm
    https://istio.io/latest/docs/setup/upgrade/helm/#canary-upgrade-recommended). istio.io has
    no multicluster upgrade procedure (istio/istio.io#8603), so each cluster finishes the whole
    single-cluster sequence, and traffic across clusters is verified, before the next one.

    The spec is a state in the middle of the upgrade: in each cluster the tags point where
    `tags_of` says. A cluster restarts only the namespaces whose tag points at the canary
    there, and removes an old revision only when no tag of the cluster points at it and no
    namespace placed there is labelled with it; a cluster whose tags still point at an old
    revision installs and verifies the canary, and is told to move them in mesh.yaml."""
    if not several_control_planes(mesh):
        # One revision (before the canary, or after the old one is gone): nothing side by side.
        return
    new = newest(mesh)
    old = [p for p in control_planes(mesh) if p != new]
    _introduction(mesh, rb, new, old)
    for cluster in mesh.spec.clusters:
        rb.add(f"{md.code(cluster.name)}:\n")
        rb.commands(_canary_commands(mesh, cluster, new, old))
        _lagging_tags_text(mesh, cluster, new, rb)
    rb.add(
        "Once every cluster runs only the canary, remove the old revisions from "
        "`istio.revisions` (and their tags) in mesh.yaml and build again.\n"
    )


def _introduction(mesh: Mesh, rb: Runbook, new: ControlPlane, old: list[ControlPlane]) -> None:
    installer = mesh.spec.istio.installer
    add = rb.add
    names = ", ".join(md.code(p.name) for p in old)
    add("#### Canary upgrade, one cluster at a time\n")
    add(
        f"The control planes {names} and {md.code(new.name)} ({md.text(new.version)}, the "
        "canary) run side by side; istio-cni and the CRDs come from the canary. In each "
        "cluster, in this order: install the canary next to the old revision, check that both "
        "istiod run, move the tags, restart the workloads that follow them, verify traffic "
        "across the clusters (the commands of the last step, *Prove the mesh works*), and only "
        "then remove the old revision. Then the next cluster. Run each `istioctl` of the "
        "canary's release. Where mesh.yaml still points a cluster's tags at an old revision, "
        "that cluster stops after the check: move the tags in mesh.yaml (`clusters[].tags`) "
        "once the canary is verified there, build, and apply again.\n"
    )
    if installer == "helm":
        add(
            "With Helm a tag is a value of the istiod release it points at (`revisionTags`), "
            "so it moves with the releases, which are upgraded oldest revision first: the one "
            "that loses the tag deletes its webhook `istio-revision-tag-<tag>` before the one "
            "that gains it creates it (Helm will not take over an object of another release). "
            "Between the two, the namespaces that follow the moving tag are not injected: a pod "
            "created in that moment gets no sidecar, and the restart of step 4 comes after.\n"
        )
    if installer == "sail":
        add(
            "With the Sail Operator the `Istio` resource's `RevisionBased` strategy creates "
            f"the canary's IstioRevision when `spec.version` becomes {md.text(new.version)}; "
            "the old IstioRevision must already exist (the cluster ran it before) for the "
            "`IstioRevisionTag`s that still point at it.\n"
        )


def _lagging_tags_text(mesh: Mesh, cluster: Cluster, new: ControlPlane, rb: Runbook) -> None:
    """Per old revision that tags of `cluster` still point at: move them once verified."""
    lagging = _lagging_tags(mesh, cluster, new)
    for target in sorted(set(lagging.values())):
        moving = sorted(tag for tag, rev in lagging.items() if rev == target)
        one = len(moving) == 1
        rb.add(
            f"{'Tag' if one else 'Tags'} "
            f"{', '.join(md.code(tag) for tag in moving)} still "
            f"{'points' if one else 'point'} at {md.code(target)} in this "
            f"cluster: move {'it' if one else 'them'} in mesh.yaml "
            "(`clusters[].tags`) when the canary is verified, build, and "
            f"{'commit' if mesh.spec.gitops is not None else 'apply'} again.\n"
        )


def _canary_commands(
    mesh: Mesh, cluster: Cluster, new: ControlPlane, old: list[ControlPlane]
) -> list[Line]:
    """One cluster's sequence, numbered as the introduction tells it."""
    followers = _followers(mesh, cluster, new)
    removable = [plane for plane in old if _removable(mesh, cluster, plane)]
    lines = [
        *_install_canary(mesh, cluster.name, new),
        *_both_run(cluster.name),
        *_move_tags(mesh, cluster, new),
        *_restart(cluster.name, followers),
    ]
    if followers or removable:
        lines.append(
            comment("5. verify traffic across the clusters: the last step, Prove the mesh works")
        )
    if removable:
        lines.append(comment("6. then remove the old revision"))
    for plane in removable:
        lines.extend(_remove(mesh, cluster.name, new, plane))
    return lines


def _install_canary(mesh: Mesh, name: str, new: ControlPlane) -> list[Line]:
    """1. The canary next to the old revision."""
    installer = mesh.spec.istio.installer
    gitops = mesh.spec.gitops is not None
    if installer in ("istioctl", "operator"):
        lines: list[Line] = [comment("1. the canary next to the old revision")]
        lines.extend(install_revision(mesh, name, new))
        if installer == "operator":
            lines.append(cmd("kubectl", "--context", name, "apply", "-k", f"{name}/"))
        return lines
    if installer == "helm" and not gitops:
        return [
            comment(
                "1. the canary next to the old revision, with this cluster's tags: "
                "the releases oldest revision first"
            ),
            *helm_releases(mesh, name),
        ]
    return [
        comment(
            "1. the canary next to the old revision: commit the output"
            + ("" if gitops else f", then kubectl apply -k {name}/")
        )
    ]


def _both_run(name: str) -> list[Line]:
    """2. Both control planes run and serve their proxies."""
    return [
        comment("2. both istiod run, every proxy is connected"),
        cmd(
            "kubectl",
            "--context",
            name,
            "get",
            "pods",
            "-n",
            ISTIO_NAMESPACE,
            "-l",
            "app=istiod",
            "-L",
            "istio.io/rev",
        ),
        cmd("istioctl", "--context", name, "proxy-status"),
    ]


def _move_tags(mesh: Mesh, cluster: Cluster, new: ControlPlane) -> list[Line]:
    """3. The tags, once the canary runs: where mesh.yaml points them in this cluster."""
    installer = mesh.spec.istio.installer
    if installer == "helm":
        return [
            comment(
                "3. the tags: each istiod release's revisionTags (and base's defaultRevision), "
                "applied with the releases"
            )
        ]
    if installer == "sail":
        return [comment("3. the tags: the IstioRevisionTags, applied with step 1")]
    tag_cmd = ("tag",) if release(new.version).has(TOP_LEVEL_TAG) else ("x", "revision", "tag")
    lines: list[Line] = [comment("3. the tags as mesh.yaml sets them in this cluster")]
    lines.extend(
        cmd(
            "istioctl",
            *tag_cmd,
            "set",
            tag,
            "--revision",
            target,
            "--overwrite",
            "--context",
            cluster.name,
            "-y",
        )
        for tag, target in sorted(tags_of(mesh, cluster).items())
    )
    return lines


def _followers(mesh: Mesh, cluster: Cluster, new: ControlPlane) -> list[str]:
    """The namespaces placed in `cluster` whose tag points at the canary there."""
    tags = tags_of(mesh, cluster)
    return [
        ns.name
        for ns in mesh.spec.namespaces
        if ns.placed_in(cluster.name)
        and ns.injection
        and ns.revision_tag is not None
        and tags.get(ns.revision_tag) == new.name
    ]


def _restart(name: str, followers: list[str]) -> list[Line]:
    """4. Restart what follows a tag that points at the canary here."""
    if not followers:
        return []
    return [
        comment("4. the workloads that follow a tag get the tag's control plane"),
        *(
            cmd("kubectl", "--context", name, "rollout", "restart", "deployment", "-n", ns)
            for ns in followers
        ),
    ]


def _remove(mesh: Mesh, name: str, new: ControlPlane, plane: ControlPlane) -> list[Line]:
    """6. An old revision nothing in the cluster uses any more goes."""
    installer = mesh.spec.istio.installer
    if installer == "helm":
        return [
            cmd(
                "helm",
                "delete",
                f"istiod-{plane.name}",
                "--kube-context",
                name,
                "-n",
                ISTIO_NAMESPACE,
            )
        ]
    if installer == "sail":
        return [
            comment(
                f"{plane.name}: the Sail Operator deletes it once unused, "
                f"{REVISION_DELETION_GRACE_SECONDS} s later"
            )
        ]
    uninstall = (
        ("uninstall",) if release(new.version).has(TOP_LEVEL_UNINSTALL) else ("x", "uninstall")
    )
    revision = ("--context", name, "--revision", plane.name, "-y")
    if installer == "istioctl":
        return [cmd("istioctl", *uninstall, *revision)]
    operator = operator_name(for_revision(mesh, plane))
    return [
        cmd(
            "kubectl",
            "--context",
            name,
            "delete",
            "istiooperators.install.istio.io",
            "-n",
            ISTIO_NAMESPACE,
            operator,
        ),
        cmd("istioctl", *uninstall, *revision),
        cmd("istioctl", "operator", "remove", *revision),
    ]


def _lagging_tags(mesh: Mesh, cluster: Cluster, new: ControlPlane) -> dict[str, str]:
    """The tags of `cluster` that still point at an older revision: tag -> revision."""
    return {tag: rev for tag, rev in tags_of(mesh, cluster).items() if rev != new.name}


def _removable(mesh: Mesh, cluster: Cluster, plane: ControlPlane) -> bool:
    """Whether `plane` can go from `cluster`: no tag of the cluster points at it and no
    namespace there is labelled with it (deleting it would leave them uninjected)."""
    if plane.name in tags_of(mesh, cluster).values():
        return False
    return not any(
        injection_labels(mesh, ns).get("istio.io/rev") == plane.name
        for ns in namespaces_in(mesh, cluster)
    )
