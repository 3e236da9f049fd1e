//go:build tools

// Package tools records the kubectl command that this module pins.
package tools

import _ "k8s.io/kubernetes/cmd/kubectl"
