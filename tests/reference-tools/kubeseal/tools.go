//go:build tools

// Package tools records the kubeseal command that this module pins.
package tools

import _ "github.com/bitnami/sealed-secrets/cmd/kubeseal"
