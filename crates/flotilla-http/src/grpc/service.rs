//! The service's methods: each checks the caller, calls the function its V2
//! HTTP route calls, and maps the answer.

use std::time::Instant;

use flotilla_app::AppState;
use flotilla_app::auth::Permission;
use flotilla_core::ErrorKind;
use flotilla_infer::TensorSpec;
use flotilla_serving::{ModelRef, Serving};
use serde_json::Value;
use tonic::{Code, Request, Response, Status};

use super::access::{Need, check};
use super::proto::grpc_inference_service_server::GrpcInferenceService;
use super::proto::infer_parameter::ParameterChoice;
use super::proto::model_metadata_response::TensorMetadata;
use super::proto::repository_index_response::ModelIndex;
use super::proto::*;
use super::{status, tensors};
use crate::infer_telemetry::{Stages, record_failure, record_success};
use crate::v2::repository::{IndexRequest, index_page};

pub struct V2Grpc {
    state: AppState,
}

impl V2Grpc {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    fn serving(&self) -> Result<&Serving, Status> {
        self.state.serving.as_deref().ok_or_else(|| status::of(ErrorKind::NotFound, "model serving is not enabled"))
    }
}

/// The registered name a request's model names (`name@alias` allowed).
fn model_name(name: &str) -> Result<String, Status> {
    ModelRef::parse(name, None).map(|r| r.name).map_err(status::from_serving)
}

fn version(v: &str) -> Option<&str> {
    (!v.is_empty()).then_some(v)
}

fn specs(specs: &[TensorSpec]) -> Vec<TensorMetadata> {
    specs
        .iter()
        .map(|t| TensorMetadata { name: t.name.clone(), datatype: t.datatype.as_str().into(), shape: t.shape.clone() })
        .collect()
}

/// The HTTP status a gRPC failure stands for, for telemetry's error classes.
fn http_status(code: Code) -> u16 {
    match code {
        Code::InvalidArgument | Code::FailedPrecondition | Code::AlreadyExists | Code::OutOfRange => 400,
        Code::Unauthenticated => 401,
        Code::PermissionDenied => 403,
        Code::NotFound => 404,
        Code::ResourceExhausted => 413,
        Code::Unavailable => 503,
        Code::Ok
        | Code::Cancelled
        | Code::Unknown
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::Unimplemented
        | Code::Internal
        | Code::DataLoss => 500,
    }
}

#[tonic::async_trait]
impl GrpcInferenceService for V2Grpc {
    async fn server_live(&self, _: Request<ServerLiveRequest>) -> Result<Response<ServerLiveResponse>, Status> {
        Ok(Response::new(ServerLiveResponse { live: true }))
    }

    async fn server_ready(&self, _: Request<ServerReadyRequest>) -> Result<Response<ServerReadyResponse>, Status> {
        Ok(Response::new(ServerReadyResponse { ready: true }))
    }

    async fn model_ready(&self, request: Request<ModelReadyRequest>) -> Result<Response<ModelReadyResponse>, Status> {
        let r = request.get_ref();
        check(&self.state, request.metadata(), Need::Model(Permission::Read, &model_name(&r.name)?)).await?;
        let model_ref = ModelRef::parse(&r.name, version(&r.version)).map_err(status::from_serving)?;
        let ready = self.serving()?.model(&model_ref).await.is_ok();
        Ok(Response::new(ModelReadyResponse { ready }))
    }

    async fn server_metadata(
        &self,
        request: Request<ServerMetadataRequest>,
    ) -> Result<Response<ServerMetadataResponse>, Status> {
        check(&self.state, request.metadata(), Need::Authenticated).await?;
        Ok(Response::new(ServerMetadataResponse {
            name: "flotilla".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            extensions: crate::v2::EXTENSIONS.iter().map(|e| (*e).to_string()).collect(),
        }))
    }

    async fn model_metadata(
        &self,
        request: Request<ModelMetadataRequest>,
    ) -> Result<Response<ModelMetadataResponse>, Status> {
        let r = request.get_ref();
        check(&self.state, request.metadata(), Need::Model(Permission::Read, &model_name(&r.name)?)).await?;
        let model_ref = ModelRef::parse(&r.name, version(&r.version)).map_err(status::from_serving)?;
        let (resolved, loaded) = self.serving()?.model(&model_ref).await.map_err(status::from_serving)?;
        Ok(Response::new(ModelMetadataResponse {
            name: resolved.name,
            versions: vec![resolved.version.to_string()],
            platform: loaded.model.platform().into(),
            inputs: specs(&loaded.declared_inputs()),
            outputs: specs(loaded.model.outputs()),
        }))
    }

