"""Every diagnostic code, defined once: title, default severity and explanation page.

The checks' `CODES`, the README's code table (tests/test_readme.py), `meshgen explain CODE`
and the `doc` field of JSON diagnostics all read this registry; tests/test_codes.py holds
that every code used anywhere in meshgen/ is registered here and has a full page. Codes are
stable: a code is never reused for another problem.

Importing this module is cheap (no dependencies): the fast `meshgen validate` path uses it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    code: str
    severity: str  # "error", "warning", or "error/warning" (depends on the case)
    title: str
    why: str
    fix: str
    example: str

    @property
    def summary(self) -> str:
        """`severity: title`, the one-line form of the checks' CODES."""
        return f"{self.severity}: {self.title}"

    @property
    def doc(self) -> str:
        """Where the page is: the command that prints it."""
        return f"meshgen explain {self.code}"

    def page(self) -> str:
        """The explanation page: what, why, how to fix, an example."""
        return (f"{self.code} ({self.severity}): {self.title}\n\n"
                f"Why: {self.why}\n\n"
                f"How to fix: {self.fix}\n\n"
                f"Example:\n{_indent(self.example)}\n")


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" if line else "\n" for line in text.splitlines()).rstrip("\n")


FAMILIES = {
    "MG0": "YAML: the file itself (syntax, encoding, limits)",
    "MG1": "schema: fields, types and values",
    "MG2": "network: CIDRs and Submariner",
    "MG3": "Istio: versions and installers",
    "MG4": "traffic: services, subsets, routes and policies",
    "MG5": "topology: clusters and the broker",
    "MG9": "output: writing and validating out/",
}

