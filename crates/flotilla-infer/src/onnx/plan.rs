//! A graph planned by tract once at load, with a symbolic batch dimension, and
//! run per request without re-planning.

use std::panic::{AssertUnwindSafe, catch_unwind};

use std::sync::Mutex;
use tract_onnx::pb::ModelProto;
use tract_onnx::prelude::{
    Arc, DatumType, Framework, InferenceFact, InferenceModelExt, IntoRunnable, IntoTValue, TDim, TValue, TVec, ToDim,
    TractResult, TypedFact, TypedModel, TypedSimplePlan, TypedSimpleState,
};
use tract_onnx::tract_hir::infer::{Factoid, GenericFactoid, ShapeFactoid};
use tract_onnx::tract_hir::internal::bail;

use super::convert;
use super::graph::Prepared;
use super::size;
use crate::{InferError, Model, Tensor, TensorSpec};

/// The name of the symbol every unnamed leading input dimension becomes.
const BATCH: &str = "N";

pub(crate) struct TractModel {
    plan: Arc<TypedSimplePlan>,
    /// The same graph planned for exactly one row: most requests carry one,
    /// and a plan without symbols skips shape resolution on every run.
    one_row: Option<Arc<TypedSimplePlan>>,
    /// Run states of `one_row`, reused across requests (spawning one costs
    /// more than running a linear model).
    states: Mutex<Vec<TypedSimpleState>>,
    inputs: Vec<TensorSpec>,
    outputs: Vec<TensorSpec>,
    size_bytes: usize,
}

impl TractModel {
    pub(crate) fn new(prepared: Prepared) -> Result<Self, InferError> {
        let Prepared { proto, inputs, outputs } = prepared;
        let plan = guarded("planning", || optimize(&proto, None)?.into_runnable())?
            .map_err(|e| InferError::Unsupported(format!("tract cannot plan this ONNX graph: {e:#}")))?;
        let one_row = guarded("planning", || optimize(&proto, Some(1))?.into_runnable()).ok().and_then(Result::ok);
        let model = plan.model();
        let input_facts = model.input_outlets().and_then(|o| o.iter().map(|o| model.outlet_fact(*o)).collect());
        let output_facts = model.output_outlets().and_then(|o| o.iter().map(|o| model.outlet_fact(*o)).collect());
        let (input_facts, output_facts): (Vec<&TypedFact>, Vec<&TypedFact>) =
            input_facts.and_then(|i| Ok((i, output_facts?))).map_err(|e| InferError::InvalidModel(format!("{e:#}")))?;
        let inputs = specs(&inputs, &input_facts, "input")?;
        let outputs = specs(&outputs, &output_facts, "output")?;
        let size_bytes = size::of_model(model) + one_row.as_ref().map_or(0, |p| size::of_model(p.model()));
        Ok(Self { plan, one_row, states: Mutex::new(Vec::new()), inputs, outputs, size_bytes })
    }
}

/// Parses the graph, pins every input's shape (unknown dimensions become
/// symbols: the first one `N`, the batch, unless `rows` fixes it) and
/// optimizes it for any value of them.
fn optimize(proto: &ModelProto, rows: Option<usize>) -> TractResult<TypedModel> {
    let mut model = tract_onnx::onnx().model_for_proto_model(proto)?;
    let batch = model.symbols.sym(BATCH);
    for ix in 0..model.input_outlets()?.len() {
        let fact = model.input_fact(ix)?.clone();
        let Some(dt) = fact.datum_type.concretize() else { bail!("graph input {ix} declares no element type") };
        if fact.shape.is_open() {
            bail!("graph input {ix} declares no shape")
        }
        let dims: TVec<GenericFactoid<TDim>> = fact
            .shape
            .dims()
            .enumerate()
            .map(|(axis, dim)| match dim {
                GenericFactoid::Only(d) => GenericFactoid::Only(d.clone()),
                GenericFactoid::Any if axis == 0 => {
                    GenericFactoid::Only(rows.map_or_else(|| batch.to_dim(), |n| n.to_dim()))
                }
                GenericFactoid::Any => GenericFactoid::Only(model.symbols.new_with_prefix("d").to_dim()),
            })
            .collect();
        model.set_input_fact(ix, InferenceFact::dt_shape(dt, ShapeFactoid::closed(dims)))?;
    }
    model.into_optimized()
}

fn specs(names: &[String], facts: &[&TypedFact], role: &str) -> Result<Vec<TensorSpec>, InferError> {
    if names.len() != facts.len() {
        return Err(InferError::InvalidModel(format!(
            "the ONNX graph declares {} {role}s but tract planned {}",
            names.len(),
            facts.len()
        )));
    }
    names
        .iter()
        .zip(facts)
        .map(|(name, fact)| {
            let Some(datatype) = convert::datatype(fact.datum_type) else {
                return Err(unsupported_type(role, name, fact.datum_type));
            };
            let shape = fact.shape.iter().map(|d| d.to_i64().unwrap_or(-1)).collect();
            Ok(TensorSpec::new(name.clone(), datatype, shape))
        })
        .collect()
}

impl TractModel {
    fn run_one_row(
        &self,
        plan: &Arc<TypedSimplePlan>,
        values: TVec<TValue>,
    ) -> Result<TractResult<TVec<TValue>>, InferError> {
        let pooled = self.states.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut state = match pooled {
            Some(state) => state,
            None => match plan.spawn() {
                Ok(state) => state,
                Err(e) => return Ok(Err(e)),
            },
        };
        let result = guarded("running", || state.run(values))?;
        let mut pool = self.states.lock().unwrap_or_else(|p| p.into_inner());
        if result.is_ok() && pool.len() < MAX_POOLED_STATES {
            pool.push(state);
        }
        Ok(result)
    }
}

/// Run states kept per model: enough for every worker thread at once.
const MAX_POOLED_STATES: usize = 8;

fn unsupported_type(role: &str, name: &str, dt: DatumType) -> InferError {
    InferError::Unsupported(format!("ONNX {role} '{name}' has element type {dt:?}, which flotilla does not carry"))
}

/// tract indexes and unwraps in places a malformed graph reaches: a panic
/// there becomes an error for this model, not a crash of the server.
fn guarded<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, InferError> {
    catch_unwind(AssertUnwindSafe(f))
        .map_err(|_| InferError::InvalidModel(format!("tract panicked while {what} this ONNX graph")))
}

impl Model for TractModel {
    fn inputs(&self) -> &[TensorSpec] {
        &self.inputs
    }

    fn outputs(&self) -> &[TensorSpec] {
        &self.outputs
    }

    fn predict(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>, InferError> {
        if inputs.len() != self.inputs.len() {
            return Err(InferError::BadInput(format!(
                "the model takes {} input(s), got {}",
                self.inputs.len(),
                inputs.len()
            )));
        }
        let values = inputs
            .iter()
            .zip(&self.inputs)
            .map(|(t, spec)| convert::to_tract(t, spec).map(IntoTValue::into_tvalue))
            .collect::<Result<TVec<_>, _>>()?;
        let outputs = match &self.one_row {
            Some(one) if inputs.iter().all(|t| t.shape.first() == Some(&1)) => self.run_one_row(one, values)?,
            Some(_) | None => guarded("running", || self.plan.run(values))?,
        }
        .map_err(|e| InferError::BadInput(format!("the ONNX model could not run on this input: {e:#}")))?;
        outputs.iter().zip(&self.outputs).map(|(value, spec)| convert::from_tract(&spec.name, value)).collect()
    }

    fn size_bytes(&self) -> usize {
        self.size_bytes
    }

    fn platform(&self) -> &'static str {
        "onnx"
    }
}
