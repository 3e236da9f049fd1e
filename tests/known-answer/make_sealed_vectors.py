#!/usr/bin/env python3
"""Known-answer vectors for Coffer's sealing core, from an independent implementation.

This script re-implements Bitnami sealed-secrets' hybrid format with Python's
`cryptography` package (not with any Coffer or Bitnami code), so that
`crates/coffer-crypto/tests/known_answer.rs` can check that our Rust code opens
values produced elsewhere:

    sealed = u16_be(len(rsa)) || rsa || AES-256-GCM(session_key, nonce=12 zero bytes,
                                                    no additional data) || 16-byte tag
    rsa    = RSA-OAEP(SHA-256, MGF1-SHA-256, label=scope label)(32-byte session key)
    labels = strict "<namespace>/<name>", namespace-wide "<namespace>", cluster-wide ""

Generate (writes the committed test data; needs only `cryptography`, pinned in
tests/requirements.txt):

    python3 tests/known-answer/make_sealed_vectors.py generate \
        > crates/coffer-crypto/tests/data/sealed_vectors.json

Reverse check (optional): have our crate seal values to the vectors' key and
let this script open them with `cryptography`:

    cargo run -q -p coffer-crypto --example seal_for_known_answer \
        crates/coffer-crypto/tests/data/sealed_vectors.json > /tmp/coffer-sealed.json
    python3 tests/known-answer/make_sealed_vectors.py verify /tmp/coffer-sealed.json

`verify` reads JSON of the same shape as `generate` writes (private key PEM and
cases with scope, namespace, name, plaintext and sealed base64), opens every
case with the label its scope implies, and exits non-zero on any mismatch.
"""

import base64
import datetime
import json
import os
import struct
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

ZERO_NONCE = bytes(12)


def label_for(scope, namespace, name):
    if scope == "strict":
        return f"{namespace}/{name}".encode()
    if scope == "namespace-wide":
        return namespace.encode()
    if scope == "cluster-wide":
        return b""
    raise ValueError(f"unknown scope {scope!r}")


def oaep(label):
    return padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA256()),
        algorithm=hashes.SHA256(),
        label=label or None,
    )


def seal(public_key, label, plaintext):
    session_key = os.urandom(32)
    rsa_block = public_key.encrypt(session_key, oaep(label))
    aes_block = AESGCM(session_key).encrypt(ZERO_NONCE, plaintext, None)
    return struct.pack(">H", len(rsa_block)) + rsa_block + aes_block


def unseal(private_key, label, sealed):
    (rsa_len,) = struct.unpack(">H", sealed[:2])
    rsa_block, aes_block = sealed[2 : 2 + rsa_len], sealed[2 + rsa_len :]
    session_key = private_key.decrypt(rsa_block, oaep(label))
    return AESGCM(session_key).decrypt(ZERO_NONCE, aes_block, None)


def self_signed(private_key):
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "known-answer")])
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        # Long enough that the committed vectors do not expire.
        .not_valid_after(now + datetime.timedelta(days=100 * 365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private_key, hashes.SHA256())
    )


def generate():
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_key = private_key.public_key()
    values = [
        ("db", "prod", "hunter2"),
        ("api-token", "team-a", ""),
        ("tls", "kube-system", "ünïcødé ✓ and \"quotes\"\nnew line"),
        ("big", "default", "x" * 5000),
    ]
    cases = []
    for scope in ("strict", "namespace-wide", "cluster-wide"):
        for name, namespace, plaintext in values:
            label = label_for(scope, namespace, name)
            sealed = seal(public_key, label, plaintext.encode())
            cases.append(
                {
                    "form": "value",
                    "scope": scope,
                    "namespace": namespace,
                    "name": name,
                    "plaintext": plaintext,
                    "sealed": base64.b64encode(sealed).decode(),
                }
            )
    # The deprecated whole-Secret form (spec.data): the Secret as JSON in one blob.
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "legacy", "namespace": "prod"},
        "data": {"password": base64.b64encode(b"hunter2").decode()},
    }
    secret_json = json.dumps(secret, separators=(",", ":"))
    cases.append(
        {
            "form": "whole-secret",
            "scope": "strict",
            "namespace": "prod",
            "name": "legacy",
            "plaintext": secret_json,
            "sealed": base64.b64encode(
                seal(public_key, label_for("strict", "prod", "legacy"), secret_json.encode())
            ).decode(),
        }
    )
    key_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # PKCS#1, as Bitnami's tls.key
        serialization.NoEncryption(),
    ).decode()
    cert_pem = self_signed(private_key).public_bytes(serialization.Encoding.PEM).decode()
    doc = {
        "generator": "tests/known-answer/make_sealed_vectors.py (python cryptography "
        + __import__("cryptography").__version__
        + ")",
        "private_key_pem": key_pem,
        "certificate_pem": cert_pem,
        "cases": cases,
    }
    json.dump(doc, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def verify(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    private_key = serialization.load_pem_private_key(doc["private_key_pem"].encode(), None)
    failures = 0
    for i, case in enumerate(doc["cases"]):
        label = label_for(case["scope"], case["namespace"], case["name"])
        try:
            opened = unseal(private_key, label, base64.b64decode(case["sealed"])).decode()
            ok = opened == case["plaintext"]
        except Exception as e:  # report every case, then fail
            ok, opened = False, f"<{type(e).__name__}>"
        if not ok:
            failures += 1
            print(f"case {i} ({case['scope']} {label!r}): FAILED", file=sys.stderr)
    print(f"{len(doc['cases']) - failures} passed, {failures} failed")
    return 1 if failures else 0


def main(argv):
    if len(argv) == 2 and argv[1] == "generate":
        generate()
        return 0
    if len(argv) == 3 and argv[1] == "verify":
        return verify(argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
