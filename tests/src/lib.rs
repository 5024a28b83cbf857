//! Cross-crate tests of neuroloop live in `tests/tests/`; this library holds their shared
//! helpers.

pub mod firmware;
pub mod simulated;
