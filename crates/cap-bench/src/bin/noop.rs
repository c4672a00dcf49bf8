//! `cap-bench-noop`: a Rust program that does nothing, built with the same release profile as
//! `cap`. Its exec time (spawn, dynamic loading, Rust runtime start, exit) is the floor the
//! `exec` measurement divides `cap`'s times by.

fn main() {}
