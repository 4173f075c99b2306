"""out/README.md: the install step for each installer, and the GitOps wiring step."""

from __future__ import annotations

from meshgen.layout import TRAFFIC_DIR, helm_values_file
from meshgen.placement import namespaces_in
from meshgen.render import markdown as md
from meshgen.render.control_planes import for_revision, named_control_planes, newest, operator_file
from meshgen.render.gitops import (
    APPLICATION_HEALTH_KEY,
    ARGOCD_DIR,
    ARGOCD_HEALTH_FILE,
    ARGOCD_ROOT_FILE,
    OPENSHIFT_GITOPS_NAMESPACE,
    argocd_namespace,
    argocd_root_name,
    argocd_waves,
    flux_bootstrap_path,
    flux_git_url,
)
from meshgen.render.helm import HELM_REPOSITORY, charts, helm_values
from meshgen.render.istio import operator_name
from meshgen.render.objects import ISTIO_NAMESPACE
from meshgen.render.runbook.model import Runbook
from meshgen.render.sail import REVISION_DELETION_GRACE_SECONDS
from meshgen.render.shell import Cmd, Line, Var, cmd, comment, concat, loop, with_comment
from meshgen.render.units import unit_dir
from meshgen.render.verify import LOOP_ABOVE
from meshgen.revisions import (
    ControlPlane,
    control_planes,
    injection_labels,
    several_control_planes,
    tags_of,
)
from meshgen.spec import Cluster, Mesh
from meshgen.versions import TOP_LEVEL_TAG, TOP_LEVEL_UNINSTALL, release


def install_steps(mesh: Mesh, units: dict[str, list[str]], rb: Runbook) -> None:
    spec = mesh.spec
    istio = spec.istio
    gitops = spec.gitops
    add = rb.add
    rb.step("Install Istio, then apply each cluster directory")
    add(
        "Istio's CRDs (DestinationRule, VirtualService) exist once Istio is installed, so "
        "the install comes first.\n"
    )
    if istio.installer == "sail":
        add(
            "Install the Sail Operator in every cluster first (OpenShift: *Red Hat OpenShift "
            "Service Mesh 3* from OperatorHub; elsewhere its Helm chart); it then installs "
            f"`IstioCNI` and `Istio` {md.text(istio.version)} from `istio/sail.yaml`.\n"
        )
    if istio.installer == "helm" and gitops is not None:
        add(
            f"{_ENGINE[gitops.engine]} installs the charts `base`, `cni` and `istiod` "
            f"{md.text(istio.version)} in that order, then applies the cluster directory (last "
            "step).\n"
        )
    commands = [
        line for c in spec.clusters for line in _cluster_commands(mesh, c.name, units[c.name])
    ]
    if commands:
        rb.commands(commands)
    canary_steps(mesh, rb)
    if istio.installer == "operator":
        add(
            "With `installer: operator`, the operator reconciles the IstioOperator that the "
            "kustomization applies; re-apply (or let GitOps retry) once its CRDs exist.\n"
        )
    if gitops is None:
        add(
            "With Argo CD or Flux, point one application at each cluster directory, and one "
            "at each traffic unit after it, instead of `kubectl apply -k` (or set `spec.gitops` "
            "and let meshgen write them).\n"
        )


def _cluster_commands(mesh: Mesh, cluster: str, units: list[str]) -> list[Line]:
    istio = mesh.spec.istio
    gitops = mesh.spec.gitops is not None
    lines: list[Line] = []
    if named_control_planes(mesh) and istio.installer == "helm":
        if not gitops:
            lines.extend(_helm_releases(mesh, cluster))
    elif named_control_planes(mesh):
        # Newest first: it brings the CRDs (base) and istio-cni the others leave out.
        lines.extend(
            line
            for plane in reversed(control_planes(mesh))
            for line in _install_revision(mesh, cluster, plane)
        )
    elif istio.installer == "istioctl":
        lines.append(_istioctl_install(cluster, "istio/istio-operator.yaml"))
    elif istio.installer == "operator":
        lines.append(_operator_init(cluster, istio.revision))
    elif istio.installer == "helm" and not gitops:
        lines.extend(_helm_releases(mesh, cluster))
    if not gitops:
        lines.append(cmd("kubectl", "--context", cluster, "apply", "-k", f"{cluster}/"))
        lines.extend(_apply_units(cluster, units))
    return lines


