//! JSLDS: a GRU state estimator co-trained with the parameter-tied switching linear system
//! built from its own Jacobians (DESIGN.md § JSLDS). Filled in by issue 4.
