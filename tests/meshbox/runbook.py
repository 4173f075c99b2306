"""Execute the runbook (meshgen's Runbook data, the same that renders out/README.md) in order,
line by line, the way a person pastes it: each line in bash, from the directory its block
names, with the variables and working directory the earlier lines of its block left.

Every line is run, run with a word a person would fill in (`Blank`: a node name), run with a
substitution (the Helm repository is the release's own charts served here), or skipped with
the reason. `Policy` decides; nothing is skipped silently: the report lists every line.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from meshgen.render.helm import HELM_REPOSITORY
from meshgen.render.runbook.model import ISTIO_RELEASE_DIR, Commands, Runbook
from meshgen.render.shell import (
    Assign,
    Blank,
    Cmd,
    Comment,
    Commented,
    Line,
    Loop,
    Pipeline,
    Word,
)

RAN, FILLED, SUBSTITUTED, SKIPPED = "ran", "ran, a blank filled", "ran, substituted", "skipped"


@dataclass
class LineRecord:
    step: str
    text: str
    outcome: str
    reason: str = ""
    returncode: int | None = None
    output: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class Decision:
    """What to do with one line: run `line` (maybe changed: `outcome` says how), or skip."""

    outcome: str
    line: Line | None = None
    reason: str = ""


# Why a line cannot run here; keyed by what it runs.
NO_SUBMARINER = (
    "Submariner's gateways and tunnels need real nodes and a network; the box's clusters "
    "share one flat loopback network instead, which is what Submariner gives the mesh"
)
NO_OPENSHIFT = "OpenShift only (SecurityContextConstraints); the box runs plain Kubernetes"
NO_LOGIN = (
    "logging in: the box's kubeconfig already holds one context per cluster, named after "
    "it, which is what this step makes (`kubectl config get-contexts` runs)"
)
NO_CONTAINERS = (
    "no container runs here (KWOK simulates the kubelet): the box's sidecar takes the xDS "
    "istiod sends this pod, and the checks compare it with the answer the runbook states"
)
NO_ENVOY = (
    "reads Envoy's admin port inside the pod; no Envoy runs here: the box's sidecar fetches "
    "the same configuration from istiod"
)
NO_PORT_FORWARD = (
    "port-forwards to istiod's pod, which needs a kubelet; the box's sidecars connect to "
    "each istiod instead"
)
NO_FALLBACK = (
    "the fallback for when istioctl finds several token secrets on the service account; "
    "the line before it succeeded"
)
NO_GITOPS = "no GitOps engine runs here: the box syncs what it would (see the stand-ins)"
NO_GITOPS_WAIT = (
    "waits for the GitOps engine's objects, which run here as stand-ins: they sync before "
    "every line"
)
NO_BROKER_INFO = (
    "needs broker-info.subm, which `subctl deploy-broker` (skipped: no Submariner here) writes"
)
# The files subctl's broker-info.subm turns into (the Submariner operator's secrets).
BROKER_FILES = {
    "broker-info.subm",
    "broker-info.json",
    "broker-ca.crt",
    "broker-token",
    "ipsec-psk",
}
NO_CLEANUP_YET = "run after the checks"


@dataclass
class Policy:
    """Decides each line; `nodes`: a node per context, for the `<node>` blanks;
    `helm_repository`: the URL that serves the release's charts here."""

    nodes: dict[str, str]
    helm_repository: str
    skipped_vars: set[str] = field(default_factory=set)

    def decide(self, line: Line) -> Decision:
        if isinstance(line, Comment):
            return Decision(RAN, line)
        commands = line.commands()
        programs = {c.program for c in commands}
        argvs = [[_plain(w) for w in c.argv] for c in commands]
        if "subctl" in programs:
            return Decision(SKIPPED, reason=NO_SUBMARINER)
        files = {f for c in commands for f in (c.stdin, c.stdout) if f}
        files |= {w.split("=")[-1] for a in argvs for w in a}
        if files & BROKER_FILES:
            return Decision(SKIPPED, reason=NO_BROKER_INFO)
        if "oc" in programs:
            if any(a[1:2] == ["login"] for a in argvs):
                return Decision(SKIPPED, reason=NO_LOGIN)
            return Decision(SKIPPED, reason=NO_OPENSHIFT)
        if programs & {"argocd", "flux"} or any("argocd-cm" in a for a in argvs):
            return Decision(SKIPPED, reason=NO_GITOPS)
        if any(a[:3] == ["kubectl", "apply", "-f"] and "gitops" in " ".join(a) for a in argvs):
            return Decision(SKIPPED, reason=NO_GITOPS)
        if any("wait" in a and ("kustomization" in a or "application" in a) for a in argvs):
            return Decision(SKIPPED, reason=NO_GITOPS_WAIT)
        if any(
            a[1:3] in (["config", "current-context"], ["config", "rename-context"])
            for a in argvs
            if a[0] == "kubectl"
        ):
            return Decision(SKIPPED, reason=NO_LOGIN)
        if any("exec" in a and "curl" in a for a in argvs):
            return Decision(SKIPPED, reason=NO_CONTAINERS)
        if any(a[0] == "istioctl" and "proxy-config" in a for a in argvs):
            return Decision(SKIPPED, reason=NO_ENVOY)
        if any(a[0] == "istioctl" and "proxy-status" in a for a in argvs):
            return Decision(SKIPPED, reason=NO_PORT_FORWARD)
        uses = {w.name for c in commands for w in c.argv if hasattr(w, "name")}
        if uses & self.skipped_vars:
            return Decision(SKIPPED, reason=NO_FALLBACK)
        if isinstance(line, Assign) and line.var.name == "ISTIO_READER_SRT_NAME":
            self.skipped_vars.add(line.var.name)
            return Decision(SKIPPED, reason=NO_FALLBACK)
        changed = _map_commands(line, self._fill)
        if changed != line:
            blanks = any(c.blanks() for c in commands)
            return Decision(FILLED if blanks else SUBSTITUTED, changed, self._why(line))
        return Decision(RAN, line)

    def _fill(self, command: Cmd) -> Cmd:
        argv: list[Word] = []
        context = _context_of(command)
        for w in command.argv:
            if isinstance(w, Blank) and w.what == "node" and context in self.nodes:
                argv.append(self.nodes[context])
            elif w == HELM_REPOSITORY:
                argv.append(self.helm_repository)
            else:
                argv.append(w)
        return replace(command, argv=tuple(argv))

    def _why(self, line: Line) -> str:
        if any(c.blanks() for c in line.commands()):
            return "a node of the cluster, as the person running it would name one"
        return (
            f"the Helm repository {HELM_REPOSITORY} is served here from the release's own "
            "charts (MESHGEN_SHARED/istio-releases), at the same chart version"
        )


