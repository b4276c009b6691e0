// The pod sandbox's "pause" process for the real node (hack/realnode/build.sh): it holds the
// pod's namespaces until the kubelet stops the sandbox. No registry is reachable here, so the
// image registry.k8s.io/pause would otherwise be missing; this is built FROM scratch instead.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}
