//! Which Vault login a store asks for and which references it needs,
//! decided from the store's spec alone (ESO's precedence: `tokenSecretRef`,
//! `appRole`, `kubernetes`, `userPass`, `jwt`, `cert`);
//! [`super::credentials`] reads them.
//! Errors are the reasons given in the store's `Ready` condition.

use coffer_api::external::{SecretKeySelector, ServiceAccountSelector, VaultProvider};

use super::vault_tls::{self, CertificateRefs};

/// The audience ESO requests for Vault JWT auth's service-account tokens
/// when `kubernetesServiceAccountToken.audiences` is not set.
const VAULT_JWT_DEFAULT_AUDIENCE: &str = "vault";

/// A Vault login, with the references it reads.
#[derive(Debug, PartialEq)]
pub(super) enum Login<'a> {
    /// `auth.tokenSecretRef`.
    Token(&'a SecretKeySelector),
    /// `auth.appRole`.
    AppRole {
        path: &'a str,
        role_id: RoleId<'a>,
        secret_ref: &'a SecretKeySelector,
    },
    /// `auth.kubernetes`.
    Kubernetes {
        mount_path: &'a str,
        role: &'a str,
        token: Jwt<'a>,
    },
    /// `auth.jwt`.
    Jwt {
        path: &'a str,
        role: &'a str,
        token: Jwt<'a>,
    },
    /// `auth.userPass`.
    UserPass {
        path: &'a str,
        username: &'a str,
        password: &'a SecretKeySelector,
    },
    /// `auth.cert`; `certificate` is `None` when the store's `tls`
    /// certificate is the credential.
    Cert {
        path: &'a str,
        role: Option<&'a str>,
        certificate: Option<CertificateRefs<'a>>,
    },
}

/// An AppRole's role ID: given in the store, or read from a Secret.
#[derive(Debug, PartialEq)]
pub(super) enum RoleId<'a> {
    Given(&'a str),
    Ref(&'a SecretKeySelector),
}

/// Where a login's JWT comes from.
#[derive(Debug, PartialEq)]
pub(super) enum Jwt<'a> {
    /// A token requested for this service account, with its audiences,
    /// living `expiration_seconds` (JWT auth's; `None`: 600 s).
    ServiceAccount {
        account: ServiceAccountSelector,
        expiration_seconds: Option<i64>,
    },
    /// The controller's own service-account token (Kubernetes auth with
    /// neither `serviceAccountRef` nor `secretRef`, as ESO).
    Own,
    /// A token stored in a Secret.
    Secret {
        /// The store field, for errors and the token's identity.
        field: &'static str,
        sel: &'a SecretKeySelector,
        /// The key read when the selector names none.
        default_key: Option<&'static str>,
    },
}

