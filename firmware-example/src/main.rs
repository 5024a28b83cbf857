//! The firmware (placeholder until the device issue lands).
fn main() {}
