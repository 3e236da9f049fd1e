//go:build tools

// Package tools records the sops command that this module pins, and
// age-keygen from the filippo.io/age that sops uses (post-quantum keys).
package tools

import (
	_ "filippo.io/age/cmd/age-keygen"
	_ "github.com/getsops/sops/v3/cmd/sops"
)
