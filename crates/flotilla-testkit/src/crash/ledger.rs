//! What the crash trials' writers were told was stored (acknowledged writes) and what they
//! had sent when the server died (in flight: stored entirely or not at all), and the writers.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hyper::Method;
use serde_json::json;

use crate::client::Client;

pub(super) const API: &str = "/api/2.0/mlflow";
pub(super) const ARTIFACTS: &str = "/api/2.0/mlflow-artifacts/artifacts";
pub(super) const ALIAS: &str = "champion";
/// Metric keys per log-batch, and steps per key: 100 points a batch.
const KEYS: i64 = 5;
const STEPS: i64 = 20;

/// One metric point: run, key, step, value.
pub(super) type Point = (String, String, i64, f64);

/// An artifact, regenerated from its seed to compare bytes.
#[derive(Debug, Clone)]
pub(super) struct Artifact {
    pub path: String,
    pub seed: u64,
    pub len: usize,
}

impl Artifact {
    pub fn bytes(&self) -> Vec<u8> {
        let mut state = self.seed;
        let mut out = Vec::with_capacity(self.len + 8);
        while out.len() < self.len {
            out.extend_from_slice(&splitmix(&mut state).to_le_bytes());
        }
        out.truncate(self.len);
        out
    }
}

/// The alias of one writer's model: the last acknowledged target and one sent since.
#[derive(Debug, Clone, Default)]
pub(super) struct AliasState {
    pub acked: Option<u64>,
    pub pending: Option<u64>,
}

/// Every acknowledged write of every trial so far, and what was in flight at each kill.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    pub runs: Vec<String>,
    /// (run, key) → step → value.
    pub metrics: BTreeMap<(String, String), BTreeMap<i64, f64>>,
    pub batches: usize,
    /// Batches sent but unanswered at a kill: each stored whole or not at all.
    pub pending_batches: Vec<Vec<Point>>,
    pub versions: BTreeMap<String, BTreeSet<u64>>,
    pub aliases: BTreeMap<String, AliasState>,
    pub alias_moves: usize,
    pub artifacts: Vec<Artifact>,
    /// `artifacts[..checked]` were read back after an earlier restart (all are again after the
    /// last one): reading every artifact after every kill grows with the square of the trials.
    pub checked_artifacts: usize,
    pub artifact_bytes: u64,
    pub pending_artifacts: Vec<Artifact>,
    /// Answers that were neither a 2xx nor a dead connection: a defect whatever the timing.
    pub bad_answers: Vec<String>,
}

impl Ledger {
    pub fn metric_points(&self) -> usize {
        self.metrics.values().map(BTreeMap::len).sum()
    }
}

/// splitmix64: the trials' only source of randomness, from the plan's seed.
pub(super) fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The model writer `w` creates versions of and moves the alias on.
pub(super) fn model_of(w: usize) -> String {
    format!("crash-w{w:02}")
}

/// What a writer needs to know of its trial.
pub(super) struct Writer {
    pub addr: SocketAddr,
    pub experiment: String,
    pub trial: usize,
    pub index: usize,
    pub seed: u64,
    pub ledger: Arc<Mutex<Ledger>>,
}

enum Outcome {
    Acked,
    /// The connection died (the kill): the write's fate is unknown, and the writer stops.
    Dead,
}

impl Writer {
    fn check(&self, what: &str, answer: Result<crate::client::Answer, String>) -> Result<Outcome, ()> {
        match answer {
            Ok(a) if a.ok() => Ok(Outcome::Acked),
            Ok(a) => {
                let text = format!("trial {} writer {}: {what}: {} {}", self.trial, self.index, a.status, a.text());
                self.ledger.lock().expect("ledger").bad_answers.push(text);
                Err(())
            }
            Err(_) => Ok(Outcome::Dead),
        }
    }

    /// Writes until the server dies: log-batch, version create, alias move, artifact upload,
    /// one after the other.
    pub async fn run(self) {
        let mut c = Client::new(self.addr, None);
        let mut rng = self.seed;
        let body = json!({ "experiment_id": self.experiment, "run_name": format!("t{}-w{}", self.trial, self.index) });
        let Ok(answer) = c.post(&format!("{API}/runs/create"), &body).await else { return };
        let run = answer.json()["run"]["info"]["run_id"].as_str().map(str::to_owned);
        let (Ok(Outcome::Acked), Some(run)) = (self.check("runs/create", Ok(answer)), run) else { return };
        self.ledger.lock().expect("ledger").runs.push(run.clone());
        let model = model_of(self.index);
        let mut last_version: Option<u64> = None;
        for n in 0usize.. {
            let outcome = match n % 4 {
                0 => self.log_batch(&mut c, &run, n as i64).await,
                1 => match self.create_version(&mut c, &model).await {
                    Ok((outcome, v)) => {
                        last_version = v.or(last_version);
                        Ok(outcome)
                    }
                    Err(()) => Err(()),
                },
                2 => match last_version {
                    Some(v) => self.move_alias(&mut c, &model, v).await,
                    None => Ok(Outcome::Acked),
                },
                _ => self.upload(&mut c, n, &mut rng).await,
            };
            match outcome {
                Ok(Outcome::Acked) => {}
                Ok(Outcome::Dead) | Err(()) => return,
            }
        }
    }

