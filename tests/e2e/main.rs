//! End-to-end tests: the real `cap` and `capd` binaries against the fake agent.
//! One test binary (modules, not files) keeps link time down.

mod chaos;
mod cli;
mod client;
mod drivers;
mod editors;
mod flood;
mod fork;
mod healing;
mod hostile;
mod install;
mod interrupt;
mod large_state;
mod limits;
mod mcp;
mod memory;
mod misbehave;
mod permissions;
mod prewarm;
mod races;
mod record;
mod remote;
mod service;
mod sessions;
mod share;
mod smoke;
mod socket;
mod state;
mod structured;
mod sweep;
mod turnopts;
mod turns;
mod usage;
