// Command gotemplate renders Go text/template cases with the function set
// External Secrets' v2 engine starts from (sprig's TxtFuncMap without env
// and expandenv), so coffer-template's tests can compare its output with
// Go's byte for byte. It is Coffer's own test helper, not a reference tool
// fetched from elsewhere; build.sh builds it like the others.
//
// Input (stdin): a JSON array of {"template": "...", "data": {"key":
// base64}}. Output (stdout): a JSON array of {"out": base64, "err": bool}
// in the same order. Values are bytes both ways, so invalid UTF-8 passes.
//
// A case with "verify": true renders nothing: Go's crypto/x509 parses the
// PEM certificate in data "leaf" and verifies it against the roots in
// data "roots" (any extended key usage, now), for the certificate
// functions' tests (genCA, genSignedCert, ...); "out" is "ok".
package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"text/template"

	"github.com/Masterminds/sprig/v3"
)

type testCase struct {
	Template string            `json:"template"`
	Data     map[string][]byte `json:"data"`
	Verify   bool              `json:"verify"`
}

type result struct {
	Out []byte `json:"out"`
	Err bool   `json:"err"`
}

// verify checks data "leaf" against the roots in data "roots".
func verify(c testCase) result {
	block, _ := pem.Decode(c.Data["leaf"])
	if block == nil {
		return result{Err: true}
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return result{Err: true}
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(c.Data["roots"]) {
		return result{Err: true}
	}
	opts := x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	if _, err := leaf.Verify(opts); err != nil {
		return result{Err: true, Out: []byte(err.Error())}
	}
	return result{Out: []byte("ok")}
}

func render(c testCase) result {
	if c.Verify {
		return verify(c)
	}
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	t, err := template.New("case").Funcs(funcs).Option("missingkey=error").Parse(c.Template)
	if err != nil {
		return result{Err: true}
	}
	data := make(map[string]string, len(c.Data))
	for k, v := range c.Data {
		data[k] = string(v)
	}
	var out bytes.Buffer
	if err := t.Execute(&out, data); err != nil {
		return result{Err: true}
	}
	return result{Out: out.Bytes()}
}

func main() {
	var cases []testCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		os.Stderr.WriteString("gotemplate: reading cases: " + err.Error() + "\n")
		os.Exit(2)
	}
	results := make([]result, len(cases))
	for i, c := range cases {
		results[i] = render(c)
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		os.Stderr.WriteString("gotemplate: writing results: " + err.Error() + "\n")
		os.Exit(2)
	}
}
