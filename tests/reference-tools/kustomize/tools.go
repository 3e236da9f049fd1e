//go:build tools

// Package tools records the kustomize command that this module pins.
package tools

import _ "sigs.k8s.io/kustomize/kustomize/v5"