def _install_revision(mesh: Mesh, cluster: str, plane: ControlPlane) -> list[Line]:
    """The commands that install one revision's control plane in `cluster` with the istioctl
    of that revision's version (Helm: _helm_releases, every release at once)."""
    istio = mesh.spec.istio
    installer = istio.installer
    if installer == "istioctl":
        install = _istioctl_install(cluster, operator_file(plane.name))
        return [with_comment(install, f"istioctl {plane.version}")]
    if installer == "operator":
        # Always with the IstioOperator's revision: an operator without one reconciles every
        # IstioOperator (https://istio.io/v1.23/docs/setup/install/operator/#canary-upgrade).
        init = _operator_init(cluster, plane.name)
        return [with_comment(init, f"istioctl {plane.version}")]
    return []


def _istioctl_install(cluster: str, operator: str) -> Cmd:
    """`istioctl install` of the IstioOperator `operator` (a path in the cluster directory)."""
    return cmd(
        "istioctl",
        "install",
        "--context",
        cluster,
        "-f",
        f"{cluster}/{operator}",
        "--skip-confirmation",
    )


def _operator_init(cluster: str, revision: str) -> Cmd:
    """`istioctl operator init` (Istio <= 1.23), for `revision` when there is one."""
    return cmd(
        "istioctl",
        "operator",
        "init",
        "--context",
        cluster,
        *(("--revision", revision) * bool(revision)),
    )


def _helm_releases(mesh: Mesh, cluster: str) -> list[Line]:
    """`helm upgrade --install` of each chart of helm.charts(): base and cni (with revisions,
    from the newest), then istiod (with revisions, each release oldest first). The one Helm
    command of the runbook: `upgrade --install` installs the first time and upgrades after.
    The webhook of a revision tag (`istio-revision-tag-<tag>`) belongs to the release whose
    `revisionTags` list the tag, and Helm refuses to create an object another release owns:
    the release that loses a moving tag (an older one) must drop its webhook before the one
    that gains it creates it."""
    values = _cluster_helm_values(mesh, cluster)
    return [
        cmd(
            "helm",
            "upgrade",
            "--install",
            chart.release,
            chart.chart,
            "--kube-context",
            cluster,
            "--repo",
            HELM_REPOSITORY,
            "--version",
            chart.version,
            "-n",
            chart.namespace,
            "--create-namespace",
            "-f",
            f"{cluster}/{helm_values_file(chart.key)}",
            "--wait",
        )
        # charts(): base, cni, then the istiod releases oldest first.
        for chart in charts(mesh)
        if chart.key in values
    ]


