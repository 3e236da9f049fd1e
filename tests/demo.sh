#!/usr/bin/env bash
# The whole mission on the local environment, step by step, saying what each
# step does: seal a Secret and watch the controller unseal it; encrypt a
# manifest with `coffer sops` and decrypt it at apply time with `coffer
# render`; sync ExternalSecrets from OpenBao and from AWS Secrets Manager
# (moto) and watch them follow an upstream change; rotate the sealing key and
# `coffer reseal` a directory. Ends with a summary table (step, result,
# time); exit code 1 if any step failed.
#
#   tests/demo.sh ENV_FILE
#
# ENV_FILE holds the NAME=value lines `coffer-dev-env --env-file` writes;
# `COFFER` names the coffer binary and `KUBECTL` kubectl (tests/dev-env.sh
# sets both). Values here are demo values; they are shown on purpose.
set -uo pipefail

while IFS= read -r line; do export "${line?}"; done <"$1"
coffer=${COFFER:-coffer}
kubectl() { "${KUBECTL:-kubectl}" --kubeconfig "$KUBECONFIG" "$@"; }
bao() { "$COFFER_TOOLS_BIN/bao" "$@"; }
python() { "$COFFER_TOOLS_BIN/python3" "$@"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ns=demo

say() { printf '    %s\n' "$*"; }
# Runs a command, printing it first (what a user would type; on stderr, so
# it shows when the output is discarded).
show() { printf '    $ %s\n' "$*" >&2; "$@"; }
# Polls CMD until its output equals WANT (60 s).
until_equals() { # want cmd...
  local want=$1 got; shift
  for _ in $(seq 1 120); do
    got=$("$@" 2>/dev/null) && [ "$got" = "$want" ] && { say "-> $want"; return 0; }
    sleep 0.5
  done
  say "-> still '${got:-}' after 60 s, expected '$want'"
  return 1
}
secret_value() { # name key
  kubectl -n "$ns" get secret "$1" -o "jsonpath={.data.$2}" | base64 -d
}

names=() results=() times=()
step() { # title function
  local title=$1 start end result
  printf '\n==> %s\n' "$title"
  start=$(date +%s.%N)
  if "$2"; then result=ok; else result=FAILED; fi
  end=$(date +%s.%N)
  names+=("$title") results+=("$result") times+=("$(printf '%.1f s' "$(echo "$end - $start" | bc)")")
}

fetch_certificate() {
  say "The controller publishes its sealing certificate (as kubeseal --fetch-cert reads it)."
  show curl -fsS "$COFFER_CERT_URL" -o "$work/cert.pem" || return 1
  openssl x509 -in "$work/cert.pem" -noout -subject -enddate | sed 's/^/    /'
}

seal_and_unseal() {
  say "Seal a Secret with the certificate: only the controller can open it."
  kubectl create namespace "$ns" >/dev/null 2>&1 || true
  mkdir -p "$work/sealed"
  kubectl -n "$ns" create secret generic db --from-literal=password=s3cret \
    --dry-run=client -o yaml >"$work/db.yaml" || return 1
  show "$coffer" seal --cert "$work/cert.pem" -f "$work/db.yaml" -w "$work/sealed/db.yaml" -o yaml || return 1
  grep -A1 'encryptedData:' "$work/sealed/db.yaml" | sed 's/^/    /'
  show kubectl apply -f "$work/sealed/db.yaml" || return 1
  say "The controller unseals it into the Secret db:"
  until_equals s3cret secret_value db password
}

sops_render_apply() {
  say "Encrypt a Secret manifest with coffer sops (age), decrypt it at apply time with coffer render."
  age-keygen -o "$work/age.key" 2>/dev/null || return 1
  local recipient
  recipient=$(age-keygen -y "$work/age.key")
  cat >"$work/app.yaml" <<EOF
apiVersion: v1
kind: Secret
metadata:
  name: app
  namespace: $ns
stringData:
  api-key: from-sops
EOF
  show "$coffer" sops encrypt --age "$recipient" --encrypted-regex '^(data|stringData)$' \
    --output "$work/app.enc.yaml" "$work/app.yaml" || return 1
  grep 'api-key' "$work/app.enc.yaml" | sed 's/^/    /'
  printf '    $ %s\n' "$coffer render --age-identity age.key app.enc.yaml | kubectl apply -f -"
  "$coffer" render --age-identity "$work/age.key" "$work/app.enc.yaml" | kubectl apply -f - || return 1
  until_equals from-sops secret_value app api-key
}

openbao_external_secret() {
  say "An ExternalSecret reads OpenBao (KV v2) and follows an upstream change."
  show bao kv put -mount=secret demo/db password=v1 >/dev/null || return 1
  kubectl -n "$ns" create secret generic bao-token --from-literal=token="$BAO_TOKEN" \
    --dry-run=client -o yaml | kubectl apply -f - >/dev/null || return 1
  kubectl apply -f - <<EOF || return 1
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {name: openbao, namespace: $ns}
spec:
  provider:
    vault:
      server: "$BAO_ADDR"
      path: secret
      version: v2
      auth: {tokenSecretRef: {name: bao-token, key: token}}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: from-openbao, namespace: $ns}
spec:
  refreshInterval: 2s
  secretStoreRef: {name: openbao}
  target: {name: from-openbao}
  data:
  - secretKey: password
    remoteRef: {key: demo/db, property: password}
EOF
  until_equals v1 secret_value from-openbao password || return 1
  show bao kv put -mount=secret demo/db password=v2 >/dev/null || return 1
  say "Within the refresh interval (2 s):"
  until_equals v2 secret_value from-openbao password
}

