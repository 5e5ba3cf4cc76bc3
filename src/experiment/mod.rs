//! Experiments: one run into its directory ([`run`], [`run_dir`]), sweep files ([`sweep_file`])
//! run in parallel ([`executor`]) and summarised ([`summary`]), the study's presets
//! ([`presets`]) and the report's table ([`reproduce`]).

pub mod compare;
pub mod data_sets;
pub mod executor;
pub mod fingerprint;
pub mod inference;
pub mod presets;
pub mod progress;
pub mod reproduce;
pub mod run;
pub mod run_dir;
pub mod summary;
pub mod sweep_file;