def _plain(word: Word) -> str:
    return word if isinstance(word, str) else "<" + type(word).__name__.lower() + ">"


def _context_of(command: Cmd) -> str:
    words = [w for w in command.argv if isinstance(w, str)]
    for i, w in enumerate(words):
        if w in ("--context", "--kube-context") and i + 1 < len(words):
            return words[i + 1]
        if w.startswith(("--context=", "--kube-context=")):
            return w.split("=", 1)[1]
    return ""


def _map_commands(line: Line, change: Callable[[Cmd], Cmd]) -> Line:
    if isinstance(line, Cmd):
        return change(line)
    if isinstance(line, Pipeline):
        return replace(line, parts=tuple(change(c) for c in line.parts))
    if isinstance(line, Assign):
        return replace(line, parts=tuple(change(c) for c in line.parts))
    if isinstance(line, Commented):
        return replace(line, line=change(line.line))
    if isinstance(line, Loop):
        return replace(line, body=tuple(_map_commands(b, change) for b in line.body))
    return line


@dataclass
class Shell:
    """Runs lines in bash: `output_dir` and `release_dir` are where blocks run; `env` the
    environment (PATH with the release's tools, KUBECONFIG, HOME)."""

    output_dir: Path
    release_dir: Path
    env: dict[str, str]
    state_dir: Path
    timeout: float = 600.0

    def run(self, line: Line, block: Commands, first: bool) -> tuple[int, str, str]:
        """Run `line` as a person would in the shell of `block` (its first line: a fresh one
        in the block's directory)."""
        state = self.state_dir
        state.mkdir(parents=True, exist_ok=True)
        start_dir = self.release_dir if block.cwd == ISTIO_RELEASE_DIR else self.output_dir
        if first:
            (state / "cwd").write_text(str(start_dir))
            for old in state.glob("var.*"):
                old.unlink()
        restore = [f"cd {shlex.quote((state / 'cwd').read_text())}"]
        for saved in sorted(state.glob("var.*")):
            name = saved.name.removeprefix("var.")
            restore.append(f"{name}=$(cat {shlex.quote(str(saved))})")
        save = [f'printf %s "$PWD" > {shlex.quote(str(state / "cwd"))}']
        save += [
            f'printf %s "${v.name}" > {shlex.quote(str(state / ("var." + v.name)))}'
            for v in line.variables()
        ]
        script = "\n".join(["set -euo pipefail", *restore, str(line), *save]) + "\n"
        proc = subprocess.run(
            ["bash", "-c", script],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
            start_new_session=True,
        )
        return proc.returncode, proc.stdout, proc.stderr


