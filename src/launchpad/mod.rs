//! Launchpad: the client the bot drives builds with, the OAuth login that gets it credentials,
//! and the built-in simulator that stands in for Launchpad in the sandbox and the tests.
//!
//! - [`models`]: Launchpad's objects and enum strings, exactly as it spells them;
//! - [`client`]: the web service calls, with retries and a limit on requests in flight;
//! - `lanes`: that limit, with a fast lane for cancels;
//! - [`buildlog`]: a failed build's log, boiled down to why it failed;
//! - [`auth`]: credentials (launchpadlib's file format) and PLAINTEXT signing;
//! - [`login`]: the OAuth token dance;
//! - [`error`]: failures, split by who must act;
//! - [`retry`]: when to try again;
//! - [`sim`]: the simulator.

pub mod auth;
pub mod buildlog;
pub mod client;
pub mod error;
mod lanes;
pub mod login;
pub mod models;
pub mod retry;
pub mod sim;

pub use client::{Client, ClientSettings, Conditional, SIMULATOR_SPEED_HEADER};
pub use error::{LaunchpadError, Refusal};
