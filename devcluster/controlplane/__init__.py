"""The local control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok
as processes on loopback (plane), their certificates (pki) and command lines (components), and
the heartbeat that keeps node oozo-local-0 Ready (localnode)."""
