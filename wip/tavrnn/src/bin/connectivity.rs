//! Trains TAVRNN and VGRNN on a `simulate connectivity` session and scores window embeddings
//! and the baselines (correlation, PCA of rates) on the same folds.
//! Usage: connectivity [key=value ...]; keys: neurons duration seed window_s step_s theta topk
//! features(identity|corr) steps batch chunk hidden latent phi lr att_window kl models
//! (tavrnn,vgrnn) backend(flex|ndarray) folds embed(mean|hist|both) train_seed

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use indicatif::ProgressBar;
use neuroloop_trainer::data::{LoadOptions, labels, load_counts};
use neuroloop_trainer::graph::{FeatureKind, GraphConfig, GraphSequence, Symmetrise, TopK};
use neuroloop_trainer::simulate::{Options, Scenario, simulate, write_session};
use tavrnn_proto::baselines::{correlation_features, pca, window_rates};
use tavrnn_proto::embed::embed;
use tavrnn_proto::eval::{Scores, cross_validate, segment_folds};
use tavrnn_proto::input::WindowData;
use tavrnn_proto::train::{Backend, TrainConfig, train};

fn main() {
    let args: HashMap<String, String> = std::env::args()
        .skip(1)
        .filter_map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let get = |k: &str, d: &str| args.get(k).cloned().unwrap_or_else(|| d.to_string());
    let num = |k: &str, d: &str| get(k, d).parse::<f64>().expect(k);
    let neurons = num("neurons", "64") as usize;
    let duration = num("duration", "600");
    let seed = num("seed", "1") as u64;

    // 1. Session, through the project's simulator, writer and readers.
    let dir = PathBuf::from(format!("/tmp/tavrnn-conn-n{neurons}-d{duration}-s{seed}"));
    if !dir.join("behavior.csv").exists() {
        let t = Instant::now();
        let opts = Options {
            seed,
            neurons: Some(neurons),
            duration_s: Some(duration),
            bin_ms: Some(10.0),
        };
        let s = simulate(Scenario::Connectivity, &opts, &ProgressBar::hidden()).expect("simulate");
        write_session(&s, &dir).expect("write");
        eprintln!(
            "simulated {} in {:.1} s",
            dir.display(),
            t.elapsed().as_secs_f64()
        );
    }
    let counts = load_counts(&dir.join("phy"), &LoadOptions::new(0.01)).expect("counts");
    let labs = labels::read_csv(&dir.join("behavior.csv")).expect("labels");
    let classes = labs.classes.len();

    // 2. Graphs.
    let topk = num("topk", "0") as usize;
    let gcfg = GraphConfig {
        window_s: num("window_s", "4"),
        step_s: num("step_s", "2"),
        theta: num("theta", "0.1"),
        top_k: (topk > 0).then_some(TopK {
            k: topk,
            symmetrise: Symmetrise::Union,
        }),
        surrogate: None,
        history_node: true,
        features: if get("features", "identity") == "corr" {
            FeatureKind::AbsCorrelation
        } else {
            FeatureKind::Identity
        },
    };
    let t = Instant::now();
    let seq = GraphSequence::build(&counts, &gcfg).expect("graphs");
    let wl = seq.labels(&labs);
    let labelled = wl.iter().filter(|l| l.is_some()).count();
    let mean_edges = seq.windows.iter().map(|w| w.edges as f64).sum::<f64>() / seq.len() as f64;
    eprintln!(
        "graphs: {} windows ({} labelled) of {} bins, {:.0} edges/window on average, {:.2} s",
        seq.len(),
        labelled,
        seq.windowing.window_bins,
        mean_edges,
        t.elapsed().as_secs_f64()
    );
    let mut balance = vec![0usize; classes];
    wl.iter().flatten().for_each(|&c| balance[c] += 1);
    let chance = *balance.iter().max().unwrap() as f64 / labelled as f64;
    eprintln!(
        "classes {:?}, balance {balance:?}, majority chance {chance:.3}",
        labs.classes
    );

    // 3. Folds (the same for every method).
    let k = num("folds", "5") as usize;
    let gap = seq.windowing.window_bins.div_ceil(seq.windowing.step_bins);
    let folds = segment_folds(&wl, k, gap);
    for (i, f) in folds.iter().enumerate() {
        eprintln!("fold {i}: train {} test {}", f.train.len(), f.test.len());
    }
    let report = |name: &str, s: &Scores| {
        println!(
            "RESULT {name:<12} accuracy {:.4} macro_f1 {:.4} per_class {:?} lambdas {:?} windows {}",
            s.accuracy,
            s.macro_f1,
            s.per_class_f1
                .iter()
                .map(|v| (v * 1000.0).round() / 1000.0)
                .collect::<Vec<_>>(),
            s.lambdas,
            s.windows
        );
    };

    // 4. Baselines.
    let corr = correlation_features(&seq);
    report(
        "correlation",
        &cross_validate(&corr, &wl, classes, &folds, gap),
    );
    let latent = num("latent", "16") as usize;
    let rates = window_rates(&seq, &counts);
    report(
        "pca_rates",
        &cross_validate(&pca(&rates, latent), &wl, classes, &folds, gap),
    );

    // 5. TAVRNN / VGRNN.
    let data = WindowData::from_sequence(&seq).expect("window data");
    for model in get("models", "tavrnn,vgrnn").split(',') {
        let cfg = TrainConfig {
            hidden: num("hidden", "32") as usize,
            latent,
            d_phi: num("phi", "32") as usize,
            d_enc: num("enc", "32") as usize,
            attention: model == "tavrnn",
            window: num("att_window", "4") as usize,
            chunk_len: num("chunk", "16") as usize,
            batch: num("batch", "8") as usize,
            steps: num("steps", "300") as usize,
            lr: num("lr", "0.003"),
            clip_norm: num("clip", "5") as f32,
            kl_weight: args.get("kl").map(|v| v.parse().expect("kl")),
            divergence_factor: 100.0,
            seed: num("train_seed", "0") as u64,
            backend: if get("backend", "flex") == "ndarray" {
                Backend::Ndarray
            } else {
                Backend::Flex
            },
        };
        let every = (cfg.steps / 10).max(1);
        let trained = train(&data, &cfg, &mut |p| {
            if p.step % every == 0 || p.step == 1 {
                eprintln!(
                    "{model} step {:>5} loss {:.4} bce {:.4} kl {:.3} ({:.2} steps/s)",
                    p.step, p.loss[0], p.loss[1], p.loss[2], p.steps_per_s
                );
            }
            true
        })
        .unwrap_or_else(|e| panic!("{model}: {e}"));
        let t = Instant::now();
        let emb = embed(&trained.model, &data);
        let embed_s = t.elapsed().as_secs_f64();
        if let Err(e) = emb.check_finite() {
            println!("ERROR {model}: {e}");
        }
        let steps = trained.history.len();
        println!(
            "TIMING {model} train {:.1} s, {steps} steps, {:.2} steps/s, {:.1} windows/s; embed {:.2} s",
            trained.train_seconds,
            steps as f64 / trained.train_seconds,
            (steps * cfg.batch * cfg.chunk_len) as f64 / trained.train_seconds,
            embed_s
        );
        let to64 = |v: &Vec<Vec<f32>>| -> Vec<Vec<f64>> {
            v.iter()
                .map(|r| r.iter().map(|&x| f64::from(x)).collect())
                .collect()
        };
        report(
            model,
            &cross_validate(&to64(&emb.window), &wl, classes, &folds, gap),
        );
        if get("embed", "mean") != "mean" {
            report(
                &format!("{model}_hist"),
                &cross_validate(&to64(&emb.history), &wl, classes, &folds, gap),
            );
        }
        report(
            &format!("{model}_nodes"),
            &cross_validate(&to64(&emb.nodes), &wl, classes, &folds, gap),
        );
        if !emb.attention.is_empty() {
            let w = emb.attention.last().map_or(0, |a| a.len());
            let mut mean = vec![0f64; w];
            let full: Vec<_> = emb.attention.iter().filter(|a| a.len() == w).collect();
            for a in &full {
                for (m, v) in mean.iter_mut().zip(a.iter()) {
                    *m += f64::from(*v) / full.len() as f64;
                }
            }
            println!("ATTENTION {model} mean weights (oldest first) {mean:.3?}");
        }
    }
}
