//! The device TAVRNN: one step of the trained graph recurrent network per window, mean path
//! only, on the window graph of [`crate::graph`], and a linear behaviour classifier.
//!
//! ```text
//! h      = tanh((Σ_τ α_τ h~_τ) W_v + b_v),  α = softmax(q · k_τ / sqrt(H))   (0 at the start)
//! phi_x  = ReLU(W_x + b_x)                       identity features: a table in flash
//! E      = ReLU((Â [phi_x || h]) W_e + b_e)
//! mu     = (Â E) W_mu + b_mu                     the node embeddings
//! phi_z  = ReLU(mu W_z + b_z)
//! r      = sigmoid((Â [phi_x || phi_z]) W_r + (Â h) U_r + b)
//! u      = sigmoid((Â [phi_x || phi_z]) W_u + (Â h) U_u + b)
//! c      = tanh((Â [phi_x || phi_z]) W_c + (Â (r h)) U_c + b)
//! h~     = c + u (h − c)                         pushed into the ring of the last w states
//! q, k   = h~[hist] W_q, h~[hist] W_k            kept per ring state (query: the newest)
//! class  = argmax(C · mu[neurons] + b)           first highest score
//! ```
//!
//! The attention of window `t` is evaluated at the start of window `t + 1` (it only feeds
//! `h`), so that between windows the state is the ring alone. Propagation is applied first
//! (`(Â X) W`), as in the trainer's GCN.
//!
//! # Memory
//! The ring holds each past GRU output as **4 bits a value with one `i16` step per node and
//! state** (`2 + H / 2` bytes per node): at 65 nodes, `H = 32`, `w = 8`, 9,360 bytes instead
//! of 33,280 at `i16`. Each ring slot rounds at its own offset (a fraction of a level spread
//! over the window), so that the rounding errors of similar successive states average out in
//! the attention's near-even mix: with one rule for all slots they added up, and the class
//! differed from the f32 model's on 7 % of the windows of a trained model. The keys and the
//! newest query are `i16` (`(w + 1) H` values). The per-step working memory (`mu`, `phi_z`,
//! `h`, one `max(H, d_enc)` area per node) is the caller's `scratch`, [`scratch_len`] values;
//! a firmware places it on the stack after the window's correlation has been turned into a
//! graph, so the two share RAM.
//!
//! # Formats (fixed point)
//! `Â` Q1.14 from the graph; `h`, gates, ring Q15; gate pre-activations and attention scores
//! Q12 (the [`crate::lut`] input format); other activations at the section's calibrated
//! scales. Propagation sums are exact (blocks of columns summed in `i32` registers over runs
//! of neighbours whose `Σ |Â_ij|` proves no overflow, runs added in `i64`:
//! [`crate::kernels::propagate_i16`]) and rounded half up once, to `2^k` times the scale of
//! the values summed ([`propagation_shift`]: the headroom that keeps them from saturating;
//! the layers that read them have `2^k` folded into their columns); dense layers use
//! [`crate::kernels::for_each_row`] and the per-row Q31 requantisation.

mod error;
mod fixed;
mod reference;
mod step;

pub use error::TavrnnError;
pub use fixed::{keys_len, propagation_shift, ring_len, ring_row_bytes, CheckedTavrnn, Tavrnn};
pub use reference::{ring_len_f32, LayerRanges, ReferenceTavrnn};
pub use step::{scratch_len, WindowOutput};