    async fn log_batch(&self, c: &mut Client, run: &str, n: i64) -> Result<Outcome, ()> {
        let first = n * STEPS;
        let points: Vec<Point> = (0..KEYS)
            .flat_map(|k| (first..first + STEPS).map(move |step| (k, step)))
            .map(|(k, step)| (run.to_owned(), format!("k{k}"), step, (step * 10 + k) as f64 + 0.25))
            .collect();
        let metrics: Vec<_> = points
            .iter()
            .map(|(_, key, step, value)| json!({"key": key, "value": value, "timestamp": 1, "step": step}))
            .collect();
        let answer = c.post(&format!("{API}/runs/log-batch"), &json!({ "run_id": run, "metrics": metrics })).await;
        let outcome = self.check("log-batch", answer)?;
        let mut ledger = self.ledger.lock().expect("ledger");
        match outcome {
            Outcome::Acked => {
                ledger.batches += 1;
                for (run, key, step, value) in points {
                    ledger.metrics.entry((run, key)).or_default().insert(step, value);
                }
            }
            Outcome::Dead => ledger.pending_batches.push(points),
        }
        Ok(outcome)
    }

    async fn create_version(&self, c: &mut Client, model: &str) -> Result<(Outcome, Option<u64>), ()> {
        let body = json!({ "name": model, "source": format!("mlflow-artifacts:/crash/{model}") });
        let answer = c.post(&format!("{API}/model-versions/create"), &body).await;
        let version =
            answer.as_ref().ok().and_then(|a| a.json()["model_version"]["version"].as_str()?.parse::<u64>().ok());
        let outcome = self.check("model-versions/create", answer)?;
        if let (Outcome::Acked, Some(v)) = (&outcome, version) {
            self.ledger.lock().expect("ledger").versions.entry(model.to_owned()).or_default().insert(v);
        }
        Ok((outcome, version))
    }

    async fn move_alias(&self, c: &mut Client, model: &str, version: u64) -> Result<Outcome, ()> {
        self.ledger.lock().expect("ledger").aliases.entry(model.to_owned()).or_default().pending = Some(version);
        let body = json!({ "name": model, "alias": ALIAS, "version": version.to_string() });
        let outcome =
            self.check("registered-models/alias", c.post(&format!("{API}/registered-models/alias"), &body).await)?;
        if let Outcome::Acked = outcome {
            let mut ledger = self.ledger.lock().expect("ledger");
            ledger.alias_moves += 1;
            *ledger.aliases.entry(model.to_owned()).or_default() = AliasState { acked: Some(version), pending: None };
        }
        Ok(outcome)
    }

    async fn upload(&self, c: &mut Client, n: usize, rng: &mut u64) -> Result<Outcome, ()> {
        let draw = splitmix(rng);
        // Mostly small files, one in 32 large enough to be cut off mid-upload now and then
        // (kept small enough that 50 trials of fast writers stay around a gigabyte).
        let len = if draw.is_multiple_of(32) {
            128 * 1024 + (draw >> 8) as usize % (384 * 1024)
        } else {
            1 + (draw >> 8) as usize % (16 * 1024)
        };
        let artifact = Artifact {
            path: format!("crash/w{:02}/t{:03}/f{n:05}.bin", self.index, self.trial),
            seed: splitmix(rng),
            len,
        };
        let body = bytes::Bytes::from(artifact.bytes());
        let answer = c
            .send(Method::PUT, &format!("{ARTIFACTS}/{}", artifact.path), Some(("application/octet-stream", body)))
            .await;
        let outcome = self.check("artifact upload", answer)?;
        let mut ledger = self.ledger.lock().expect("ledger");
        match outcome {
            Outcome::Acked => {
                ledger.artifact_bytes += artifact.len as u64;
                ledger.artifacts.push(artifact);
            }
            Outcome::Dead => ledger.pending_artifacts.push(artifact),
        }
        Ok(outcome)
    }
}