/// The login `vault` asks for.
pub(super) fn login(vault: &VaultProvider) -> Result<Login<'_>, String> {
    let auth = vault.auth.as_ref().ok_or("vault: auth is required")?;
    if let Some(method) = auth.unsupported_method() {
        return Err(format!(
            "vault auth method {method:?} is not supported by Coffer (supported: tokenSecretRef, appRole, kubernetes, userPass, jwt, cert)"
        ));
    }
    if let Some(sel) = &auth.token_secret_ref {
        return Ok(Login::Token(sel));
    }
    if let Some(approle) = &auth.app_role {
        let role_id = match (&approle.role_id, &approle.role_ref) {
            (Some(id), _) => RoleId::Given(id),
            (None, Some(sel)) => RoleId::Ref(sel),
            (None, None) => return Err("auth.appRole: roleId or roleRef is required".to_owned()),
        };
        return Ok(Login::AppRole {
            path: &approle.path,
            role_id,
            secret_ref: &approle.secret_ref,
        });
    }
    if let Some(k8s) = &auth.kubernetes {
        let token = match (&k8s.service_account_ref, &k8s.secret_ref) {
            (Some(sa), _) => Jwt::ServiceAccount {
                account: sa.clone(),
                expiration_seconds: None,
            },
            (None, Some(sel)) => Jwt::Secret {
                field: "auth.kubernetes.secretRef",
                sel,
                default_key: Some("token"),
            },
            (None, None) => Jwt::Own,
        };
        return Ok(Login::Kubernetes {
            mount_path: &k8s.mount_path,
            role: &k8s.role,
            token,
        });
    }
    if let Some(userpass) = &auth.user_pass {
        // Matches ESO, which trims the username.
        let username = userpass.username.trim();
        if username.is_empty() {
            return Err("auth.userPass.username is required".to_owned());
        }
        if username.contains('/') {
            return Err("auth.userPass.username must not contain '/'".to_owned());
        }
        let password = userpass
            .secret_ref
            .as_ref()
            .ok_or("auth.userPass.secretRef is required")?;
        return Ok(Login::UserPass {
            path: &userpass.path,
            username,
            password,
        });
    }
    if let Some(jwt) = &auth.jwt {
        let token = match (&jwt.secret_ref, &jwt.kubernetes_service_account_token) {
            (Some(sel), _) => Jwt::Secret {
                field: "auth.jwt.secretRef",
                sel,
                default_key: None,
            },
            (None, Some(sat)) => {
                // Matches ESO: `serviceAccountRef.audiences` followed by
                // `audiences`, which defaults to `vault`.
                let mut sa = sat.service_account_ref.clone();
                let more = match &sat.audiences {
                    Some(audiences) => audiences.clone(),
                    None => vec![VAULT_JWT_DEFAULT_AUDIENCE.to_owned()],
                };
                for audience in more {
                    if !sa.audiences.contains(&audience) {
                        sa.audiences.push(audience);
                    }
                }
                Jwt::ServiceAccount {
                    account: sa,
                    expiration_seconds: sat.expiration_seconds,
                }
            }
            (None, None) => {
                return Err(
                    "auth.jwt: secretRef or kubernetesServiceAccountToken is required".to_owned(),
                );
            }
        };
        return Ok(Login::Jwt {
            path: &jwt.path,
            role: jwt.role.as_deref().unwrap_or_default(),
            token,
        });
    }
    if let Some(cert) = &auth.cert {
        let certificate = vault_tls::cert_auth(cert)?;
        if certificate.is_none() && vault_tls::client_tls(vault)?.is_none() {
            return Err(
                "auth.cert: clientCert and secretRef, or tls.certSecretRef and tls.keySecretRef, are required"
                    .to_owned(),
            );
        }
        return Ok(Login::Cert {
            path: &cert.path,
            role: cert.vault_role.as_deref().filter(|r| !r.is_empty()),
            certificate,
        });
    }
    Err("vault: no auth method is configured".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(auth: serde_json::Value) -> VaultProvider {
        serde_json::from_value(serde_json::json!({"server": "https://vault:8200", "auth": auth}))
            .unwrap()
    }

    fn sel(name: &str) -> SecretKeySelector {
        serde_json::from_value(serde_json::json!({"name": name, "key": "k"})).unwrap()
    }

    fn sa(name: &str, audiences: &[&str]) -> ServiceAccountSelector {
        serde_json::from_value(serde_json::json!({"name": name, "audiences": audiences})).unwrap()
    }

    #[test]
    fn each_auth_method_reads_what_eso_reads() {
        let token = serde_json::json!({"tokenSecretRef": {"name": "t", "key": "k"}});
        let approle_id = serde_json::json!({"appRole": {"path": "approle", "roleId": "r-1", "secretRef": {"name": "s", "key": "k"}}});
        let approle_ref = serde_json::json!({"appRole": {"path": "approle", "roleRef": {"name": "r", "key": "k"}, "secretRef": {"name": "s", "key": "k"}}});
        let k8s_sa = serde_json::json!({"kubernetes": {"mountPath": "kubernetes", "role": "app", "serviceAccountRef": {"name": "app"}}});
        let k8s_secret = serde_json::json!({"kubernetes": {"mountPath": "kubernetes", "role": "app", "secretRef": {"name": "t", "key": "k"}}});
        let jwt_secret = serde_json::json!({"jwt": {"path": "jwt", "role": "app", "secretRef": {"name": "t", "key": "k"}}});
        let jwt_sa = serde_json::json!({"jwt": {"path": "jwt", "kubernetesServiceAccountToken": {"serviceAccountRef": {"name": "app", "audiences": ["a"]}}}});
        let jwt_sa_aud = serde_json::json!({"jwt": {"path": "jwt", "kubernetesServiceAccountToken": {"serviceAccountRef": {"name": "app", "audiences": ["a"]}, "audiences": ["a", "b"], "expirationSeconds": 3600}}});
        let userpass = serde_json::json!({"userPass": {"username": " app ", "secretRef": {"name": "s", "key": "k"}}});
        let cert_own = serde_json::json!({"cert": {"vaultRole": "web", "clientCert": {"name": "c", "key": "k"}, "secretRef": {"name": "k", "key": "k"}}});
        let k8s_own = serde_json::json!({"kubernetes": {"mountPath": "kubernetes", "role": "app"}});
        let (t, r, s, c, k) = (sel("t"), sel("r"), sel("s"), sel("c"), sel("k"));
        #[rustfmt::skip]
        let cases: Vec<(serde_json::Value, Login<'_>)> = vec![
            (token, Login::Token(&t)),
            (approle_id, Login::AppRole { path: "approle", role_id: RoleId::Given("r-1"), secret_ref: &s }),
            (approle_ref, Login::AppRole { path: "approle", role_id: RoleId::Ref(&r), secret_ref: &s }),
            (k8s_sa, Login::Kubernetes { mount_path: "kubernetes", role: "app", token: Jwt::ServiceAccount { account: sa("app", &[]), expiration_seconds: None } }),
            (k8s_secret, Login::Kubernetes { mount_path: "kubernetes", role: "app", token: Jwt::Secret { field: "auth.kubernetes.secretRef", sel: &t, default_key: Some("token") } }),
            (jwt_secret, Login::Jwt { path: "jwt", role: "app", token: Jwt::Secret { field: "auth.jwt.secretRef", sel: &t, default_key: None } }),
            (jwt_sa, Login::Jwt { path: "jwt", role: "", token: Jwt::ServiceAccount { account: sa("app", &["a", "vault"]), expiration_seconds: None } }),
            (jwt_sa_aud, Login::Jwt { path: "jwt", role: "", token: Jwt::ServiceAccount { account: sa("app", &["a", "b"]), expiration_seconds: Some(3600) } }),
            (k8s_own, Login::Kubernetes { mount_path: "kubernetes", role: "app", token: Jwt::Own }),
            (userpass, Login::UserPass { path: "userpass", username: "app", password: &s }),
            (cert_own, Login::Cert { path: "cert", role: Some("web"), certificate: Some(CertificateRefs { cert_field: "auth.cert.clientCert", cert: &c, key_field: "auth.cert.secretRef", key: &k }) }),
        ];
        for (auth, expect) in cases {
            let store = vault(auth.clone());
            assert_eq!(login(&store), Ok(expect), "{auth}");
        }
    }

    #[test]
    fn an_incomplete_or_unsupported_auth_is_refused_naming_the_field() {
        #[rustfmt::skip]
        let cases = [
            (serde_json::json!(null), "vault: auth is required"),
            (serde_json::json!({}), "vault: no auth method is configured"),
            (serde_json::json!({"ldap": {}}), "vault auth method \"ldap\" is not supported"),
            (serde_json::json!({"iam": {}, "tokenSecretRef": {"name": "t"}}), "vault auth method \"iam\""),
            (serde_json::json!({"userPass": {"username": " "}}), "auth.userPass.username is required"),
            (serde_json::json!({"userPass": {"username": "a/b", "secretRef": {"name": "s"}}}), "auth.userPass.username must not contain '/'"),
            (serde_json::json!({"userPass": {"username": "app"}}), "auth.userPass.secretRef is required"),
            (serde_json::json!({"cert": {}}), "auth.cert: clientCert and secretRef, or tls.certSecretRef and tls.keySecretRef, are required"),
            (serde_json::json!({"cert": {"clientCert": {"name": "c"}}}), "auth.cert.clientCert is set without auth.cert.secretRef"),
            (serde_json::json!({"appRole": {"path": "a", "secretRef": {"name": "s"}}}), "auth.appRole: roleId or roleRef is required"),
            (serde_json::json!({"jwt": {"path": "j"}}), "auth.jwt: secretRef or kubernetesServiceAccountToken is required"),
        ];
        for (auth, reason) in cases {
            let store = vault(auth.clone());
            let err = login(&store).unwrap_err();
            assert!(err.starts_with(reason), "{auth}: {err}");
        }
    }

    #[test]
    fn cert_auth_without_its_own_certificate_uses_the_store_tls() {
        let mut store = vault(serde_json::json!({"cert": {"path": "tls-auth"}}));
        store.client_tls = serde_json::from_value(serde_json::json!({
            "certSecretRef": {"name": "c"}, "keySecretRef": {"name": "k"}
        }))
        .unwrap();
        assert_eq!(
            login(&store),
            Ok(Login::Cert {
                path: "tls-auth",
                role: None,
                certificate: None
            })
        );
    }
}
