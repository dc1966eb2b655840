//! Jobs: what the bot is doing for whom, and the engine that does it.
//!
//! - [`model`]: a job, its targets (one per recipe) and their builds; stored as JSON in sled;
//! - [`machine`]: the pure state machine, `observe(job, observation) -> actions + notices`;
//! - [`engine`]: the tasks that execute those actions against Launchpad and announce notices.

pub mod engine;
pub mod machine;
pub mod model;

pub use engine::{Engine, EngineError, EngineSettings};
pub use machine::{Control, Rules};
pub use model::{Job, JobStatus};
