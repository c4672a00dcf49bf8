//! End-to-end tests: the real `cap` and `capd` binaries against the fake agent.
//! One test binary (modules, not files) keeps link time down.

mod chaos;
mod cli;
mod drivers;
mod healing;
mod limits;
mod misbehave;
mod races;
mod sessions;
mod smoke;
mod socket;
mod turns;
