//! Cross-crate tests of neuroloop live in `tests/tests/`; this library holds their shared
//! helpers.
