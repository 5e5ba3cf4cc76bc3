//! The network: weights and their initialisation ([`mlp`]), the execution plan that picks the
//! kernels ([`plan`]), one batch's forward/backward pair over preallocated buffers ([`pass`],
//! [`workspace`]), and full-set evaluation ([`eval`]).

pub mod eval;
pub mod inspect;
pub mod memory;
pub mod mlp;
pub mod model_file;
pub mod pass;
pub mod plan;
pub mod tensors;
pub mod workspace;

pub use eval::Metrics;
pub use mlp::{Input, Mlp, Rows};
pub use plan::Plan;
pub use workspace::Workspace;
