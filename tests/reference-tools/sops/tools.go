//go:build tools

// Package tools records the sops command that this module pins.
package tools

import _ "github.com/getsops/sops/v3/cmd/sops"
