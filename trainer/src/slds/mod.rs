//! Switching linear dynamical systems in f32, in the folded form the device runs.
