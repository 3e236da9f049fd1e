package main

// What ESO's template engine gained after v0.16.2, written against the
// same libraries ESO's current source uses (Go's crypto/x509, encoding/pem,
// crypto/rsa and software.sslmate.com/src/go-pkcs12).

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"hash"
	"strings"
	"text/template"

	"golang.org/x/crypto/bcrypt"
	gopkcs12 "software.sslmate.com/src/go-pkcs12"
)

func extras(m template.FuncMap) template.FuncMap {
	filterPEM := m["filterPEM"].(func(string, string) (string, error))
	return template.FuncMap{
		// ESO trims anything before the first BEGIN line itself, as
		// pem.Decode did before Go 1.26.
		"filterPEM": func(pemType, input string) (string, error) {
			return filterPEM(pemType, trimJunk(input))
		},
		"certSANs":                  certSANs,
		"pemTruststoreToPKCS12":     func(c string) (string, error) { return truststore(c, "") },
		"pemTruststoreToPKCS12Pass": truststore,
		"rsaDecrypt":                rsaDecrypt,
		// Not ESO's: lets the tests check Coffer's bcrypt/htpasswd
		// hashes with Go's bcrypt (the hashes are salted at random).
		"testBcryptMatches": func(hash, password string) bool {
			return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
		},
		// Not ESO's: PKCS#12 files in go-pkcs12's legacy formats (which
		// ESO reads but never writes), and what a trust store holds, for
		// the tests of Coffer's PKCS#12 helpers.
		"testPkcs12Legacy":     legacyPkcs12,
		"testPkcs12TrustStore": readTrustStore,
		"hexdec": func(v string) string {
			data, err := hex.DecodeString(v)
			if err != nil {
				return err.Error()
			}
			return string(data)
		},
	}
}

func trimJunk(input string) string {
	if i := strings.Index(input, "-----BEGIN"); i >= 0 {
		return input[i:]
	}
	return input
}

func certSANs(input string) ([]string, error) {
	block, _ := pem.Decode([]byte(trimJunk(input)))
	if block == nil {
		return nil, errors.New("failed to decode PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, err
	}
	sans := append([]string{}, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		sans = append(sans, ip.String())
	}
	sans = append(sans, cert.EmailAddresses...)
	for _, u := range cert.URIs {
		sans = append(sans, u.String())
	}
	return sans, nil
}

func parseCerts(rest []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for len(rest) > 0 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		// ESO dereferences the block unchecked: a panic, which
		// text/template turns into an error.
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, cert)
	}
	return certs, nil
}

func truststore(cert, password string) (string, error) {
	certs, err := parseCerts([]byte(cert))
	if err != nil {
		return "", err
	}
	pfx, err := gopkcs12.Modern.EncodeTrustStore(certs, password)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(pfx), nil
}

func rsaDecrypt(scheme, hashName, in, privateKey string) (string, error) {
	switch scheme {
	case "None":
		return in, nil
	case "RSA-OAEP":
	default:
		return "", errors.New("decryption scheme is not supported")
	}
	block, _ := pem.Decode([]byte(privateKey))
	if block == nil {
		return "", errors.New("failed to decode PEM block")
	}
	var key any
	var err error
	if key, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
		if key, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
			if key, err = x509.ParseECPrivateKey(block.Bytes); err != nil {
				return "", errors.New("could not parse private key")
			}
		}
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return "", errors.New("could not parse RSA private key")
	}
	var h hash.Hash
	switch hashName {
	case "SHA1":
		h = crypto.SHA1.New()
	case "SHA512":
		h = sha512.New()
	default:
		h = sha256.New()
	}
	out, err := rsa.DecryptOAEP(h, nil, rsaKey, []byte(in), nil)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

func legacyPkcs12(cert, key, password, kind string) (string, error) {
	cb, _ := pem.Decode([]byte(cert))
	kb, _ := pem.Decode([]byte(key))
	if cb == nil || kb == nil {
		return "", errors.New("no PEM block")
	}
	c, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return "", err
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return "", err
	}
	enc := gopkcs12.LegacyRC2
	if kind == "des" {
		enc = gopkcs12.LegacyDES
	}
	pfx, err := enc.Encode(k, c, nil, password)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(pfx), nil
}

func readTrustStore(pfx, password string) (string, error) {
	certs, err := gopkcs12.DecodeTrustStore([]byte(pfx), password)
	if err != nil {
		return "", err
	}
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return string(out), nil
}
