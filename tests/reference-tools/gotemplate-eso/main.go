// Command gotemplate-eso renders Go text/template cases with External
// Secrets' own v2 function map, so coffer-template's tests can compare its
// ESO helpers (filterPEM, pkcs12*, jwk*, ...) with ESO's byte for byte. It
// is Coffer's own test helper; build.sh builds it like the others.
//
// The map is ESO's `pkg/template/v2.FuncMap()` at the version go.mod pins
// (v0.16.2, the newest ESO whose template package is in its main module;
// later ones moved it to a `runtime` module that is not published), with
// upstream sprig v3.3.0 as ESO v1 and later use. What ESO added after
// v0.16.2 is written here with the same Go standard library and go-pkcs12
// calls ESO's current source makes (see extras.go): certSANs,
// pemTruststoreToPKCS12(Pass), rsaDecrypt, sprig's hexdec, filterPEM's
// junk trimming; getHostByName is removed as ESO does now.
//
// Input and output as gotemplate's: a JSON array of {"template", "data":
// {key: base64}} in, a JSON array of {"out": base64, "err": bool} out.
package main

import (
	"bytes"
	"encoding/json"
	"os"
	"text/template"

	eso "github.com/external-secrets/external-secrets/pkg/template/v2"
)

type testCase struct {
	Template string            `json:"template"`
	Data     map[string][]byte `json:"data"`
}

type result struct {
	Out []byte `json:"out"`
	Err bool   `json:"err"`
}

func funcs() template.FuncMap {
	m := template.FuncMap{}
	for k, v := range eso.FuncMap() {
		m[k] = v
	}
	delete(m, "getHostByName")
	for k, v := range extras(m) {
		m[k] = v
	}
	return m
}

func render(fm template.FuncMap, c testCase) result {
	t, err := template.New("case").Funcs(fm).Option("missingkey=error").Parse(c.Template)
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
		os.Stderr.WriteString("gotemplate-eso: reading cases: " + err.Error() + "\n")
		os.Exit(2)
	}
	fm := funcs()
	results := make([]result, len(cases))
	for i, c := range cases {
		results[i] = render(fm, c)
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		os.Stderr.WriteString("gotemplate-eso: writing results: " + err.Error() + "\n")
		os.Exit(2)
	}
}
