//! Jobs: what the bot is doing for whom, and the engine that does it.
//!
//! - [`model`]: a job, its targets (one per recipe) and their builds; stored as JSON in sled;
//! - [`notice`]: what a job says, is asked and calls: plain data the model stores and the
//!   machine makes;
//! - [`machine`]: the pure state machine, `observe(job, observation) -> actions + notices`;
//! - [`driver`]: the task that drives one job: executes the machine's actions against
//!   Launchpad, stores, announces, keeps the board;
//! - [`engine`]: the façade that starts, resumes and controls jobs and hands webhooks on.

mod calls;
mod driver;
pub mod engine;
pub mod machine;
pub mod model;
pub mod notice;

pub use engine::{Engine, EngineError, EngineSettings};
pub use machine::{Rules, Typical};
pub use model::{Job, JobStatus, NewJob};
pub use notice::{Control, Notice};
