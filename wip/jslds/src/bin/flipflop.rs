//! Trains the JSLDS prototype on a synthetic 3-bit flip-flop and reports time to targets.
//! Usage: flipflop [key=value ...]  keys: backend steps seed latent regimes lr batch chunk
//!        bins eval_every stop gate anchor

use std::collections::HashMap;
use std::time::Instant;

use burn::tensor::Tensor;
use jslds_proto::flipflop::{FlipFlopConfig, generate};
use jslds_proto::model::Jslds;
use jslds_proto::train::{Backend, Session, TrainConfig, evaluate, train};

/// Least-squares affine map from latent rows `h` (`[T, d]`) to true states `s` (`[T, 3]`):
/// returns `W` `[(d+1), 3]` (last row = bias).
fn affine_fit(h: &[f32], s: &[f32], d: usize) -> Vec<f64> {
    let t = h.len() / d;
    let p = d + 1;
    let mut xtx = vec![0f64; p * p];
    let mut xts = vec![0f64; p * 3];
    for r in 0..t {
        let x: Vec<f64> = h[r * d..(r + 1) * d]
            .iter()
            .map(|&v| v as f64)
            .chain([1.0])
            .collect();
        for i in 0..p {
            for j in 0..p {
                xtx[i * p + j] += x[i] * x[j];
            }
            for c in 0..3 {
                xts[i * 3 + c] += x[i] * s[r * 3 + c] as f64;
            }
        }
    }
    for i in 0..p {
        xtx[i * p + i] += 1e-6 * t as f64;
    }
    // Gauss-Jordan on [xtx | xts].
    let mut a = xtx;
    let mut b = xts;
    for col in 0..p {
        let piv = (col..p)
            .max_by(|&i, &j| a[i * p + col].abs().total_cmp(&a[j * p + col].abs()))
            .unwrap();
        for k in 0..p {
            a.swap(col * p + k, piv * p + k);
        }
        for c in 0..3 {
            b.swap(col * 3 + c, piv * 3 + c);
        }
        let dg = a[col * p + col];
        for k in 0..p {
            a[col * p + k] /= dg;
        }
        for c in 0..3 {
            b[col * 3 + c] /= dg;
        }
        for r in 0..p {
            if r != col {
                let f = a[r * p + col];
                for k in 0..p {
                    a[r * p + k] -= f * a[col * p + k];
                }
                for c in 0..3 {
                    b[r * 3 + c] -= f * b[col * 3 + c];
                }
            }
        }
    }
    b
}

struct Match {
    /// Corners (within tol) reached by iterating F(h, u*) from held-out GRU states.
    attractor_corners: usize,
    r2: f64,
    mapped: Vec<[f64; 3]>,
    matched: usize,
    worst: f64,
    fp_residual_max: f32,
}

