//! `switching-linear`: the hand-built switching linear system of [`crate::slds::simulate()`]
//! (reference configuration: d = 16 latent dimensions, K = 8 regimes), with its counts and a
//! Phy folder that bins back to exactly those counts.
//!
//! The system is simulated per bin (the simulation step is the bin): in regime `k`,
//! `a_t = e_k + F_k (a_{t-1} - e_k) + w_t`, counts `y_t ~ Poisson(exp(C a_t + c))` per bin.
//! Besides the Phy folder the session holds `counts.npy` (the counts, `n_bins x neurons`,
//! uint32) and `system.json` (the estimator to ship, [`crate::slds::write_system_json`]).
//! The spikes of a bin are placed at distinct uniformly drawn samples inside the bin, so
//! binning the Phy folder at the session's bin width gives `counts.npy` back exactly.

use indicatif::ProgressBar;
use rand::seq::index::sample;

use super::truth::{LatentTruth, SwitchingLinearTruth};
use super::{
    assemble, rng, spikes::SAMPLE_RATE, Array, ArrayData, Parts, Resolved, Session, SimError,
};
use crate::slds::{self, SimConfig};

/// Simulates the `switching-linear` scenario.
pub fn simulate(res: &Resolved, progress: &ProgressBar) -> Result<Session, SimError> {
    let cfg = SimConfig {
        neurons: res.neurons,
        bin_s: res.bin_s,
        n_bins: res.n_bins,
        ..SimConfig::default()
    };
    // The reference system oscillates at up to 8 Hz and dwells at least 1 s in a regime.
    res.require(
        cfg.freq_hz.1 <= 0.5 / res.bin_s && cfg.dwell_s.0 >= res.bin_s,
        "--bin-ms",
        res.bin_s * 1000.0,
        format!(
            "the switching system oscillates at up to {} Hz: bins of at most {} ms",
            cfg.freq_hz.1,
            500.0 / cfg.freq_hz.1
        ),
    )?;
    let sim = slds::simulate(&cfg, res.seed).map_err(|e| SimError::Scenario {
        scenario: "switching-linear",
        message: format!("slds::simulate failed: {e:#}"),
    })?;
    progress.set_position(res.n_bins as u64 / 2);
    let (n, d, k) = (res.neurons, cfg.latent, cfg.regimes);

    // Spikes at distinct samples inside their bin: [ceil(t B fs), ceil((t + 1) B fs)).
    let mut srng = rng::stream(res.seed, "spikes");
    let mut times = vec![Vec::new(); n];
    let edge = |t: usize| (t as f64 * res.bin_s * SAMPLE_RATE - 1e-6).ceil() as usize;
    for t in 0..res.n_bins {
        let (lo, hi) = (edge(t), edge(t + 1));
        for (i, ts) in times.iter_mut().enumerate() {
            let c = sim.counts.data[t * n + i] as usize;
            if c == 0 {
                continue;
            }
            if c > hi - lo {
                return Err(SimError::Scenario {
                    scenario: "switching-linear",
                    message: format!(
                        "bin {t}, neuron {i}: {c} spikes do not fit in {} samples",
                        hi - lo
                    ),
                });
            }
            let mut s: Vec<usize> = sample(&mut srng, hi - lo, c).into_iter().collect();
            s.sort_unstable();
            ts.extend(s.into_iter().map(|s| (lo + s) as f64 / SAMPLE_RATE));
        }
    }
    progress.set_position(res.n_bins as u64);

    let to_rows = |v: &[f32], cols: usize| -> Vec<Vec<f64>> {
        v.chunks(cols)
            .map(|r| r.iter().map(|&x| f64::from(x)).collect())
            .collect()
    };
    let gt = &sim.truth;
    let ln_bin = res.bin_s.ln();
    let latent_truth = LatentTruth {
        dim: d,
        dim_names: (0..d).map(|j| format!("a{j}")).collect(),
        dynamics:
            "per bin: a_t = e_k + F_k (a_{t-1} - e_k) + w_t, w_t ~ N(0, noise_sd^2 I), k the \
                   regime of bin t (tau_s is the bin: the map's time step; noise_sd is per bin)"
                .into(),
        tau_s: res.bin_s,
        noise_sd: gt.noise_std,
        readout: to_rows(&gt.readout, d),
        // GroundTruth's bias is the log expected count per bin; truth.json holds log Hz.
        readout_bias: gt
            .readout_bias
            .iter()
            .map(|&c| f64::from(c) - ln_bin)
            .collect(),
        latent_file: "latent.npy".into(),
    };
    let sl = SwitchingLinearTruth {
        system_file: "system.json".into(),
        counts_file: "counts.npy".into(),
        regimes: k,
        points: to_rows(&gt.points, d),
        dynamics: gt.dynamics.chunks(d * d).map(|f| to_rows(f, d)).collect(),
        switch_bins: gt.switch_bins.clone(),
    };
    let names = if sim.system.regime_names.len() == k {
        sim.system.regime_names.clone()
    } else {
        (0..k).map(|j| format!("regime{j}")).collect()
    };
    let parts = Parts {
        times,
        names,
        label_per_bin: sim.regimes.iter().map(|&r| u16::from(r)).collect(),
        arrays: vec![
            Array {
                file: "latent.npy".into(),
                shape: vec![res.n_bins as u64, d as u64],
                data: ArrayData::F32(gt.latents.clone()),
            },
            Array {
                file: "counts.npy".into(),
                shape: vec![res.n_bins as u64, n as u64],
                data: ArrayData::U32(sim.counts.data.clone()),
            },
        ],
    };
    let mut session = assemble(res, parts, |t| {
        t.sim_step_s = res.bin_s;
        t.latent = Some(latent_truth);
        t.switching_linear = Some(sl);
    });
    session.truth.files.push("system.json".into());
    session.system = Some(sim.system);
    Ok(session)
}
