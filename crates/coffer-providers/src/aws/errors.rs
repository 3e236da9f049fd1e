//! What went wrong with an AWS call, in the terms the client acts on.
//!
//! We look only at the service's error code, its message and the HTTP
//! status, never at the request (which for Secrets Manager reads carries no
//! value, but for writes would) nor at a response body we could not parse
//! (which could hold a value): so no value can reach an error message.

use std::error::Error as StdError;

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};

use crate::Error;

/// The service's error codes that mean "slow down".
const THROTTLING: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "PriorRequestNotComplete",
];

/// Codes that mean the credentials were refused or do not allow the call.
const DENIED: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "ExpiredTokenException",
    "ExpiredToken",
    "RequestExpired",
    // The caller may not use the secret's KMS key.
    "DecryptionFailure",
    // AssumeRoleWithWebIdentity refused the service-account token.
    "InvalidIdentityToken",
    "IDPRejectedClaim",
];

/// Codes that mean the endpoint does not know the operation (an old
/// Secrets Manager-compatible server without `BatchGetSecretValue`).
const UNSUPPORTED: &[&str] = &[
    "UnknownOperationException",
    "InvalidAction",
    "UnsupportedOperation",
    "NotImplemented",
];

/// Longest service message we quote.
const MAX_MESSAGE: usize = 300;

/// A classified failure; the client adds the store and key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Failure {
    /// The secret or version does not exist (or is scheduled for deletion).
    #[error("not found")]
    NotFound,
    /// The service throttled the call.
    #[error("throttled: {0}")]
    Throttled(String),
    /// Credentials refused or not allowed.
    #[error("{reason}")]
    Denied {
        /// The service's code (`AccessDeniedException`), empty if none.
        code: String,
        /// Code and message.
        reason: String,
    },
    /// Network, timeout or server failure.
    #[error("{0}")]
    Unavailable(String),
    /// The endpoint does not implement the operation.
    #[error("{0}")]
    Unsupported(String),
    /// The service refused the request as written.
    #[error("{0}")]
    Invalid(String),
    /// A provider error already made (a token that could not be obtained).
    #[error("{0}")]
    Resolved(Error),
}

/// Classifies an SDK error of any Secrets Manager or STS operation.
pub(crate) fn classify<E>(err: &SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    // Our credential providers (AssumeRole chains, web identity) fail with a
    // classified Failure inside the SDK's CredentialsError.
    if let Some(failure) = find_source::<Failure>(err) {
        return failure.clone();
    }
    if let Some(credentials) = find_source::<CredentialsError>(err) {
        return credentials_failure(credentials);
    }
    match err {
        SdkError::ServiceError(context) => service_failure(
            context.err().code(),
            context.err().message(),
            context.raw().status().as_u16(),
        ),
        SdkError::TimeoutError(_) => Failure::Unavailable("request timed out".into()),
        SdkError::DispatchFailure(dispatch) => {
            let what = if dispatch.is_timeout() {
                "connection timed out"
            } else if dispatch.is_io() {
                "connection failed"
            } else {
                "request could not be sent"
            };
            Failure::Unavailable(format!("{what}{}", source_text(err)))
        }
        // The body could not be parsed; it may hold a value, so we quote
        // nothing of it.
        SdkError::ResponseError(response) => Failure::Unavailable(format!(
            "unreadable response (HTTP {})",
            response.raw().status().as_u16()
        )),
        SdkError::ConstructionFailure(_) => {
            Failure::Invalid(format!("request could not be built{}", source_text(err)))
        }
        _ => Failure::Unavailable("unexpected SDK error".into()),
    }
}

