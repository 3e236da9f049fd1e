//go:build tools

// Package tools records the commands this module pins, so that `go mod tidy`
// keeps their dependencies in go.sum. build.sh builds each of them.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
