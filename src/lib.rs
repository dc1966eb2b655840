//! image-builder: rebuild the Ubuntu OCI images on Launchpad from chat or a terminal, follow every
//! build to the end, and say when a registry upload fails.
//!
//! The pure core, which decides everything and does no IO:
//! - [`target`]: the value types (series, architecture, image, job id) and their spelling;
//! - [`config`] and [`catalogue`]: the config file, checked once at start, and what may be built;
//! - [`command`]: the command grammar, `parse(text, &Vocabulary) -> Command`;
//! - [`plan`]: a `rebuild` expanded to recipes and architectures;
//! - [`permissions`]: who may run what;
//! - [`history`]: what was built when, a compact record per build;
//! - [`hooks`]: the configured commands a successful job may run after it (`--then retag`);
//! - [`confirm`]: large plans waiting for `confirm CODE`, and [`quota`]: what one user already
//!   has going, for the bot's limits;
//! - [`messages`]: every sentence a user sees.
//!
//! The shells around it: [`cli`], the command line; [`launchpad`], the Launchpad client and
//! its simulator; [`jobs`], the engine that drives each job against Launchpad, and [`alerts`],
//! which tells failed uploads no job tells; [`store`], the bot's memory in sled; [`bot`], from
//! a chat message to an answer, and [`chat`], the seam to each chat service; [`webhook`],
//! Launchpad's deliveries, and [`metrics`], health and metrics, both served by [`serve`]'s
//! hardened accept loop. [`secret`] keeps tokens out of logs.

#![forbid(unsafe_code)]
// Problems go to the log (tracing) or to the `err` a command is given, never straight to stderr.
#![warn(clippy::print_stderr)]

pub mod alerts;
pub mod backoff;
pub mod bot;
pub mod catalogue;
pub mod chat;
pub mod cli;
pub mod command;
pub mod config;
pub mod confirm;
pub mod engine;
pub mod health;
pub mod history;
pub mod hooks;
pub mod jobs;
pub mod launchpad;
pub mod messages;
pub mod metrics;
pub mod permissions;
pub mod plan;
pub mod quota;
pub mod secret;
pub mod serve;
pub mod store;
pub mod target;
pub mod web;
pub mod webhook;
