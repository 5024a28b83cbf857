//! TAVRNN: variational graph recurrent network with temporal attention over
//! functional-connectivity graphs (DESIGN.md § TAVRNN). Filled in by issue 5.