def _cluster_helm_values(mesh: Mesh, cluster: str) -> dict[str, object]:
    return dict(helm_values(mesh, next(c for c in mesh.spec.clusters if c.name == cluster)))


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
    istio = mesh.spec.istio
    add = rb.add
    new = newest(mesh)
    old = [p for p in control_planes(mesh) if p != new]
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
    if istio.installer == "helm":
        add(
            "With Helm a tag is a value of the istiod release it points at (`revisionTags`), "
            "so it moves with the releases, which are upgraded oldest revision first: the one "
            "that loses the tag deletes its webhook `istio-revision-tag-<tag>` before the one "
            "that gains it creates it (Helm will not take over an object of another release). "
            "Between the two, the namespaces that follow the moving tag are not injected: a pod "
            "created in that moment gets no sidecar, and the restart of step 4 comes after.\n"
        )
    if istio.installer == "sail":
        add(
            "With the Sail Operator the `Istio` resource's `RevisionBased` strategy creates "
            f"the canary's IstioRevision when `spec.version` becomes {md.text(new.version)}; "
            "the old IstioRevision must already exist (the cluster ran it before) for the "
            "`IstioRevisionTag`s that still point at it.\n"
        )
    for cluster in mesh.spec.clusters:
        add(f"{md.code(cluster.name)}:\n")
        rb.commands(_canary_commands(mesh, cluster, new, old))
        lagging = _lagging_tags(mesh, cluster, new)
        for target in sorted(set(lagging.values())):
            moving = sorted(tag for tag, rev in lagging.items() if rev == target)
            add(
                f"{'Tag' if len(moving) == 1 else 'Tags'} "
                f"{', '.join(md.code(tag) for tag in moving)} still "
                f"{'points' if len(moving) == 1 else 'point'} at {md.code(target)} in this "
                f"cluster: move {'it' if len(moving) == 1 else 'them'} in mesh.yaml "
                "(`clusters[].tags`) when the canary is verified, build, and "
                f"{'commit' if mesh.spec.gitops is not None else 'apply'} again.\n"
            )
    add(
        "Once every cluster runs only the canary, remove the old revisions from "
        "`istio.revisions` (and their tags) in mesh.yaml and build again.\n"
    )


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


def _canary_commands(
    mesh: Mesh, cluster: Cluster, new: ControlPlane, old: list[ControlPlane]
) -> list[Line]:
    istio = mesh.spec.istio
    installer = istio.installer
    name = cluster.name
    gitops = mesh.spec.gitops is not None
    lines: list[Line] = []
    tags = tags_of(mesh, cluster)
    # 1. The canary next to the old revision.
    if installer in ("istioctl", "operator"):
        lines.append(comment("1. the canary next to the old revision"))
        lines.extend(_install_revision(mesh, name, new))
        if installer == "operator":
            lines.append(cmd("kubectl", "--context", name, "apply", "-k", f"{name}/"))
    elif installer == "helm" and not gitops:
        lines.append(
            comment(
                "1. the canary next to the old revision, with this cluster's tags: "
                "the releases oldest revision first"
            )
        )
        lines.extend(_helm_releases(mesh, name))
    else:
        lines.append(
            comment(
                "1. the canary next to the old revision: commit the output"
                + ("" if gitops else f", then kubectl apply -k {name}/")
            )
        )
    # 2. Both control planes run and serve their proxies.
    lines.append(comment("2. both istiod run, every proxy is connected"))
    lines.append(
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
        )
    )
    lines.append(cmd("istioctl", "--context", name, "proxy-status"))
    # 3. The tags, once the canary runs: where mesh.yaml points them in this cluster.
    if installer in ("istioctl", "operator"):
        lines.append(comment("3. the tags as mesh.yaml sets them in this cluster"))
        tag_cmd = ("tag",) if release(new.version).has(TOP_LEVEL_TAG) else ("x", "revision", "tag")
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
                name,
                "-y",
            )
            for tag, target in sorted(tags.items())
        )
    elif installer == "helm":
        lines.append(
            comment(
                "3. the tags: each istiod release's revisionTags (and base's defaultRevision), "
                "applied with the releases"
            )
        )
    else:
        lines.append(comment("3. the tags: the IstioRevisionTags, applied with step 1"))
    # 4. Restart what follows a tag that points at the canary here.
    followers = [
        ns.name
        for ns in mesh.spec.namespaces
        if ns.placed_in(cluster.name)
        and ns.injection
        and ns.revision_tag is not None
        and tags.get(ns.revision_tag) == new.name
    ]
    if followers:
        lines.append(comment("4. the workloads that follow a tag get the tag's control plane"))
        lines.extend(
            cmd("kubectl", "--context", name, "rollout", "restart", "deployment", "-n", ns)
            for ns in followers
        )
    removable = [plane for plane in old if _removable(mesh, cluster, plane)]
    if followers or removable:
        lines.append(
            comment("5. verify traffic across the clusters: the last step, Prove the mesh works")
        )
    # 6. The old revisions nothing here uses any more go.
    if removable:
        lines.append(comment("6. then remove the old revision"))
    for plane in removable:
        if installer in ("istioctl", "operator"):
            uninstall = (
                ("uninstall",)
                if release(new.version).has(TOP_LEVEL_UNINSTALL)
                else ("x", "uninstall")
            )
            if installer == "operator":
                lines.append(
                    cmd(
                        "kubectl",
                        "--context",
                        name,
                        "delete",
                        "istiooperators.install.istio.io",
                        "-n",
                        ISTIO_NAMESPACE,
                        operator_name(for_revision(mesh, plane)),
                    )
                )
            lines.append(
                cmd(
                    "istioctl",
                    *uninstall,
                    "--context",
                    name,
                    "--revision",
                    plane.name,
                    "-y",
                )
            )
            if installer == "operator":
                lines.append(
                    cmd(
                        "istioctl",
                        "operator",
                        "remove",
                        "--context",
                        name,
                        "--revision",
                        plane.name,
                        "-y",
                    )
                )
        elif installer == "helm":
            lines.append(
                cmd(
                    "helm",
                    "delete",
                    f"istiod-{plane.name}",
                    "--kube-context",
                    name,
                    "-n",
                    ISTIO_NAMESPACE,
                )
            )
        else:
            lines.append(
                comment(
                    f"{plane.name}: the Sail Operator deletes it once unused, "
                    f"{REVISION_DELETION_GRACE_SECONDS} s later"
                )
            )
    return lines


