"""A real node for the dev control plane: the kubelet built from the same Kubernetes module as
kube-apiserver, Debian's containerd and runc, CNI bridge networking (node.py, configs.py,
host.py, images.py)."""
