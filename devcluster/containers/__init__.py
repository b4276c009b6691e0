"""Pods in real containers: a rendered pod's container as a `podman run` (runc), with its
security context enforced by the kernel. The seed of the local kubelet's container mode."""
