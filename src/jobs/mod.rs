//! Jobs: what the bot is doing for whom, and the pure rules that move a job along. No IO: the
//! [`crate::engine`] executes what they decide.
//!
//! - [`model`]: a job, its targets (one per recipe) and their builds; stored in sled by
//!   [`crate::store`];
//! - [`notice`]: what a job says, is asked and calls: plain data the model stores and the
//!   machine makes;
//! - [`machine`]: the pure state machine, `observe(job, observation) -> actions + notices`.

pub mod machine;
pub mod model;
pub mod notice;

pub use machine::{Rules, Typical};
pub use model::{Job, JobStatus, NewJob};
pub use notice::{Control, Notice};
