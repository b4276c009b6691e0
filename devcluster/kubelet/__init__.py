"""Kubelets for the local control plane's node oozo-local-0, which has no container runtime:
`LocalKubelet` (local.py) runs the pods bound there as processes on this machine;
`KubeletPlayer` (player.py) runs nothing and only writes the pod status a kubelet would (a Job's
pod terminates with a given message, a server pod becomes Ready), for tests and benchmarks of
the operator that need no real pod."""
