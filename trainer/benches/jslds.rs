//! Criterion benchmark of one JSLDS training step (filled in with issue jslds).
fn main() {}
