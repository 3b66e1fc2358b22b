//! The CLI's one table from error kinds to exit codes ([`exit_code`]), and
//! how a failed command finds its kind. Documented in `flotilla --help`
//! ([`HELP`]); keep the two in step.

use std::process::ExitCode;

use flotilla_artifacts::ArtifactError;
use flotilla_core::ErrorKind;
use flotilla_store::StoreError;

/// The exit codes, as `flotilla --help` lists them.
pub const HELP: &str = "Exit codes: 0 success; 1 failure (see the message); 2 invalid argument or value; \
3 not found; 4 conflicts with what is stored (already exists, wrong state); 5 not authenticated or permission denied; \
6 model cannot be served; 7 busy or stopped at its time budget (retry, or narrow the request).";

/// The exit code for each error kind.
pub fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Internal => 1,
        // clap's own code for a usage error.
        ErrorKind::InvalidParameter => 2,
        ErrorKind::NotFound => 3,
        ErrorKind::AlreadyExists | ErrorKind::InvalidState | ErrorKind::Conflict => 4,
        ErrorKind::Unauthenticated | ErrorKind::PermissionDenied => 5,
        ErrorKind::Unservable | ErrorKind::TooLarge => 6,
        ErrorKind::Busy | ErrorKind::Interrupted => 7,
    }
}

/// The kind an error answer of the server names by its MLflow `error_code`
/// (the inverse of `flotilla_http::error::mlflow_answer`). Codes several kinds
/// share (`INVALID_PARAMETER_VALUE`, `BAD_REQUEST`) read as an invalid
/// parameter; an unknown code as a plain failure.
pub fn kind_of_answer(error_code: &str) -> ErrorKind {
    match error_code {
        "INVALID_PARAMETER_VALUE" | "BAD_REQUEST" => ErrorKind::InvalidParameter,
        "RESOURCE_DOES_NOT_EXIST" | "ENDPOINT_NOT_FOUND" => ErrorKind::NotFound,
        "RESOURCE_ALREADY_EXISTS" => ErrorKind::AlreadyExists,
        "INVALID_STATE" => ErrorKind::InvalidState,
        "UNAUTHENTICATED" => ErrorKind::Unauthenticated,
        "PERMISSION_DENIED" => ErrorKind::PermissionDenied,
        "RESOURCE_EXHAUSTED" => ErrorKind::TooLarge,
        "TEMPORARILY_UNAVAILABLE" => ErrorKind::Busy,
        _ => ErrorKind::Internal,
    }
}

/// The kind of a failed command: that of the first store, artifact or core
/// error in its chain; anything else (a missing directory, a bad config file)
/// is a plain failure.
pub fn kind_of(error: &anyhow::Error) -> ErrorKind {
    error
        .chain()
        .find_map(|e| {
            if let Some(e) = e.downcast_ref::<StoreError>() {
                Some(e.kind())
            } else if let Some(e) = e.downcast_ref::<flotilla_core::Error>() {
                Some(e.kind)
            } else {
                e.downcast_ref::<ArtifactError>().map(ArtifactError::kind)
            }
        })
        .unwrap_or(ErrorKind::Internal)
}

/// Report a command's failure as `anyhow` does (`Error: ...` on stderr) and
/// exit with its kind's code.
pub fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:?}");
            ExitCode::from(exit_code(kind_of(&e)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_found_through_context() {
        let e = anyhow::Error::from(StoreError::Domain(flotilla_core::Error::not_found("no model 'm'")))
            .context("promoting m");
        assert_eq!(exit_code(kind_of(&e)), 3);
        let e = anyhow::Error::from(flotilla_core::Error::invalid("bad filter"));
        assert_eq!(exit_code(kind_of(&e)), 2);
        assert_eq!(exit_code(kind_of(&anyhow::anyhow!("no store at ./x"))), 1);
    }

    #[test]
    fn server_answers_map_back_to_their_kinds() {
        use flotilla_http::error::mlflow_answer;
        // Kinds with a code of their own come back as themselves.
        for kind in [
            ErrorKind::Internal,
            ErrorKind::InvalidParameter,
            ErrorKind::NotFound,
            ErrorKind::AlreadyExists,
            ErrorKind::InvalidState,
            ErrorKind::Unauthenticated,
            ErrorKind::PermissionDenied,
            ErrorKind::TooLarge,
            ErrorKind::Busy,
        ] {
            assert_eq!(kind_of_answer(mlflow_answer(kind).1), kind, "{kind:?}");
        }
        // Kinds that share MLflow's generic codes read as an invalid parameter.
        for kind in [ErrorKind::Conflict, ErrorKind::Unservable, ErrorKind::Interrupted] {
            assert_eq!(kind_of_answer(mlflow_answer(kind).1), ErrorKind::InvalidParameter, "{kind:?}");
        }
        assert_eq!(kind_of_answer("SOMETHING_NEW"), ErrorKind::Internal);
    }
}
