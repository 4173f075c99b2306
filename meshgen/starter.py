"""The commented starter spec written by `meshgen init`."""

STARTER = """\
# yaml-language-server: $schema=https://meshgen.dev/schemas/mesh.schema.json
# A meshgen spec: one Istio multi-primary mesh over a flat network (Submariner).
# Check it with `meshgen validate mesh.yaml`; compile it with `meshgen build mesh.yaml`.
apiVersion: meshgen.dev/v1alpha1
kind: Mesh
metadata:
  name: mesh1                  # DNS-1123 label; the default meshID
spec:
  network: network1            # the one flat network, the same in every cluster
  istio:
    version: "1.10.0"          # quoted: unquoted 1.10 would be the number 1.1
    installer: istioctl        # istioctl | operator (Istio <= 1.23)
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
