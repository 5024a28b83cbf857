//! Simulated sessions with known ground truth.
