//! The Open Inference Protocol (V2) over gRPC (`--grpc-port`): KServe's
//! `inference.GRPCInferenceService` with Triton's model-repository methods,
//! as `tritonclient.grpc` calls them (`proto/grpc_predict_v2.proto`, compiled
//! by `build.rs` without a system `protoc`).
//!
//! Thin, like the HTTP handlers: each method authenticates the caller from
//! the `authorization` metadata ([`access`]), checks the permission its V2
//! HTTP route needs, and calls the same serving functions (`Serving::infer`,
//! the repository index, the cache); tensors are read with the V2 codec's
//! raw reader and limits ([`tensors`]), telemetry is recorded as for HTTP.
//! A message is at most [`MAX_MESSAGE_BYTES`], the V2 body limit.

mod access;
mod service;
mod status;
mod tensors;

use std::future::Future;

use tokio::net::TcpListener;

pub(crate) use self::tensors::decode_inputs;

use crate::AppState;

/// The generated messages and service.
pub mod proto {
    #![allow(clippy::all, clippy::pedantic, missing_docs, unreachable_pub)]
    tonic::include_proto!("inference");
}

/// The largest message read or written: the V2 HTTP body limit.
pub const MAX_MESSAGE_BYTES: usize = crate::v2::BODY_LIMIT;

/// Serves gRPC V2 on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let service = proto::grpc_inference_service_server::GrpcInferenceServiceServer::new(service::V2Grpc::new(state))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder().add_service(service).serve_with_incoming_shutdown(incoming, shutdown).await
}