_ALL = (
    # --- MG0xx: YAML --------------------------------------------------------------------------
    Code("MG001", "error", "YAML syntax error",
         "The file is not YAML, so nothing else can be checked.",
         "Fix the syntax at the position named; indentation and an unclosed quote or bracket "
         "are the usual causes.",
         "clusters:\n  - name: cluster1\n   platform: openshift   # misindented"),
    Code("MG002", "error", "duplicate key",
         "YAML parsers disagree on duplicate keys (the last one wins in some, an error in "
         "others); meshgen refuses them so every tool reads the same spec.",
         "Keep one of the two keys; the note points at the first one.",
         "metadata:\n  name: mesh1\n  name: mesh2"),
    Code("MG003", "error", "alias expansion, recursion or nesting limit",
         "Aliases can expand a small file into gigabytes (a \"billion laughs\" attack), and "
         "deep nesting exhausts the parser.",
         "Write the values out instead of using aliases, and flatten deep nesting.",
         "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b, *b]   # ... grows exponentially"),
    Code("MG004", "error", "file, or an integer literal, too large",
         "A mesh spec is small; a huge file or a number with thousands of digits is a mistake "
         "or an attack.",
         "Split or shorten the file; write numbers in their ordinary size.",
         "weight: 100000000000000000000000000000000000000000000000000"),
    Code("MG005", "error", "not UTF-8 (e.g. UTF-16, with or without a byte-order mark)",
         "meshgen reads UTF-8 only, like kubectl and kustomize.",
         "Save the file as UTF-8 (in most editors: \"Save with encoding\").",
         "iconv -f UTF-16 -t UTF-8 mesh.yaml > mesh.utf8.yaml"),
    Code("MG006", "error", "unsupported or unsafe YAML tag",
         "Tags such as !!python/object construct arbitrary objects; meshgen takes plain data.",
         "Remove the tag; quote the value if it should be a string.",
         "version: !!python/object:os.system 'ls'"),
    Code("MG007", "error", "empty file or more than one document",
         "A spec is exactly one YAML document describing one mesh.",
         "Keep one document per file (remove extra `---` separators), or fill the empty file "
         "(`meshgen init` writes a starter).",
         "apiVersion: meshgen.dev/v1alpha1\n...\n---\napiVersion: meshgen.dev/v1alpha1"),
    Code("MG008", "error", "merge key or non-string key",
         "Merge keys (`<<`) are not part of YAML 1.2 and keys must be field names.",
         "Write the merged fields out; quote keys that look like numbers.",
         "defaults: &d {platform: openshift}\nclusters:\n  - <<: *d\n    name: cluster1"),
    Code("MG009", "error",
         "file cannot be read (also: a FIFO, device or directory instead of a file)",
         "meshgen needs a regular file (or `-` for standard input).",
         "Check the path and its permissions; pipe a stream with `-` instead of a FIFO path.",
         "meshgen validate clusters/   # a directory, not a file"),
    Code("MG010", "error", "`%YAML` directive other than 1.2 (meshgen reads YAML 1.2)",
         "YAML 1.1 reads `no`, `on` and `1.10` differently; meshgen reads 1.2 only.",
         "Remove the directive (or write `%YAML 1.2`).",
         "%YAML 1.1\n---\napiVersion: meshgen.dev/v1alpha1"),
    # --- MG1xx: schema ------------------------------------------------------------------------
    Code("MG101", "error", "unknown field (with \"did you mean\")",
         "A misspelt field would otherwise be ignored silently.",
         "Use the field the hint suggests; `meshgen schema` lists every field.",
         "spec:\n  clusters:\n    - name: cluster1\n      podCidr: 10.128.0.0/14   # podCIDR"),
    Code("MG102", "error", "wrong type (e.g. unquoted version)",
         "Nothing is coerced: an unquoted `1.10` is the number 1.1.",
         "Write the value with the type the field takes; quote versions.",
         "istio:\n  version: 1.10   # write \"1.10.0\""),
    Code("MG103", "error", "missing required field",
         "meshgen cannot compile the mesh without it.",
         "Add the field named in the message.",
         "clusters:\n  - name: cluster1   # podCIDR and serviceCIDR are missing"),
    Code("MG104", "error",
         "invalid value (name rule, CIDR incl. loopback/multicast/link-local ranges, enum, "
         "range)",
         "The value would be rejected by Kubernetes or Istio, or is not a usable range.",
         "Use a value the message allows (the hint gives the canonical form or the choices).",
         "clusters:\n  - name: Cluster_1   # DNS-1123: lower case, digits and '-'"),
    Code("MG105", "error", "secrets.provider external-secrets without secrets.store",
         "An ExternalSecret needs the store it reads from.",
         "Add `secrets.store.name` (and `kind` if it is a namespaced SecretStore).",
         "secrets:\n  provider: external-secrets\n  store: {name: vault}"),
    Code("MG106", "error",
         "gitops.path or secrets.keyPrefix is not a clean relative path (a `..` or `.` "
         "segment, absolute, a backslash, an empty segment)",
         "These values become paths and keys in generated objects; `..` could point the GitOps "
         "engine or the secret store outside what you meant.",
         "Write a plain relative path such as `out` or `meshgen/prod`.",
         "gitops:\n  path: ../other-repo"),
    Code("MG107", "error",
         "gitops.repoURL carries credentials (a password or token in its user part)",
         "The URL is written into committed files; a token there leaks to everyone who can "
         "read the repository.",
         "Remove the credentials from the URL and give them to Argo CD or Flux as a repository "
         "secret.",
         "gitops:\n  repoURL: https://user:ghp_xxx@github.com/org/repo   # no"),
    Code("MG108", "error", "a private key or an access token in istio.values or a route match",
         "Generated files are committed to git; a secret there is leaked.",
         "Keep secrets in a Secret (placeholder or External Secrets), never in the spec.",
         "istio:\n  values:\n    pilot: {env: {TOKEN: \"AKIA...\"}}"),
    Code("MG109", "warning", "a PEM certificate in istio.values",
         "Certificates are usually not secret, but one in the spec is often next to its key, "
         "and the intermediate CA belongs in the cacerts Secret.",
         "Check that it is public; put CA material in the cacerts Secret instead.",
         "istio:\n  values:\n    caCert: \"-----BEGIN CERTIFICATE-----...\""),
    Code("MG110", "error",
         "control character (U+0000-U+001F, U+007F-U+009F) in a string or key; "
         "`istio.values` strings may hold tab and line feed",
         "Control characters hide text in terminals and reviews and break consumers.",
         "Remove the character (the message shows it escaped).",
         "metadata:\n  name: \"mesh\\u001b[2J\""),
    # --- MG2xx: network -----------------------------------------------------------------------
    Code("MG201", "error", "pod/service CIDRs of two clusters overlap",
         "Submariner routes pod and service IPs directly between clusters; an overlapping "
         "range makes addresses ambiguous and traffic goes to the wrong cluster.",
         "Give each cluster disjoint pod and service ranges (the hint suggests a free one).",
         "clusters:\n  - {name: cluster1, podCIDR: 10.128.0.0/14, serviceCIDR: 172.30.0.0/16}\n"
         "  - {name: cluster2, podCIDR: 10.128.0.0/15, serviceCIDR: 172.31.0.0/16}"),
    Code("MG202", "error",
         "two CIDRs of one cluster overlap (pod vs service, or its own pod CIDRs)",
         "A pod IP that is also a service IP cannot be routed.",
         "Choose disjoint pod and service CIDRs for the cluster.",
         "- {name: cluster1, podCIDR: 10.0.0.0/8, serviceCIDR: 10.96.0.0/12}"),
    Code("MG203", "error/warning",
         "a CIDR overlaps a range reserved by Submariner, OVN-Kubernetes or the IP standards "
         "(loopback, link-local, multicast, broadcast, unspecified)",
         "Submariner (240/8-243/8) and OVN-Kubernetes (join, transit, masquerade subnets) use "
         "these ranges themselves; special IP ranges are not routable.",
         "Move the CIDR out of the reserved range named in the message.",
         "- {name: cluster1, platform: openshift, podCIDR: 100.64.0.0/16, ...}"),
    Code("MG204", "error", "Submariner Globalnet on a flat-network mesh",
         "Globalnet translates addresses; a multi-primary mesh on one flat network needs pod "
         "IPs to be reachable unchanged.",
         "Set `globalnet: false` and give the clusters disjoint CIDRs.",
         "submariner:\n  broker: cluster1\n  globalnet: true"),
    Code("MG205", "error/warning", "mixed address families (IPv4/IPv6) in a cluster or the mesh",
         "Pods of one family cannot reach pods of the other over Submariner.",
         "Use the same families in every cluster (dual-stack: a list of two CIDRs everywhere).",
         "- {name: cluster1, podCIDR: 10.128.0.0/14, serviceCIDR: \"fd00::/108\"}"),
    Code("MG206", "warning", "the vxlan cable driver with NAT traversal on",
         "The vxlan cable driver does not support NAT traversal.",
         "Set `natTraversal: false`, or use libreswan or wireguard.",
         "submariner:\n  broker: cluster1\n  cableDriver: vxlan"),
    # --- MG3xx: Istio -------------------------------------------------------------------------
    Code("MG301", "error", "Istio version outside the supported range",
         "meshgen knows the install values of Istio 1.10 to 1.30 only.",
         "Use a version in the range (`meshgen init` starts on the newest).",
         "istio:\n  version: \"1.9.0\""),
    Code("MG302", "error", "installer operator with Istio 1.24 or later (operator removed)",
         "Istio removed the in-cluster operator in 1.24.",
         "Use `installer: helm`, `sail` or `istioctl`, or an Istio version up to 1.23.",
         "istio:\n  version: \"1.24.0\"\n  installer: operator"),
    Code("MG303", "error",
         "installer sail with an Istio version no Sail Operator release accepts",
         "The Sail Operator installs only the versions its release lists.",
         "Use the version the hint names, or another installer.",
         "istio:\n  version: \"1.10.0\"\n  installer: sail"),
    Code("MG304", "error",
         "istio.values overrides a value meshgen owns (meshID, clusterName, network)",
         "These must be identical across clusters (meshID, network) or equal the Submariner "
         "cluster ID (clusterName); meshgen sets them from the spec.",
         "Set `spec.meshID` / `spec.network` instead, and remove them from `istio.values`.",
         "istio:\n  values:\n    global: {meshID: other}"),
    Code("MG305", "warning", "istio-cni disabled on an OpenShift cluster",
         "OpenShift does not let sidecars' init containers change iptables; without istio-cni "
         "injected pods fail to start.",
         "Keep `cni.enabled: true` on OpenShift.",
         "istio:\n  cni: {enabled: false}"),
    Code("MG306", "warning", "revision named `default`",
         "`default` is the name Istio uses for the unrevisioned control plane; using it as a "
         "revision confuses tags and injection labels.",
         "Choose another revision name, e.g. `1-30`, or leave it empty.",
         "istio:\n  revision: default"),
    Code("MG307", "warning", "Istio older than 1.14 with a cluster on Kubernetes 1.24 or later",
         "Kubernetes 1.24 stopped creating service-account token Secrets; istioctl before 1.14 "
         "cannot create remote secrets there.",
         "Use Istio 1.14 or later, or create the reader token Secret yourself (meshgen "
         "writes it).",
         "istio: {version: \"1.10.0\"}\nclusters:\n  - {name: c1, kubernetesVersion: \"1.25\", "
         "...}"),
    # --- MG4xx: traffic -----------------------------------------------------------------------
    Code("MG401", "error",
         "a route destination or mirror names a subset its service does not define",
         "Istio sends such traffic nowhere (503, no healthy upstream).",
         "Define the subset under the service's `subsets`, or fix the name.",
         "subsets: [{name: v1, labels: {version: v1}}]\n"
         "routes:\n  - destinations: [{subset: v3}]"),
    Code("MG402", "error", "a route's destination weights do not sum to 100",
         "Istio rejects a VirtualService whose weights do not add up to 100.",
         "Adjust the weights so they sum to 100.",
         "destinations:\n  - {subset: v1, weight: 50}\n  - {subset: v2, weight: 40}"),
    Code("MG403", "error", "duplicate subset name in a service",
         "A DestinationRule's subsets must have unique names.",
         "Rename or merge one of them.",
         "subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v1, labels: {version: v2}}"),
    Code("MG404", "error", "a service's namespace is not declared under spec.namespaces",
         "meshgen creates (and labels for injection) only the declared namespaces.",
         "Declare the namespace under `spec.namespaces`, or fix the name.",
         "namespaces: [{name: sample}]\nservices:\n  - {name: web, namespace: shop}"),
    Code("MG405", "error", "duplicate service (same name and namespace)",
         "Two DestinationRules/VirtualServices with the same name would replace each other.",
         "Merge the two entries.",
         "services:\n  - {name: web, namespace: sample}\n  - {name: web, namespace: sample}"),
    Code("MG406", "error", "duplicate namespace",
         "Each namespace is one object per cluster.",
         "Merge the two entries.",
         "namespaces:\n  - {name: sample}\n  - {name: sample, injection: false}"),
    Code("MG407", "error", "duplicate port name or number in a service",
         "Port names and numbers must be unique within a Kubernetes Service.",
         "Rename or renumber one of the ports.",
         "ports:\n  - {name: http, number: 8080}\n  - {name: http, number: 9090}"),
    Code("MG408", "error", "a service is placed in a cluster where its namespace is not",
         "The traffic rules would be written into a namespace that does not exist there.",
         "Add the cluster to the namespace's `clusters`, or remove it from the service's.",
         "namespaces: [{name: sample, clusters: [cluster1]}]\n"
         "services: [{name: web, namespace: sample, clusters: [cluster2]}]"),
    Code("MG409", "error",
         "a system namespace (istio-system, kube-*, default, openshift-*) is declared as an "
         "app namespace",
         "meshgen would relabel a namespace the platform owns.",
         "Run your workloads in a namespace of their own.",
         "namespaces:\n  - name: kube-system"),
    Code("MG410", "error",
         "a route destination, mirror or match names a port its service does not declare",
         "Istio would route to a port nothing listens on.",
         "Declare the port under the service's `ports`, or fix the number.",
         "ports: [{name: http, number: 5000}]\n"
         "routes:\n  - destinations: [{subset: v1, port: 8080}]"),
    Code("MG411", "error", "a destination of a service with several ports names no port",
         "Istio cannot tell which port to route to (IST0112).",
         "Add `port:` to each destination.",
         "ports: [{name: http, number: 80}, {name: grpc, number: 9000}]\n"
         "routes:\n  - destinations: [{subset: v1}]"),
    Code("MG412", "warning", "a route after a catch-all route is unreachable",
         "Routes are tried in order; one without `match` takes every request (IST0130).",
         "Move the catch-all route last.",
         "routes:\n  - destinations: [{subset: v1}]\n"
         "  - match: [{headers: {x-canary: {exact: \"1\"}}}]\n    destinations: [{subset: v2}]"),
    Code("MG414", "warning", "a route match repeats a match of an earlier route (shadowed)",
         "The earlier route takes every request the later one would (IST0131).",
         "Remove the duplicate or make the matches differ.",
         "routes:\n  - match: [{uri: {prefix: /api}}]\n    destinations: [{subset: v1}]\n"
         "  - match: [{uri: {prefix: /api}}]\n    destinations: [{subset: v2}]"),
    Code("MG415", "error",
         "a locality failover region that no cluster declares, or failover while no cluster "
         "declares a region",
         "Failover between regions with no endpoints never happens.",
         "Set `region` on the clusters, or fix the region name.",
         "loadBalancer:\n  localityLbSetting:\n    failover: [{from: us-east1, to: eu-west9}]"),
    Code("MG416", "error", "a subset with empty labels selects every pod of the service",
         "A subset without labels is the whole service; traffic split by it does nothing.",
         "Give the subset the labels of its pods.",
         "subsets:\n  - {name: v1, labels: {}}"),
    Code("MG417", "error",
         "a destination is pinned to an unknown cluster or to one where the service is not "
         "placed",
         "The generated subset would select no endpoints.",
         "Pin to a cluster where the service is placed.",
         "destinations:\n  - {subset: v2, cluster: cluster9}"),
    Code("MG418", "warning",
         "locality failover without outlierDetection (meshgen adds a default)",
         "Envoy fails over only when endpoints are ejected, which needs outlier detection.",
         "Set `outlierDetection` yourself, or keep the default meshgen adds "
         "(consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s).",
         "trafficPolicy:\n  loadBalancer:\n    localityLbSetting:\n"
         "      failover: [{from: us-east1, to: us-west1}]"),
    Code("MG419", "error/warning",
         "a security policy names a namespace not declared under spec.namespaces (a service "
         "account's namespace: warning)",
         "A policy in an undeclared namespace is never applied; a caller from one may be "
         "intended (it lives outside the mesh spec), so that is a warning.",
         "Declare the namespace, or fix the name.",
         "security:\n  authorizationPolicies:\n    - {name: allow, namespace: shopp, ...}"),
    Code("MG420", "error",
         "a traffic policy field or value the mesh's Istio version does not have "
         "(LEAST_REQUEST before 1.14, failoverPriority before 1.12)",
         "That Istio release rejects (or ignores) the field.",
         "Use the older equivalent the hint names (`LEAST_CONN`), or a newer Istio.",
         "istio: {version: \"1.10.0\"}\n...\ntrafficPolicy:\n  loadBalancer: {simple: "
         "LEAST_REQUEST}"),
    Code("MG421", "warning",
         "loadBalancer.simple LEAST_CONN, deprecated from Istio 1.14 (use LEAST_REQUEST)",
         "LEAST_CONN is a deprecated alias from 1.14 on.",
         "Write `LEAST_REQUEST`.",
         "trafficPolicy:\n  loadBalancer: {simple: LEAST_CONN}"),
    Code("MG422", "error",
         "the generated subset of a pinned destination (<subset>-<cluster>) has the name of a "
         "declared subset or of another pin's generated subset",
         "Two subsets with one name: one would replace the other.",
         "Rename the declared subset.",
         "subsets: [{name: v2, ...}, {name: v2-prod-b, ...}]\n"
         "routes:\n  - destinations: [{subset: v2, cluster: prod-b}]"),
    Code("MG423", "error",
         "the generated subset name of a pinned destination is longer than 63 characters",
         "Subset names are used as labels and must fit 63 characters.",
         "Shorten the subset or cluster name.",
         "destinations:\n  - {subset: a-long-subset-name..., cluster: a-long-cluster-name...}"),
    # --- MG5xx: topology ----------------------------------------------------------------------
    Code("MG501", "error", "duplicate cluster name",
         "The cluster name is Istio's clusterName and Submariner's clusterID; both must be "
         "unique.",
         "Rename one of the clusters.",
         "clusters:\n  - {name: cluster1, ...}\n  - {name: cluster1, ...}"),
    Code("MG502", "error", "submariner.broker is not one of the clusters",
         "The broker runs on one of the mesh's clusters.",
         "Name a cluster under `spec.clusters`.",
         "submariner:\n  broker: cluster3   # clusters are cluster1, cluster2"),
    Code("MG503", "error", "unknown cluster in a namespace's or service's clusters list",
         "The placement would silently leave something out.",
         "Fix the name, or add the cluster.",
         "namespaces:\n  - {name: sample, clusters: [clustr1]}"),
    Code("MG504", "error",
         "Submariner deployed by the operator, but the broker cluster has no apiServer",
         "The Submariner resource of every cluster needs the broker's API server URL.",
         "Set `apiServer` on the broker cluster.",
         "submariner: {broker: cluster1, deploy: operator}\n"
         "clusters:\n  - {name: cluster1, ...}   # apiServer missing"),
    Code("MG505", "error", "a service is exported without Submariner service discovery",
         "A ServiceExport needs Lighthouse (service discovery).",
         "Set `submariner.serviceDiscovery: true` or remove `export: true`.",
         "submariner: {broker: cluster1, serviceDiscovery: false}\n"
         "services:\n  - {name: web, namespace: sample, export: true}"),
    Code("MG506", "error", "a cluster name collides with a file or object name meshgen writes",
         "The cluster's directory or Argo CD Application would clash with another output.",
         "Rename the cluster.",
         "clusters:\n  - {name: gitops, ...}"),
    Code("MG507", "warning", "more clusters than a multi-primary mesh stays practical with",
         "In a multi-primary mesh every istiod watches the API server of every peer and keeps "
         "all their endpoints: N clusters make N x (N-1) remote watches and remote secrets "
         "(istio/istio#39207). Beyond about 20 clusters that load, and the secrets to "
         "rotate, grow faster than the mesh.",
         "Split the clusters into several meshes, or make most of them remote clusters of a "
         "few primaries (primary-remote, "
         "https://istio.io/latest/docs/setup/install/multicluster/primary-remote/).",
         "clusters:\n  - {name: c0, ...}\n  # ... 24 more"),
    # --- MG9xx: output ------------------------------------------------------------------------
    Code("MG901", "error", "output file in the way that meshgen did not write",
         "meshgen never overwrites a file it did not write (it is not in "
         ".meshgen-manifest.json).",
         "Move the file away, or choose another output folder with -o.",
         "out/cluster1/namespaces.yaml: error[MG901]: exists and was not written by meshgen"),
    Code("MG902", "error",
         "kubeconform rejects an emitted object (`--validate`, `check-output`)",
         "The object does not match its schema; the cluster would reject it.",
         "Report it as a meshgen bug unless the object came from `istio.values`; fix that "
         "value.",
         "out/cluster2/traffic/sample.yaml:19:1: error[MG902]: kubeconform rejects "
         "VirtualService 'helloworld': /spec: additional properties 'hostz' not allowed"),
    Code("MG903", "warning", "kubeconform found no schema for an object",
         "The object was not validated.",
         "Pass `--schema-dir` with the offline schemas (scripts/make_schemas.py).",
         "meshgen check-output out --schema-dir schemas-offline"),
    Code("MG904", "error",
         "kubeconform could not check an object (e.g. schemas unreachable offline)",
         "Without schemas nothing was validated; that is not a pass.",
         "Build the offline schemas (`python scripts/make_schemas.py schemas-offline`) and "
         "pass `--schema-dir schemas-offline`.",
         "meshgen check-output out --schema-dir schemas-offline --istio-version 1.10"),
    Code("MG905", "error",
         "another meshgen build holds the output folder's lock (after waiting "
         "`MESHGEN_LOCK_WAIT` seconds, default 10)",
         "Two builds writing one folder at once would mix their outputs.",
         "Wait for the other build to finish, then run this one again.",
         "MESHGEN_LOCK_WAIT=60 meshgen build mesh.yaml -o out"),
    Code("MG906", "error",
         "a generated file was changed by hand (or by another program during the build)",
         "Overwriting it would lose the edit.",
         "Look at the edit with `meshgen build --diff`; move it into the spec, then build with "
         "`--force`.",
         "meshgen build mesh.yaml -o out --diff\nmeshgen build mesh.yaml -o out --force"),
    Code("MG907", "error",
         "the output cannot be written (read-only or full file system, permissions); the "
         "previous output is kept",
         "The file system refused the write.",
         "Free space, fix the permissions, or write to another folder with -o.",
         "out/cluster1/namespaces.yaml: error[MG907]: cannot write: No space left on device"),
)

REGISTRY: dict[str, Code] = {c.code: c for c in _ALL}


def summaries(*codes: str) -> dict[str, str]:
    """{code: "severity: title"} for a check family's CODES."""
    return {code: REGISTRY[code].summary for code in codes}


def doc_ref(code: str) -> str | None:
    entry = REGISTRY.get(code)
    return entry.doc if entry is not None else None


def lookup(code: str) -> Code | None:
    return REGISTRY.get(code.strip().upper())
