// strict-decode reads Kubernetes objects (one JSON object per line on stdin) and decodes each with
// the API machinery's strict decoder, as the API server does for a request with
// fieldValidation=Strict: unknown fields, duplicate fields and wrongly typed values are errors.
// It knows the built-in kinds (client-go's scheme); it prints "skip <apiVersion>/<kind>" for others
// and one line "error <apiVersion>/<kind> <name>: <reason>" per failure, and exits 1 on any.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
)

func main() {
	decoder := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	input := bufio.NewScanner(os.Stdin)
	input.Buffer(make([]byte, 1024*1024), 16*1024*1024)
	failed := false
	for input.Scan() {
		line := input.Bytes()
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(line, &meta); err != nil {
			fmt.Printf("error ?: not JSON: %v\n", err)
			failed = true
			continue
		}
		gvk := schema.FromAPIVersionAndKind(meta.APIVersion, meta.Kind)
		if !scheme.Scheme.Recognizes(gvk) {
			fmt.Printf("skip %s/%s\n", meta.APIVersion, meta.Kind)
			continue
		}
		if _, _, err := decoder.Decode(line, nil, nil); err != nil {
			fmt.Printf("error %s/%s %s: %v\n", meta.APIVersion, meta.Kind, meta.Metadata.Name, err)
			failed = true
			continue
		}
		fmt.Printf("ok %s/%s %s\n", meta.APIVersion, meta.Kind, meta.Metadata.Name)
	}
	if err := input.Err(); err != nil {
		fmt.Printf("error ?: reading stdin: %v\n", err)
		failed = true
	}
	if failed {
		os.Exit(1)
	}
}