/// Classifies a service error by its code, message and HTTP status.
pub(crate) fn service_failure(code: Option<&str>, message: Option<&str>, status: u16) -> Failure {
    let code = code.unwrap_or_default();
    let message = clean(message.unwrap_or_default());
    let reason = match (code.is_empty(), message.is_empty()) {
        (false, false) => format!("{code}: {message}"),
        (false, true) => code.to_owned(),
        (true, false) => format!("HTTP {status}: {message}"),
        (true, true) => format!("HTTP {status}"),
    };
    let marked_for_deletion = message.contains("marked for deletion");
    match code {
        // Secrets Manager; Parameter Store.
        "ResourceNotFoundException" | "ParameterNotFound" | "ParameterVersionNotFound" => {
            Failure::NotFound
        }
        // Matches ESO: reading a secret scheduled for deletion is "not found".
        "InvalidRequestException" | "InvalidParameterException" if marked_for_deletion => {
            Failure::NotFound
        }
        c if THROTTLING.contains(&c) || status == 429 => Failure::Throttled(reason),
        c if DENIED.contains(&c) => Failure::Denied {
            code: c.to_owned(),
            reason,
        },
        c if UNSUPPORTED.contains(&c) => Failure::Unsupported(reason),
        _ if status >= 500 => Failure::Unavailable(reason),
        _ if status == 401 || status == 403 => Failure::Denied {
            code: code.to_owned(),
            reason,
        },
        "" if status == 404 || status == 501 => Failure::Unsupported(reason),
        _ => Failure::Invalid(reason),
    }
}

fn credentials_failure(err: &CredentialsError) -> Failure {
    match err {
        CredentialsError::CredentialsNotLoaded(_) => Failure::Denied {
            code: String::new(),
            reason: format!("no credentials found{}", source_text(err)),
        },
        CredentialsError::ProviderTimedOut(_) => {
            Failure::Unavailable("credentials provider timed out".into())
        }
        _ => Failure::Denied {
            code: String::new(),
            reason: format!("credentials could not be loaded{}", source_text(err)),
        },
    }
}

fn find_source<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// `": cause: cause"` from the error's sources (connection and credential
/// chain errors: no request or response content).
fn source_text(err: &(dyn StdError + 'static)) -> String {
    let mut text = String::new();
    let mut next = err.source();
    while let Some(e) = next {
        text.push_str(": ");
        text.push_str(&clean(&e.to_string()));
        next = e.source();
    }
    text
}

/// A service message, one line and bounded.
fn clean(message: &str) -> String {
    let one_line: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match one_line.char_indices().nth(MAX_MESSAGE) {
        Some((cut, _)) => format!("{}...", &one_line[..cut]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_codes_map_to_what_the_controller_acts_on() {
        let f = |code: &str, status| service_failure(Some(code), Some("msg"), status);
        assert_eq!(f("ResourceNotFoundException", 400), Failure::NotFound);
        assert!(matches!(
            f("ThrottlingException", 400),
            Failure::Throttled(_)
        ));
        assert!(matches!(f("Anything", 429), Failure::Throttled(_)));
        assert!(matches!(
            f("AccessDeniedException", 400),
            Failure::Denied { .. }
        ));
        assert!(matches!(
            f("UnrecognizedClientException", 400),
            Failure::Denied { .. }
        ));
        assert!(matches!(
            f("InternalServiceError", 500),
            Failure::Unavailable(_)
        ));
        assert!(matches!(
            f("UnknownOperationException", 400),
            Failure::Unsupported(_)
        ));
        assert!(matches!(
            f("InvalidParameterException", 400),
            Failure::Invalid(_)
        ));
    }

    #[test]
    fn a_secret_marked_for_deletion_is_not_found_as_in_eso() {
        let failure = service_failure(
            Some("InvalidRequestException"),
            Some(
                "You can't perform this operation on the secret because it was marked for deletion.",
            ),
            400,
        );
        assert_eq!(failure, Failure::NotFound);
    }

    #[test]
    fn reasons_quote_code_and_message_on_one_bounded_line() {
        let long = format!("line one\nline two {}", "x".repeat(1000));
        let Failure::Invalid(reason) = service_failure(Some("Bad"), Some(&long), 400) else {
            panic!("not invalid");
        };
        assert!(reason.starts_with("Bad: line one line two"));
        assert!(!reason.contains('\n'));
        assert!(reason.len() < MAX_MESSAGE + 20);
    }
}
