//! Criterion benchmark of one TAVRNN training step (filled in with issue tavrnn).
fn main() {}
