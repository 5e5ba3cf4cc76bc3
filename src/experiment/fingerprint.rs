//! A run's fingerprint: what determines its results (the resolved configuration and execution
//! plan, the data files' contents, the trainer's source, the OpenBLAS kernels), recorded in
//! `config.json` and `summary.csv`. A run whose fingerprint differs from what would run now is
//! stale, and the parts that differ say why.

use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::data::{sha256_hex, Mnist};
use crate::nn::Plan;

/// sha256 of the code that computes results (see build.rs), made at build time.
pub const SOURCE: &str = env!("MLP_SOURCE_HASH");

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The first 16 hex digits of a sha256 over the parts below: equal ids, equal results.
    pub id: String,
    /// sha256 of the resolved configuration and execution plan (JSON).
    pub config: String,
    /// sha256 over the sha256 of each of the four data files (decompressed).
    pub data: String,
    /// sha256 of the trainer's source ([`SOURCE`]).
    pub source: String,
    /// The OpenBLAS kernel family (core) the run's GEMMs ran on: their last bits depend on it.
    #[serde(default)]
    pub blas: String,
}

/// Why a recorded run is not what would run now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Staleness {
    Config,
    Data,
    Code,
    Blas,
    /// Recorded before runs had fingerprints: nothing says what made it.
    Unrecorded,
    /// The checkpoint cannot be read (corrupt or truncated).
    Unreadable,
}

impl Staleness {
    pub fn name(self) -> &'static str {
        match self {
            Staleness::Config => "config",
            Staleness::Data => "data",
            Staleness::Code => "code",
            Staleness::Blas => "OpenBLAS core",
            Staleness::Unrecorded => "no fingerprint",
            Staleness::Unreadable => "unreadable checkpoint",
        }
    }
}

impl Fingerprint {
    pub fn new(cfg: &TrainConfig, plan: &Plan, mnist: &Mnist, blas_core: &str) -> Self {
        let resolved = serde_json::json!({ "config": cfg, "plan": plan });
        let config = sha256_hex(resolved.to_string().as_bytes());
        let data = mnist.content_hash();
        let source = SOURCE.to_string();
        let id = sha256_hex(format!("{config} {data} {source} {blas_core}").as_bytes())[..16].to_string();
        Self { id, config, data, source, blas: blas_core.to_string() }
    }

    /// The parts of `self` (recorded) that differ from `now`; empty when the run is current.
    pub fn stale_against(&self, now: &Fingerprint) -> Vec<Staleness> {
        let mut why = Vec::new();
        if self.config != now.config {
            why.push(Staleness::Config);
        }
        if self.data != now.data {
            why.push(Staleness::Data);
        }
        if self.source != now.source {
            why.push(Staleness::Code);
        }
        if self.blas != now.blas {
            why.push(Staleness::Blas);
        }
        why
    }
}

/// "code, data": the reasons as words.
pub fn describe(why: &[Staleness]) -> String {
    why.iter().map(|w| w.name()).collect::<Vec<_>>().join(", ")
}
