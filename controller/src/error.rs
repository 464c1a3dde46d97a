//! The controller's error type. The variant decides the metric `reason` label and
//! whether a retry can help.

use gitseal_core::unseal::UnsealError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the Secret or the SealedSecret failed.
    #[error("{0}")]
    Fetch(#[source] kube::Error),
    #[error("{0}")]
    Unseal(#[from] UnsealError),
    /// Writing the Secret failed.
    #[error("{0}")]
    Update(#[source] kube::Error),
    #[error("Resource \"{0}\" already exists and is not managed by SealedSecret")]
    Unmanaged(String),
    #[error(
        "Secret \"{0}\" is immutable and its content must change: delete it so that the controller can recreate it (field is immutable when `immutable` is set)"
    )]
    Immutable(String),
    #[error("writing status: {0}")]
    Status(#[source] kube::Error),
    #[error("no sealing keys are loaded yet")]
    NoKeys,
}

impl Error {
    /// Bitnami's `unseal_errors_total` reasons.
    pub fn metric_reason(&self) -> &'static str {
        match self {
            Error::Fetch(_) | Error::NoKeys => "fetch",
            Error::Unseal(_) => "unseal",
            Error::Update(_) | Error::Immutable(_) => "update",
            Error::Unmanaged(_) => "unmanaged",
            Error::Status(_) => "status",
        }
    }

    /// The event reason, as upstream.
    pub fn event_reason(&self) -> &'static str {
        match self {
            Error::Unseal(_) => "ErrUnsealFailed",
            _ => "ErrUpdateFailed",
        }
    }

    /// The event and condition message.
    pub fn message(&self) -> String {
        match self {
            Error::Unseal(e) => format!("Failed to unseal: {e}"),
            other => other.to_string(),
        }
    }

    /// Whether the failure is transient (API trouble), so retries should stay
    /// frequent. Everything is retried forever with exponential backoff, but
    /// undecryptable input, an unmanaged Secret and an immutable Secret back off
    /// much further: they need a change, and the watches trigger at once on one.
    pub fn transient(&self) -> bool {
        matches!(
            self,
            Error::Fetch(_) | Error::Update(_) | Error::Status(_) | Error::NoKeys
        )
    }
}