    async fn model_infer(&self, request: Request<ModelInferRequest>) -> Result<Response<ModelInferResponse>, Status> {
        let started = Instant::now();
        let name = model_name(&request.get_ref().model_name)?;
        let caller = check(&self.state, request.metadata(), Need::Model(Permission::Use, &name)).await?;
        let request = request.into_inner();
        match self.infer(&request, caller.as_ref(), started).await {
            Ok(answer) => Ok(Response::new(answer)),
            Err(e) => {
                let model = &request.model_name;
                record_failure(&self.state, model, version(&request.model_version), started, http_status(e.code()))
                    .await;
                Err(e)
            }
        }
    }

    async fn repository_index(
        &self,
        request: Request<RepositoryIndexRequest>,
    ) -> Result<Response<RepositoryIndexResponse>, Status> {
        check(&self.state, request.metadata(), Need::Admin).await?;
        let ready = request.get_ref().ready.then_some(true);
        let (entries, _) = index_page(&self.state, IndexRequest { ready, ..IndexRequest::default() })
            .await
            .map_err(status::from_v2)?;
        let models = entries
            .into_iter()
            .map(|e| ModelIndex { name: e.name, version: e.version, state: e.state.into(), reason: e.reason.into() })
            .collect();
        Ok(Response::new(RepositoryIndexResponse { models }))
    }

    async fn repository_model_load(
        &self,
        request: Request<RepositoryModelLoadRequest>,
    ) -> Result<Response<RepositoryModelLoadResponse>, Status> {
        check(&self.state, request.metadata(), Need::Admin).await?;
        let model_ref = ModelRef::parse(&request.get_ref().model_name, None).map_err(status::from_serving)?;
        self.serving()?.model(&model_ref).await.map_err(status::from_serving)?;
        Ok(Response::new(RepositoryModelLoadResponse {}))
    }

    async fn repository_model_unload(
        &self,
        request: Request<RepositoryModelUnloadRequest>,
    ) -> Result<Response<RepositoryModelUnloadResponse>, Status> {
        check(&self.state, request.metadata(), Need::Admin).await?;
        let name = model_name(&request.get_ref().model_name)?;
        self.serving()?.cache.unload(&name, None);
        Ok(Response::new(RepositoryModelUnloadResponse {}))
    }
}

impl V2Grpc {
    /// Decodes, runs through `Serving::infer` (a family's partition chosen by
    /// the `partition` parameter, as over HTTP), records and encodes.
    async fn infer(
        &self,
        request: &ModelInferRequest,
        caller: Option<&flotilla_app::auth::Caller>,
        started: Instant,
    ) -> Result<ModelInferResponse, Status> {
        let inputs = tensors::decode_inputs(request).map_err(status::from_v2)?;
        let decoded = Instant::now();
        let mut model_ref =
            ModelRef::parse(&request.model_name, version(&request.model_version)).map_err(status::from_serving)?;
        if let Some(ParameterChoice::StringParam(partition)) =
            request.parameters.get(crate::v2::PARTITION_PARAMETER).and_then(|p| p.parameter_choice.as_ref())
        {
            let path = crate::v2::partition_path(&Value::String(partition.clone())).map_err(status::from_v2)?;
            model_ref = model_ref.partitioned(path).map_err(status::from_serving)?;
            crate::v2::may_use_partition(&self.state, caller, &model_ref).await.map_err(status::from_v2)?;
        }
        let wanted: Vec<String> = request.outputs.iter().map(|o| o.name.clone()).collect();
        let inference = self.serving()?.infer(&model_ref, inputs, &wanted).await.map_err(status::from_serving)?;
        let inferred = Instant::now();
        let (outputs, raw_output_contents) = tensors::encode_outputs(&inference.outputs);
        let answered: Vec<&flotilla_infer::Tensor> = inference.outputs.iter().collect();
        record_success(&self.state, &inference, &answered, Stages { started, decoded, inferred });
        Ok(ModelInferResponse {
            model_name: inference.resolved.name.clone(),
            model_version: inference.resolved.version.to_string(),
            id: request.id.clone(),
            parameters: Default::default(),
            outputs,
            raw_output_contents,
        })
    }
}
