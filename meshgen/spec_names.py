"""Name rules every Kubernetes object name must satisfy, as constrained string types."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

# k8s.io/apimachinery/pkg/util/validation: IsDNS1123Label, IsDNS1035Label, IsDNS1123Subdomain.
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS1035_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# Label keys: optional DNS-subdomain prefix, then a 63-char name (IsQualifiedName).
LABEL_KEY = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"

DNSLabel = Annotated[str, StringConstraints(pattern=DNS1123_LABEL, min_length=1, max_length=63)]
ServiceName = Annotated[str, StringConstraints(pattern=DNS1035_LABEL, min_length=1, max_length=63)]
Subdomain = Annotated[
    str, StringConstraints(pattern=DNS1123_SUBDOMAIN, min_length=1, max_length=253)
]
LabelKey = Annotated[str, StringConstraints(pattern=LABEL_KEY, max_length=317)]
LabelValue = Annotated[str, StringConstraints(pattern=LABEL_VALUE, max_length=63)]
