//! gRPC's answer for each error kind ([`grpc_code`]), the one table for this
//! protocol, and the conversions of the errors the shared functions return.

use flotilla_core::ErrorKind;
use flotilla_serving::ServingError;
use tonic::{Code, Status};

use crate::v2::error::V2Error;

/// The gRPC status code for each kind (a client mistake is never INTERNAL).
pub fn grpc_code(kind: ErrorKind) -> Code {
    match kind {
        ErrorKind::InvalidParameter | ErrorKind::Unservable | ErrorKind::InvalidState => Code::InvalidArgument,
        ErrorKind::NotFound => Code::NotFound,
        ErrorKind::AlreadyExists => Code::AlreadyExists,
        ErrorKind::Conflict => Code::FailedPrecondition,
        ErrorKind::Unauthenticated => Code::Unauthenticated,
        ErrorKind::PermissionDenied => Code::PermissionDenied,
        ErrorKind::TooLarge => Code::ResourceExhausted,
        ErrorKind::Busy => Code::Unavailable,
        ErrorKind::Interrupted => Code::DeadlineExceeded,
        ErrorKind::Internal => Code::Internal,
    }
}

pub fn of(kind: ErrorKind, message: impl Into<String>) -> Status {
    Status::new(grpc_code(kind), message)
}

pub fn from_serving(e: ServingError) -> Status {
    let kind = e.kind();
    if kind == ErrorKind::Internal {
        tracing::error!(error = %e, "serving failure");
        return of(kind, "internal error; see the server log");
    }
    of(kind, e.to_string())
}

pub fn from_core(e: flotilla_core::Error) -> Status {
    if e.kind == ErrorKind::Internal {
        tracing::error!(error = %e.message, "internal error");
        return of(e.kind, flotilla_app::error::INTERNAL_MESSAGE);
    }
    of(e.kind, e.message)
}

/// A V2 answer (the shared decoders' and the repository's) by its status.
pub fn from_v2(e: V2Error) -> Status {
    let code = match e.status.as_u16() {
        400 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        413 | 507 => Code::ResourceExhausted,
        503 => Code::Unavailable,
        _ => Code::Internal,
    };
    Status::new(code, e.message)
}