/// Maps the expansion points through the affine fit of held-out GRU states to the true state
/// and counts the corners with a point within `tol`.
fn match_corners(
    model: &Jslds,
    session: &Session,
    state: &[f32],
    from: usize,
    len: usize,
    tol: f64,
) -> Match {
    let device = model.points.device();
    let d = model.latent();
    let starts: Vec<usize> = (from..state.len() / 3 - len - 2).step_by(len).collect();
    let (u, _) = session.batch(&starts, len, &device);
    let roll = model.rollout(u, Tensor::zeros([starts.len(), d], &device));
    let h = roll.h.try_into_vec_as::<f32>().unwrap();
    // skip the first 20 bins of each chunk (state not yet identifiable from zero)
    let mut hs = Vec::new();
    let mut ss = Vec::new();
    for (c, &s0) in starts.iter().enumerate() {
        for t in 20..len {
            hs.extend_from_slice(&h[(c * len + t) * d..(c * len + t + 1) * d]);
            ss.extend_from_slice(&state[(s0 + t) * 3..(s0 + t + 1) * 3]);
        }
    }
    let w = affine_fit(&hs, &ss, d);
    let rows = hs.len() / d;
    let (mut sse, mut sst) = (0f64, 0f64);
    for r in 0..rows {
        for c in 0..3 {
            let pred = w[d * 3 + c]
                + (0..d)
                    .map(|i| hs[r * d + i] as f64 * w[i * 3 + c])
                    .sum::<f64>();
            sse += (pred - ss[r * 3 + c] as f64).powi(2);
            sst += (ss[r * 3 + c] as f64).powi(2);
        }
    }
    // Where does the GRU itself settle under the anchor input? Iterate F(h, u*) from 256
    // held-out states and map the end points.
    let attractor_corners = {
        let m = 256.min(rows);
        let stride = rows / m;
        let init: Vec<f32> = (0..m)
            .flat_map(|r| hs[r * stride * d..(r * stride + 1) * d].to_vec())
            .collect();
        let mut x = Tensor::<2>::from_data(burn::tensor::TensorData::new(init, [m, d]), &device);
        let u = model.anchor.val().repeat_dim(0, m);
        for _ in 0..300 {
            x = model.gru.step(u.clone(), x);
        }
        let xf = x.try_into_vec_as::<f32>().unwrap();
        // Distinct end points (latent distance > 0.05 apart) and the orthants they map into.
        let mut ends: Vec<&[f32]> = Vec::new();
        let mut orth = [false; 8];
        for r in 0..m {
            let v = &xf[r * d..(r + 1) * d];
            if ends.iter().all(|e| {
                e.iter()
                    .zip(v)
                    .map(|(a, b)| (a - b).powi(2))
                    .sum::<f32>()
                    .sqrt()
                    > 0.05
            }) {
                ends.push(v);
            }
            let o: usize = (0..3)
                .map(|c| {
                    let p = w[d * 3 + c] + (0..d).map(|i| v[i] as f64 * w[i * 3 + c]).sum::<f64>();
                    ((p > 0.0) as usize) << c
                })
                .sum();
            orth[o] = true;
        }
        eprintln!(
            "  GRU under u*: {} distinct end points (of {m}), in {} of 8 orthants",
            ends.len(),
            orth.iter().filter(|&&h| h).count()
        );
        let mut hit = [false; 8];
        for r in 0..m {
            let p: Vec<f64> = (0..3)
                .map(|c| {
                    w[d * 3 + c]
                        + (0..d)
                            .map(|i| xf[r * d + i] as f64 * w[i * 3 + c])
                            .sum::<f64>()
                })
                .collect();
            for corner in 0..8 {
                let dist: f64 = (0..3)
                    .map(|b| (p[b] - if corner >> b & 1 == 1 { 1.0 } else { -1.0 }).powi(2))
                    .sum::<f64>()
                    .sqrt();
                if dist <= tol {
                    hit[corner] = true;
                }
            }
        }
        hit.iter().filter(|&&h| h).count()
    };
    let e = model.points.val().try_into_vec_as::<f32>().unwrap();
    let k = model.regimes();
    let mapped: Vec<[f64; 3]> = (0..k)
        .map(|kk| {
            let mut o = [0f64; 3];
            for c in 0..3 {
                o[c] = w[d * 3 + c]
                    + (0..d)
                        .map(|i| e[kk * d + i] as f64 * w[i * 3 + c])
                        .sum::<f64>();
            }
            o
        })
        .collect();
    let (lin, _) = model.switching();
    let f = lin.f.try_into_vec_as::<f32>().unwrap();
    let fp_residual_max = (0..k)
        .map(|kk| {
            (0..d)
                .map(|i| (f[kk * d + i] - e[kk * d + i]).powi(2))
                .sum::<f32>()
                .sqrt()
        })
        .fold(0f32, f32::max);
    let orthants: usize = {
        let mut o = [false; 8];
        for p in &mapped {
            o[(0..3).map(|c| ((p[c] > 0.0) as usize) << c).sum::<usize>()] = true;
        }
        o.iter().filter(|&&h| h).count()
    };
    eprintln!("  expansion points in {orthants} of 8 orthants");
    let mut matched = 0;
    let mut worst: f64 = 0.0;
    for corner in 0..8 {
        let c: Vec<f64> = (0..3)
            .map(|b| if corner >> b & 1 == 1 { 1.0 } else { -1.0 })
            .collect();
        let best = mapped
            .iter()
            .map(|m| ((m[0] - c[0]).powi(2) + (m[1] - c[1]).powi(2) + (m[2] - c[2]).powi(2)).sqrt())
            .fold(f64::INFINITY, f64::min);
        worst = worst.max(best);
        if best <= tol {
            matched += 1;
        }
    }
    Match {
        attractor_corners,
        r2: 1.0 - sse / sst,
        mapped,
        matched,
        worst,
        fp_residual_max,
    }
}

