#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), deny(unused_crate_dependencies))]

mod generated;

pub use generated::*;
pub use loginkit_core::*;