def _apply_units(cluster: str, units: list[str]) -> list[Line]:
    """The traffic units after the cluster directory (its namespaces): one line each, or a
    loop over them when there are many."""
    if len(units) <= LOOP_ABOVE:
        return [
            cmd("kubectl", "--context", cluster, "apply", "-k", f"{unit_dir(cluster, unit)}/")
            for unit in units
        ]
    unit = Var("UNIT")
    apply: Cmd = cmd(
        "kubectl",
        "--context",
        cluster,
        "apply",
        "-k",
        concat(f"{cluster}/{TRAFFIC_DIR}/", unit, "/"),
    )
    return [loop(unit, units, [apply])]


_ENGINE = {"argocd": "Argo CD", "flux": "Flux"}


def gitops_steps(mesh: Mesh, rb: Runbook) -> None:
    gitops = mesh.spec.gitops
    if gitops is None:
        return
    add = rb.add
    rb.step(f"Point {_ENGINE[gitops.engine]} at the output")
    add(
        f"Commit this directory to {md.code(gitops.repo_url)} at "
        f"{md.code(f'{gitops.path}/')} (branch {md.code(gitops.revision)}).\n"
    )
    lines: list[Line] = []
    if gitops.engine == "argocd":
        for cluster in mesh.spec.clusters:
            lines.append(cmd("argocd", "cluster", "add", cluster.name, "--name", cluster.name))
        namespace = argocd_namespace(mesh)
        if namespace != OPENSHIFT_GITOPS_NAMESPACE:
            lines.append(
                with_comment(
                    cmd(
                        "kubectl",
                        "patch",
                        "configmap",
                        "argocd-cm",
                        "-n",
                        namespace,
                        "--type",
                        "merge",
                        "--patch-file",
                        f"{gitops.path}/{ARGOCD_HEALTH_FILE}",
                    ),
                    "in the Argo CD cluster: the Application health check",
                )
            )
        lines.append(
            with_comment(
                cmd("kubectl", "apply", "-f", f"{gitops.path}/{ARGOCD_ROOT_FILE}"),
                f"the root Application, namespace {namespace}",
            )
        )
    else:
        for cluster in mesh.spec.clusters:
            lines.append(
                cmd(
                    "flux",
                    "bootstrap",
                    "git",
                    f"--context={cluster.name}",
                    f"--url={flux_git_url(gitops.repo_url)}",
                    f"--branch={gitops.revision}",
                    f"--path={flux_bootstrap_path(mesh, cluster)}",
                )
            )
    rb.commands(lines)
    if gitops.engine == "argocd":
        health = md.code(f"{gitops.path}/{ARGOCD_HEALTH_FILE}")
        if argocd_namespace(mesh) == OPENSHIFT_GITOPS_NAMESPACE:
            how = (
                f"OpenShift GitOps manages `argocd-cm` from its `ArgoCD` resource and "
                f"would undo a patch of it, so add the Lua of {health} (the value of "
                f"{md.code(APPLICATION_HEALTH_KEY)}) to that resource's "
                "`spec.resourceHealthChecks`, as group `argoproj.io`, kind `Application` "
                f"(`oc edit argocd {OPENSHIFT_GITOPS_NAMESPACE} -n "
                f"{OPENSHIFT_GITOPS_NAMESPACE}`), before applying the root Application."
            )
        else:
            how = (
                f"the patch {health} adds that one key to `argocd-cm` and keeps the "
                "others (on OpenShift GitOps, put its Lua in the `ArgoCD` resource's "
                "`spec.resourceHealthChecks` instead)."
            )
        add(
            "Each cluster gets Applications named `<cluster>-…`, ordered by sync waves: "
            f"{_argocd_wave_list(mesh)}. Register the clusters under these names, as above. "
            + (
                "The cluster directory comes before istiod: istiod reads the root of trust "
                "(`cacerts`) only when it starts. "
                if mesh.spec.istio.installer == "helm"
                else ""
            )
            + "The waves hold "
            f"only because the root Application {md.code(argocd_root_name(mesh))} syncs "
            f"{md.code(f'{gitops.path}/{ARGOCD_DIR}')} (app of apps; `kubectl apply -k` of "
            "that directory would ignore them), and Argo CD waits for each wave to be "
            f"healthy only with the Application health check restored: {how}\n"
        )
    elif mesh.spec.istio.installer == "helm":
        add(
            "Flux in each cluster applies `istio` (the HelmReleases of base then cni), then "
            "`mesh`, the cluster directory, then `istiod` (the HelmRelease "
            f"{_istiods(mesh)}): istiod reads the root of trust (`cacerts`) only when it "
            "starts. The traffic units follow `mesh`.\n"
        )
    else:
        add("Flux in each cluster applies `mesh`, the cluster directory, then the traffic units.\n")


def _istiods(mesh: Mesh) -> str:
    """`istiod`, or with several revisions their releases, oldest first."""
    if not several_control_planes(mesh):
        return "istiod"
    return (
        " then ".join(md.code(f"istiod-{plane.name}") for plane in control_planes(mesh))
        + " (oldest first: the release that loses a moving tag drops its webhook before the "
        "one that gains it creates it)"
    )


def _argocd_wave_list(mesh: Mesh) -> str:
    """The Applications of a cluster with their waves, as gitops.argocd_waves has them."""
    names = {
        "mesh": "(the cluster directory)",
        "traffic-<unit>": "(one per traffic unit, from the ApplicationSet `<cluster>-traffic`)",
    }
    parts = [
        f"{md.code(name)} ({wave})" + (f" {names[name]}" if name in names else "")
        for name, wave in argocd_waves(mesh)
    ]
    text = ", ".join(parts)
    if several_control_planes(mesh):
        text += (
            "; the istiod releases oldest revision first: the release that loses a moving "
            "tag drops its webhook before the one that gains it creates it"
        )
    return text
