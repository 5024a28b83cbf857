//! Folds a trained JSLDS into the device's f32 switching-linear form
//! ([`crate::slds::SwitchingLinear`], which the exporter quantises):
//! ```text
//! g_t = table(y_t);  k_t = select(a_{t-1});  a_t = A_k a_{t-1} + B_k g_t + b_k
//! A_k = J_h(e_k, u*)        B_k = J_u(e_k, u*) S          (S = diag(1/std))
//! b_k = F(e_k, u*) - A_k e_k - J_u(e_k, u*) (u* + S mu)
//! ```
//! since `u_t = S (g(y_t) - mu)` and `J_u (u_t - u*) = J_u S g_t - J_u (S mu + u*)`.
//! Column convention here (`a' = A a`), rows `k*d + i` = row i of A_k, as in the file format.

use burn::tensor::Tensor;

use super::input::InputTransform;
use super::model::Jslds;
use crate::slds::{SelectionF32, SwitchingLinear};

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().unwrap_or_default()
}

/// Folds `model` (on a plain device) with its input transform. `inputs` are the indices of the
/// input neurons among `neurons` (the others get zero columns in `B_k`); `table_max` is the
/// largest count with its own table entry.
pub fn fold(
    model: &Jslds,
    transform: &InputTransform,
    inputs: &[usize],
    neurons: usize,
    table_max: u32,
    bin_s: f64,
) -> SwitchingLinear {
    let (lin, _) = model.switching();
    let d = model.latent();
    let k = model.regimes();
    let n_in = transform.mean.len();
    let n = neurons;
    let f = to_vec(lin.f);
    let jh_t = to_vec(lin.jh_t); // [k][j][i] = J_h[i][j]
    let ju_t = to_vec(lin.ju_t); // [k][m][i] = J_u[i][m], m over the input neurons
    let e = to_vec(model.points.val());
    let ustar = to_vec(model.anchor.val());
    let mut dynamics = vec![0f32; k * d * d];
    let mut input_gain = vec![0f32; k * d * n];
    let mut offset = vec![0f32; k * d];
    for kk in 0..k {
        for i in 0..d {
            let row = kk * d + i;
            let mut b = f[kk * d + i] as f64;
            for j in 0..d {
                let a = jh_t[(kk * d + j) * d + i];
                dynamics[row * d + j] = a;
                b -= a as f64 * e[kk * d + j] as f64;
            }
            for (m, &col) in inputs.iter().enumerate() {
                let ju = ju_t[(kk * n_in + m) * d + i];
                input_gain[row * n + col] = ju * transform.inv_std[m];
                b -= ju as f64
                    * (ustar[m] as f64 + (transform.mean[m] * transform.inv_std[m]) as f64);
            }
            offset[row] = b as f32;
        }
    }
    let w = to_vec(model.readout.weight.val()); // [d, N]
    let readout = (0..n)
        .flat_map(|m| (0..d).map(move |i| (m, i)))
        .map(|(m, i)| w[i * n + m])
        .collect();
    let readout_bias = model
        .readout
        .bias
        .as_ref()
        .map(|b| to_vec(b.val()))
        .unwrap_or(vec![0.0; n]);
    let selection = match (&model.gate, model.use_gate) {
        (Some(gate), true) => {
            let wg = to_vec(gate.weight.val()); // [d, K]
            SelectionF32::Gate {
                weights: (0..k)
                    .flat_map(|kk| (0..d).map(move |i| (kk, i)))
                    .map(|(kk, i)| wg[i * k + kk])
                    .collect(),
                bias: gate
                    .bias
                    .as_ref()
                    .map(|b| to_vec(b.val()))
                    .unwrap_or(vec![0.0; k]),
            }
        }
        _ => SelectionF32::Nearest { points: e },
    };
    SwitchingLinear {
        latent: d,
        regimes: k,
        neurons: n,
        input_table: InputTransform::table(table_max),
        selection,
        dynamics,
        input_gain,
        offset,
        readout,
        readout_bias,
        hysteresis: 0,
        regime_names: Vec::new(),
        bin_s,
    }
}
