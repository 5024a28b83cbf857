//! Closed-form Jacobians of the GRU cell at K expansion points.
//!
//! Burn 0.22's autodiff is first-order only (no jvp, no double backward), yet the JSLDS loss
//! contains the Jacobians themselves and must send gradients through them into the GRU's
//! weights. So J_h = dF/dh and J_u = dF/du are written here as ordinary tensor operations of the
//! GRU's parameters; one ordinary backward pass then reaches those parameters.
//!
//! Derivation (column convention, i = output unit, j = input unit; `W_*[j, i]` is Burn's
//! `[d_in, d_out]` storage, so `W^T` of the column convention is `W` here):
//! ```text
//! dz_i/dh_j  = z_i (1 - z_i) W_hz[j, i]
//! dr_i/dh_j  = r_i (1 - r_i) W_hr[j, i]
//! dn_i/dh_j  = (1 - n_i^2) ( r_i W_hn[j, i] + m_i dr_i/dh_j )
//! dh'_i/dh_j = (1 - z_i) dn_i/dh_j + (h_i - n_i) dz_i/dh_j + z_i delta_ij
//! dh'_i/du_j = (1 - z_i) (1 - n_i^2) ( W_xn[j, i] + m_i r_i (1 - r_i) W_xr[j, i] )
//!              + (h_i - n_i) z_i (1 - z_i) W_xz[j, i]
//! ```
//! Everything is returned *transposed* (`[.., d_in, d_out]`), the row convention the rest of
//! the crate uses: the linear step is `a' = f + (a - e) Jh^T + (u - u*) Ju^T` with row vectors.
//! `jh_t[k][j][i] = J_h(e_k)[i][j]`.

use burn::tensor::{Device, Tensor};

use super::gru::GruCell;

/// The GRU linearised at K points `(e_k, u*)`.
pub struct Linearisation {
    /// `F(e_k, u*)`, `[K, d]`.
    pub f: Tensor<2>,
    /// `J_h(e_k, u*)^T`, `[K, d, d]` (`[k, j, i] = dF_i/dh_j`).
    pub jh_t: Tensor<3>,
    /// `J_u(e_k, u*)^T`, `[K, n_in, d]` (`[k, j, i] = dF_i/du_j`).
    pub ju_t: Tensor<3>,
    /// The update gate `z` at `(e_k, u*)`, `[K, d]`: where it saturates at 1, `J_u` vanishes
    /// (the input cannot move the state), which `--l-z` penalises.
    pub z: Tensor<2>,
}

/// Linearises `gru` at the rows of `points` (`[K, d]`) with the input held at `anchor`
/// (`[1, n_in]`). Differentiable with respect to the GRU's parameters, the points and the anchor.
pub fn linearise(gru: &GruCell, points: Tensor<2>, anchor: Tensor<2>) -> Linearisation {
    let d = gru.latent;
    let device: Device = points.device();
    let gx = gru.input.forward(anchor); // [1, 3d], broadcast over the K points
    let p = gru.parts(gx, points.clone());

    let one_minus_z = p.z.clone().neg().add_scalar(1.0);
    let one_minus_n2 = p.n.clone().square().neg().add_scalar(1.0);
    let dr = p.r.clone() * p.r.clone().neg().add_scalar(1.0); // r (1 - r)
    let dz = p.z.clone() * one_minus_z.clone(); // z (1 - z)
                                                // Per-output-unit coefficients, [K, d] each, then [K, 1, d] to broadcast over rows j.
    let c_z = (points - p.n.clone()) * dz; // multiplies W_*z
    let c_n = one_minus_z * one_minus_n2; // multiplies W_xn (and, times r, W_hn)
    let c_hn = c_n.clone() * p.r.clone();
    let c_r = c_n.clone() * p.m.clone() * dr; // multiplies W_*r
    let row = |t: Tensor<2>| t.unsqueeze_dim::<3>(1);

    let wh = gru.hidden.weight.val(); // [d, 3d]
    let wx = gru.input.weight.val(); // [n_in, 3d]
    let split = |w: Tensor<2>| {
        (
            w.clone().narrow(1, 0, d).unsqueeze_dim::<3>(0),
            w.clone().narrow(1, d, d).unsqueeze_dim::<3>(0),
            w.narrow(1, 2 * d, d).unsqueeze_dim::<3>(0),
        )
    };
    let (whr, whz, whn) = split(wh);
    let (wxr, wxz, wxn) = split(wx);

    let eye = Tensor::<2>::eye(d, &device).unsqueeze_dim::<3>(0);
    let jh_t =
        whz * row(c_z.clone()) + whn * row(c_hn) + whr * row(c_r.clone()) + eye * row(p.z.clone());
    let ju_t = wxz * row(c_z) + wxn * row(c_n) + wxr * row(c_r);
    Linearisation {
        f: p.next,
        jh_t,
        ju_t,
        z: p.z,
    }
}
