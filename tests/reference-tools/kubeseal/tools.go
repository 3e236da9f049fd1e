//go:build tools

// Package tools records the commands that this module pins: kubeseal, and
// Bitnami's controller (the migration test runs it before and after ours).
package tools

import (
	_ "github.com/bitnami/sealed-secrets/cmd/controller"
	_ "github.com/bitnami/sealed-secrets/cmd/kubeseal"
)