aws_put() { # value: create or update the secret demo/api in moto
  python - "$1" <<'EOF'
import os, sys, boto3
# boto3 reads AWS_DEFAULT_REGION, not AWS_REGION (which the controller reads).
sm = boto3.client("secretsmanager", region_name=os.environ["AWS_REGION"])
try:
    sm.put_secret_value(SecretId="demo/api", SecretString=sys.argv[1])
except sm.exceptions.ResourceNotFoundException:
    sm.create_secret(Name="demo/api", SecretString=sys.argv[1])
EOF
}

moto_external_secret() {
  say "An ExternalSecret reads AWS Secrets Manager (moto) and follows an upstream change."
  printf '    $ %s\n' "aws secretsmanager create-secret --name demo/api --secret-string a1"
  aws_put a1 || return 1
  kubectl -n "$ns" create secret generic aws-creds --from-literal=access-key=testing \
    --from-literal=secret-access-key=testing --dry-run=client -o yaml | kubectl apply -f - >/dev/null || return 1
  kubectl apply -f - <<EOF || return 1
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {name: aws, namespace: $ns}
spec:
  provider:
    aws:
      service: SecretsManager
      region: $AWS_REGION
      auth:
        secretRef:
          accessKeyIDSecretRef: {name: aws-creds, key: access-key}
          secretAccessKeySecretRef: {name: aws-creds, key: secret-access-key}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: from-aws, namespace: $ns}
spec:
  refreshInterval: 2s
  secretStoreRef: {name: aws}
  target: {name: from-aws}
  data:
  - secretKey: api-key
    remoteRef: {key: demo/api}
EOF
  until_equals a1 secret_value from-aws api-key || return 1
  printf '    $ %s\n' "aws secretsmanager put-secret-value --secret-id demo/api --secret-string a2"
  aws_put a2 || return 1
  say "Within the refresh interval (2 s):"
  until_equals a2 secret_value from-aws api-key
}

rotate_and_reseal() {
  say "Rotate the sealing key: a new key Secret in the controller's namespace becomes the newest."
  show "$coffer" keygen --bits 2048 -n "$COFFER_CONTROLLER_NAMESPACE" --name sealed-secrets-key-demo \
    -w "$work/new-key.yaml" || return 1
  show kubectl apply -f "$work/new-key.yaml" || return 1
  local old new
  old=$(cat "$work/cert.pem")
  for _ in $(seq 1 120); do
    new=$(curl -fsS "$COFFER_CERT_URL") && [ "$new" != "$old" ] && break
    sleep 0.5
  done
  [ "$new" != "$old" ] || { say "the controller still serves the old certificate"; return 1; }
  printf '%s\n' "$new" >"$work/new-cert.pem"
  say "The controller now serves the new certificate. Re-encrypt every SealedSecret in a directory to it:"
  for i in $(seq 1 20); do
    kubectl -n "$ns" create secret generic "bulk-$i" --from-literal=n="$i" --dry-run=client -o yaml \
      | "$coffer" seal --cert "$work/cert.pem" -o yaml >"$work/sealed/bulk-$i.yaml" || return 1
  done
  kubectl -n "$COFFER_CONTROLLER_NAMESPACE" get secret \
    -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml >"$work/keys.yaml" || return 1
  show "$coffer" reseal "$work/sealed" --recovery-private-key "$work/keys.yaml" --cert "$work/new-cert.pem" || return 1
  say "Every file is now sealed to the new key alone:"
  show "$coffer" seal --validate --recovery-private-key "$work/new-key.yaml" -f "$work/sealed/db.yaml" || return 1
  show kubectl apply -f "$work/sealed" >/dev/null || return 1
  say "The controller unseals them with the new key:"
  until_equals s3cret secret_value db password && until_equals 20 secret_value bulk-20 n
}

printf 'Coffer, end to end, on the local environment (KUBECONFIG=%s)\n' "$KUBECONFIG"
step "fetch the sealing certificate" fetch_certificate
step "coffer seal, apply, Secret appears" seal_and_unseal
step "coffer sops encrypt, coffer render at apply time" sops_render_apply
step "ExternalSecret from OpenBao follows a change" openbao_external_secret
step "ExternalSecret from AWS (moto) follows a change" moto_external_secret
step "key rotation and coffer reseal of a directory" rotate_and_reseal

printf '\n%-52s %-7s %s\n' STEP RESULT TIME
failed=0
for i in "${!names[@]}"; do
  printf '%-52s %-7s %s\n' "${names[$i]}" "${results[$i]}" "${times[$i]}"
  [ "${results[$i]}" = ok ] || failed=1
done
exit $failed