fn main() {
    let args: HashMap<String, String> = std::env::args()
        .skip(1)
        .filter_map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let get = |k: &str, d: f64| {
        args.get(k)
            .map(|v| v.parse::<f64>().expect("number"))
            .unwrap_or(d)
    };
    let backend = match args.get("backend").map(String::as_str) {
        Some("ndarray") => Backend::Ndarray,
        _ => Backend::Flex,
    };
    let dflt = FlipFlopConfig::default();
    let ffc = FlipFlopConfig {
        bins: get("bins", 60000.0) as usize,
        state_rate: get("state_rate", dflt.state_rate),
        state_gain_sd: get("gain", dflt.state_gain_sd),
        pulse_prob: get("pulse_prob", dflt.pulse_prob),
        pulse_baseline: get("pulse_baseline", dflt.pulse_baseline),
        ..dflt
    };
    let ff = generate(&ffc);
    let n = ff.neurons;
    let defaults = TrainConfig::default();
    let cfg = TrainConfig {
        latent: get("latent", defaults.latent as f64) as usize,
        regimes: get("regimes", defaults.regimes as f64) as usize,
        steps: get("steps", defaults.steps as f64) as usize,
        seed: get("seed", 0.0) as u64,
        lr: get("lr", defaults.lr),
        batch: get("batch", defaults.batch as f64) as usize,
        chunk_len: get("chunk", defaults.chunk_len as f64) as usize,
        eval_every: get("eval_every", defaults.eval_every as f64) as usize,
        gate: get("gate", 0.0) > 0.0,
        reseed_until: get("reseed_until", defaults.reseed_until as f64) as usize,
        inputs: match args.get("inputs").map(String::as_str) {
            Some("pulse") => Some((0..6 * ffc.per_pulse_group).collect()),
            _ => None,
        },
        anchor: match args.get("anchor_kind").map(String::as_str) {
            Some("silent") => jslds_proto::train::Anchor::Silent,
            Some("learned") => jslds_proto::train::Anchor::Learned,
            _ if get("anchor", 0.0) > 0.0 => jslds_proto::train::Anchor::Learned,
            _ => jslds_proto::train::Anchor::Mean,
        },
        weights: jslds_proto::loss::LossWeights {
            approx: get("l_a", 10.0) as f32,
            fixed_point: get("l_fp", 100.0) as f32,
            lin: get("l_lin", 1.0) as f32,
            ..Default::default()
        },
        backend,
        ..defaults
    };
    let stop = get("stop", 0.0) > 0.0;
    let tol = get("tol", 0.3);
    eprintln!("config: {cfg:?}");
    // The session for corner matching must use the same transform as training: rebuild it.
    let heldout_start = ((ffc.bins as f64) * (1.0 - cfg.heldout_frac)) as usize;
    let input_idx: Vec<usize> = cfg.inputs.clone().unwrap_or_else(|| (0..n).collect());
    let transform = jslds_proto::input::InputTransform::fit(
        &jslds_proto::train::select_columns(&ff.counts[..heldout_start * n], n, &input_idx),
        input_idx.len(),
    );
    let session = Session::new(&ff.counts, n, &input_idx, &transform);
    // Reference NLLs on the held-out bins (next-bin Poisson NLL without log y!):
    // oracle = the true rate of bin t+1 given the state of bin t (pulse neurons at baseline),
    // mean = each neuron's mean training count.
    {
        let n_pulse = 6 * ffc.per_pulse_group;
        let mean: Vec<f64> = (0..n)
            .map(|i| {
                (0..heldout_start)
                    .map(|t| ff.counts[t * n + i] as f64)
                    .sum::<f64>()
                    / heldout_start as f64
            })
            .collect();
        let (mut oracle, mut meanr, mut bins) = (0f64, 0f64, 0f64);
        for t in heldout_start..ffc.bins - 1 {
            for i in 0..n {
                let y = ff.counts[(t + 1) * n + i] as f64;
                let lam = if i < n_pulse {
                    ffc.pulse_baseline
                } else {
                    ff.rates[t * n + i] as f64
                };
                oracle += lam - y * lam.ln();
                meanr += mean[i] - y * mean[i].max(1e-9).ln();
            }
            bins += 1.0;
        }
        eprintln!(
            "reference held-out NLL a bin: oracle {:.4}, mean-rate {:.4}",
            oracle / bins,
            meanr / bins
        );
    }
    let start = Instant::now();
    let mut t_err: Option<(usize, f64)> = None;
    let mut t_fp: Option<(usize, f64)> = None;
    let result = train(&ff.counts, n, &cfg, &mut |p, snap| {
        if p.step % 25 == 0 || p.eval.is_some() {
            eprintln!(
                "step {:5} {:6.1}s {:.2} st/s loss {:.4} nll {:.4} lin {:.4} fp {:.2e} approx {:.2e}",
                p.step,
                start.elapsed().as_secs_f64(),
                p.steps_per_s,
                p.loss[0],
                p.loss[1],
                p.loss[2],
                p.loss[3],
                p.loss[4]
            );
        }
        if let Some(e) = &p.eval {
            eprintln!(
                "  eval step {}: rel_err {:.4} (per-bin {:.4}) nll {:.4} nll_lin {:.4}",
                p.step, e.relative_error, e.relative_error_per_bin, e.nll, e.nll_lin
            );
            if e.relative_error <= 0.05 && t_err.is_none() {
                t_err = Some((p.step, start.elapsed().as_secs_f64()));
            }
            if let Some(m) = snap {
                let mc = match_corners(m, &session, &ff.state, heldout_start, 500, tol);
                eprintln!(
                    "  corners matched {}/8 (worst {:.3}), max fixed-point residual {:.2e}, affine R2 {:.3}, GRU attractor corners {}/8",
                    mc.matched, mc.worst, mc.fp_residual_max, mc.r2, mc.attractor_corners
                );
                if mc.matched == 8 && t_fp.is_none() {
                    t_fp = Some((p.step, start.elapsed().as_secs_f64()));
                }
            }
        }
        !(stop && t_err.is_some() && t_fp.is_some())
    });
    match result {
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
        Ok(trained) => {
            let m = match_corners(&trained.model, &session, &ff.state, heldout_start, 500, tol);
            let ev = evaluate(&trained.model, &session, heldout_start, ffc.bins, 500);
            println!(
                "final: steps {} train_s {:.1} steps/s {:.2} rel_err {:.4} per_bin {:.4} nll {:.4} nll_lin {:.4} corners_matched {}/8 (tol {tol}) worst {:.3} fp_residual_max {:.2e}",
                trained.history.len(),
                trained.train_seconds,
                trained.history.len() as f64 / trained.train_seconds,
                ev.relative_error,
                ev.relative_error_per_bin,
                ev.nll,
                ev.nll_lin,
                m.matched,
                m.worst,
                m.fp_residual_max
            );
            for (k, p) in m.mapped.iter().enumerate() {
                println!(
                    "  e_{k} -> true space [{:+.2} {:+.2} {:+.2}]",
                    p[0], p[1], p[2]
                );
            }
            println!(
                "affine R2 {:.3}; GRU attractor corners {}/8",
                m.r2, m.attractor_corners
            );
            println!("first rel_err<=0.05 at (step, s) {t_err:?}; first 8/8 corners at {t_fp:?}");
        }
    }
}
