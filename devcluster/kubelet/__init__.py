"""The kubelet of the local control plane's node oozo-local-0, which has no container runtime:
`LocalKubelet` runs the pods bound there as processes on this machine."""
