// kstatus reads one Kubernetes object (JSON or YAML) on stdin and prints the verdict of
// sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute — the library Flux and kpt use to judge
// health — as {"status": "...", "message": "..."}. The Python tests call it so that "is this
// resource healthy" is answered by the same code GitOps tools run, not by our own reading.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

type verdict struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("read stdin: %v", err)
	}
	// JSON is YAML, so one conversion serves both; the unstructured decoder then keeps integers
	// as int64, which status.Compute insists on (metadata.generation, observedGeneration).
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		fail("parse object: %v", err)
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(js); err != nil {
		fail("decode object: %v", err)
	}
	res, err := status.Compute(obj)
	if err != nil {
		fail("compute status: %v", err)
	}
	out, _ := json.Marshal(verdict{Status: res.Status.String(), Message: res.Message})
	fmt.Println(string(out))
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "kstatus: "+format+"\n", args...)
	os.Exit(2)
}
