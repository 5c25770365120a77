//! Helpers shared by the end-to-end tests. Include with `mod support;` and use
//! `support::moto::MotoServer`, or `support::world::World` to run `stsgrant` against it.

// Every test binary compiles this module on its own and uses only part of it.
#![allow(dead_code)]

pub mod faults;
pub mod http;
pub mod moto;
pub mod recording;
pub mod sealed;
pub mod world;
