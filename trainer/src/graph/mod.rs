//! Functional-connectivity graphs: windows, zero-lag Pearson correlation, graph construction.
//!
//! From binned counts ([`crate::data::Counts`]) to the sequence of graphs the TAVRNN model
//! reads, one graph per window:
//!
//! 1. [`Windowing`]: windows of `window_s` every `step_s` seconds, rounded to whole bins;
//!    partial windows at the end are dropped; each window has its [`WindowSpan`] in bins and
//!    seconds (for `Labels::label_span`).
//! 2. [`WindowSums`]: per-bin running sums of counts, squared counts and cross-products,
//!    exact integers, turned into the Pearson correlation R at the window end
//!    ([`correlation`] documents the formula and the zero-variance rule).
//! 3. [`select_edges`]: candidate edges `|R| >= theta`, `R != 0`, optionally only those that
//!    pass the circular-shift surrogate test ([`surrogate`]), optionally top-k per node
//!    made symmetric by union or intersection.
//! 4. [`adjacency`]: the history node linked to every neuron, binary adjacency A and
//!    normalised adjacency `Â = D^-1/2 (A + I) D^-1/2`; [`features`]: identity or |R| rows.
//! 5. [`GraphSequence::build`] runs all of it over a recording with a [`GraphConfig`].
//!
//! These functions are the floating-point reference of the device's streaming graph
//! encoder: the device keeps the same sums ([`WindowSums::sum`], [`WindowSums::product`]) in
//! integers, so they can be compared exactly, and its correlations can be run through
//! [`GraphWindow::from_correlation`] to compare edges.

pub mod adjacency;
mod config;
pub mod correlation;
pub mod edges;
mod error;
pub mod features;
pub(crate) mod rng;
mod sequence;
pub mod surrogate;
mod window;

pub use config::{FeatureKind, GraphConfig, SurrogateTest, Symmetrise, TopK};
pub use correlation::{Correlation, WindowSums};
pub use edges::{select_edges, Edges};
pub use error::GraphError;
pub use sequence::{GraphSequence, GraphWindow};
pub use window::{WindowSpan, Windowing};