class RunbookError(AssertionError):
    pass


@dataclass
class Hooks:
    """What the box does around the lines: `before_line` (its controllers), `after_line`
    (the line's text and standard output), `after_block` (the block and its records)."""

    before_line: Callable[[], None] = lambda: None
    after_line: Callable[[str, str], None] = lambda text, stdout: None
    after_block: Callable[[Commands, list[LineRecord]], None] = lambda block, records: None


def execute(
    runbook: Runbook,
    policy: Policy,
    shell: Shell,
    hooks: Hooks,
    *,
    stop_before: Callable[[Commands], bool] = lambda block: False,
) -> tuple[list[LineRecord], list[tuple[str, Commands]]]:
    """Run the steps in order; returns the record of every line, and the blocks not run
    because `stop_before` said so (with their step), for the caller to run later. A line
    that fails stops the run (RunbookError names the step, the line and its output)."""
    records: list[LineRecord] = []
    held: list[tuple[str, Commands]] = []
    for step in runbook.steps:
        for block in step.commands():
            if held or stop_before(block):
                held.append((step.title, block))
                continue
            records.extend(run_block(step.title, block, policy, shell, hooks))
    return records, held


def run_block(
    title: str, block: Commands, policy: Policy, shell: Shell, hooks: Hooks
) -> list[LineRecord]:
    records: list[LineRecord] = []
    first = True
    for line in block.lines:
        decision = policy.decide(line)
        if decision.outcome == SKIPPED or decision.line is None:
            records.append(LineRecord(title, str(line), SKIPPED, decision.reason))
            continue
        if isinstance(decision.line, Comment):
            continue
        hooks.before_line()
        start = time.monotonic()
        rc, stdout, stderr = shell.run(decision.line, block, first)
        first = False
        output = (stdout + stderr)[-4000:]
        record = LineRecord(
            title,
            str(decision.line),
            decision.outcome,
            decision.reason,
            rc,
            output,
            round(time.monotonic() - start, 2),
        )
        records.append(record)
        if rc != 0:
            raise RunbookError(f"runbook step {title!r}: `{decision.line}` exited {rc}:\n{output}")
        hooks.after_line(str(decision.line), stdout)
    hooks.after_block(block, records)
    return records
