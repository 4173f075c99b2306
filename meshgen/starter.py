"""The commented starter spec written by `meshgen init`."""

from meshgen.schema import MODELINE

# The schema file `meshgen init` writes next to the spec, and the modeline that names it: an
# editor resolves it relative to the spec, with no network.
SCHEMA_FILE = "mesh.schema.json"
LOCAL_MODELINE = f"# yaml-language-server: $schema=./{SCHEMA_FILE}"


def starter(modeline: str = LOCAL_MODELINE) -> str:
    """The starter spec under `modeline` (MODELINE: the schema published at the release's tag)."""
    return modeline + STARTER_BODY


STARTER_BODY = """
# A meshgen spec: one Istio multi-primary mesh over a flat network (Submariner).
# Check it with `meshgen validate mesh.yaml`; compile it with `meshgen build mesh.yaml`.
apiVersion: meshgen.dev/v1alpha1
kind: Mesh
metadata:
  name: mesh1                  # DNS-1123 label; the default meshID
spec:
  network: network1            # the one flat network, the same in every cluster
  istio:
    version: "1.30.3"          # quoted; the newest Istio meshgen knows (1.10.0 to 1.30.x)
    # installer: istioctl (you run `istioctl install -f`) | operator (Istio <= 1.23) |
    #   helm (chart values; Argo CD / Flux releases with spec.gitops) | sail (Sail Operator)
    installer: istioctl
    cni:
      enabled: true            # needed on OpenShift
  submariner:
    broker: cluster1           # the cluster that hosts the Submariner broker
  clusters:                    # pod and service CIDRs must not overlap anywhere
    - name: cluster1           # Istio clusterName = Submariner clusterID
      platform: openshift      # kubernetes | openshift
      podCIDR: 10.128.0.0/14
      serviceCIDR: 172.30.0.0/16
    - name: cluster2
      platform: openshift
      podCIDR: 10.132.0.0/14
      serviceCIDR: 172.31.0.0/16
  namespaces:
    - name: sample             # labelled for sidecar injection in every cluster
  services:
    - name: helloworld
      namespace: sample
      ports: [{name: http, number: 5000}]
      subsets:
        - {name: v1, labels: {version: v1}}
        - {name: v2, labels: {version: v2}}
      routes:
        - destinations:        # weights must add up to 100
            - {subset: v1, weight: 50}
            - {subset: v2, weight: 50}
"""


STARTER = starter(MODELINE)  # the published-schema variant (`meshgen init --online`)
