//! loginkit's benchmark harness.
//!
//! - `benches/micro.rs`: criterion micro benchmarks of the hot path's pieces.
//! - The `loginkit-bench` binary: a load driver doing complete logins with many concurrent
//!   clients against `loginkit-server`, the no-logic ceiling (`loginkit-ceiling`) and peer
//!   libraries' minimal login apps (`bench/peers/`), all against one in-process OpenID provider
//!   that answers at once ([`idp`]). `bench/run` builds and installs everything and runs it;
//!   docs/benchmarks.md has the results.

pub mod driver;
pub mod idp;
pub mod procstat;
pub mod systems;
