//! Figures of `neuroloop tavrnn eval --plots DIR` (SVG, plotters; each file written
//! atomically):
//! * `embeddings.svg` — window embeddings projected on their first two principal components,
//!   coloured by behaviour (TAVRNN and VGRNN side by side);
//! * `attention.svg` — the attention weight of each lag over time (TAVRNN);
//! * `similarity.svg` — per behaviour, the mean over its windows of the cosine similarity of
//!   every pair of neurons' embeddings (mu, centred on the window's mean over neurons: the
//!   common offset of all nodes would otherwise make every cosine close to 1);
//! * `training.svg` — loss, BCE and KL per optimiser step.

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::export::write_atomic;
use crate::tavrnn::baselines::pca;
use crate::tavrnn::embed::Embeddings;
use crate::tavrnn::train::Progress;

const SIZE: (u32, u32) = (1000, 500);

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing a figure: {e:?}")
}

fn colour(i: usize) -> RGBColor {
    const C: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(23, 190, 207),
    ];
    C[i % C.len()]
}

/// Renders into an SVG string with `draw`, then writes it to `path` atomically.
fn svg(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<()>,
) -> Result<()> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    write_atomic(path, text.as_bytes())
}

fn range(v: impl Iterator<Item = f64> + Clone) -> std::ops::Range<f64> {
    let lo = v.clone().fold(f64::INFINITY, f64::min);
    let hi = v.fold(f64::NEG_INFINITY, f64::max);
    if !(lo.is_finite() && hi.is_finite()) {
        return 0.0..1.0;
    }
    let pad = ((hi - lo) * 0.05).max(1e-9);
    (lo - pad)..(hi + pad)
}

fn scatter(
    area: &DrawingArea<SVGBackend, Shift>,
    title: &str,
    emb: &[Vec<f32>],
    labels: &[Option<usize>],
    classes: &[String],
) -> Result<()> {
    let x: Vec<Vec<f64>> = emb
        .iter()
        .map(|r| r.iter().map(|&v| f64::from(v)).collect())
        .collect();
    let p = pca(&x, 2);
    let xy: Vec<(f64, f64)> = p
        .iter()
        .map(|r| {
            (
                r.first().copied().unwrap_or(0.0),
                r.get(1).copied().unwrap_or(0.0),
            )
        })
        .collect();
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(range(xy.iter().map(|p| p.0)), range(xy.iter().map(|p| p.1)))
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("PC 1")
        .y_desc("PC 2")
        .draw()
        .map_err(err)?;
    let unlabelled: Vec<(f64, f64)> = xy
        .iter()
        .zip(labels)
        .filter(|(_, l)| l.is_none())
        .map(|(p, _)| *p)
        .collect();
    chart
        .draw_series(
            unlabelled
                .iter()
                .map(|&p| Circle::new(p, 2, RGBColor(190, 190, 190).filled())),
        )
        .map_err(err)?
        .label("unlabelled")
        .legend(|(x, y)| Circle::new((x, y), 3, RGBColor(190, 190, 190).filled()));
    for (c, name) in classes.iter().enumerate() {
        let col = colour(c);
        let pts: Vec<(f64, f64)> = xy
            .iter()
            .zip(labels)
            .filter(|(_, l)| **l == Some(c))
            .map(|(p, _)| *p)
            .collect();
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 3, col.filled())))
            .map_err(err)?
            .label(name.as_str())
            .legend(move |(x, y)| Circle::new((x, y), 3, col.filled()));
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// Window embeddings of TAVRNN and VGRNN on their first two principal components.
pub fn embeddings(
    path: &Path,
    tavrnn: &Embeddings,
    vgrnn: &Embeddings,
    labels: &[Option<usize>],
    classes: &[String],
) -> Result<()> {
    svg(path, SIZE, |root| {
        let areas = root.split_evenly((1, 2));
        scatter(
            &areas[0],
            "TAVRNN window embeddings (node-ordered mu), PCA",
            &tavrnn.nodes,
            labels,
            classes,
        )?;
        scatter(
            &areas[1],
            "VGRNN window embeddings (node-ordered mu), PCA",
            &vgrnn.nodes,
            labels,
            classes,
        )
    })
}

/// Attention weight of each lag over the windows (lag 0 = the oldest state attended).
pub fn attention(path: &Path, att: &[Vec<f32>], window_s: f64, step_s: f64) -> Result<()> {
    let w = att.iter().map(Vec::len).max().unwrap_or(0);
    svg(path, SIZE, |root| {
        let t_end = att.len() as f64 * step_s + window_s;
        let mut chart = ChartBuilder::on(root)
            .caption(
                "TAVRNN temporal attention over the last w hidden states",
                ("sans-serif", 18),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(0.0..t_end.max(1.0), 0.0..1.0)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("window end, s from the start")
            .y_desc("attention weight")
            .draw()
            .map_err(err)?;
        for lag in 0..w {
            let col = colour(lag);
            let pts: Vec<(f64, f64)> = att
                .iter()
                .enumerate()
                .filter(|(_, a)| a.len() == w)
                .map(|(i, a)| (i as f64 * step_s + window_s, f64::from(a[lag])))
                .collect();
            let name = if lag + 1 == w {
                "current window".to_string()
            } else {
                format!("{} windows back", w - 1 - lag)
            };
            chart
                .draw_series(LineSeries::new(pts, col))
                .map_err(err)?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], col));
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.8))
            .draw()
            .map_err(err)?;
        Ok(())
    })
}

/// Mean cosine similarity of neuron embeddings (each window's node mu centred on their mean
/// over neurons), per class: `[class][n * n]`.
pub fn similarity_matrices(
    emb: &Embeddings,
    labels: &[Option<usize>],
    classes: usize,
) -> Vec<Vec<f64>> {
    let d = emb.latent.max(1);
    let n = emb.nodes.first().map_or(0, |r| r.len() / d);
    let mut sums = vec![vec![0f64; n * n]; classes];
    let mut counts = vec![0usize; classes];
    for (row, l) in emb.nodes.iter().zip(labels) {
        let Some(c) = *l else { continue };
        counts[c] += 1;
        let mut mean = vec![0f32; d];
        for i in 0..n {
            for (m, v) in mean.iter_mut().zip(&row[i * d..(i + 1) * d]) {
                *m += v / n as f32;
            }
        }
        let row: Vec<f32> = row
            .chunks_exact(d)
            .flat_map(|node| node.iter().zip(&mean).map(|(v, m)| v - m))
            .collect();
        let norms: Vec<f64> = (0..n)
            .map(|i| {
                row[i * d..(i + 1) * d]
                    .iter()
                    .map(|&v| f64::from(v) * f64::from(v))
                    .sum::<f64>()
                    .sqrt()
                    .max(1e-12)
            })
            .collect();
        for i in 0..n {
            for j in 0..n {
                let dot: f64 = row[i * d..(i + 1) * d]
                    .iter()
                    .zip(&row[j * d..(j + 1) * d])
                    .map(|(&a, &b)| f64::from(a) * f64::from(b))
                    .sum();
                sums[c][i * n + j] += dot / (norms[i] * norms[j]);
            }
        }
    }
    for (s, &k) in sums.iter_mut().zip(&counts) {
        if k > 0 {
            s.iter_mut().for_each(|v| *v /= k as f64);
        }
    }
    sums
}

/// Blue (-1) - white (0) - red (+1).
fn diverging(v: f64) -> RGBColor {
    let v = v.clamp(-1.0, 1.0);
    let f = |a: f64| (255.0 * (1.0 - a)) as u8;
    if v >= 0.0 {
        RGBColor(255, f(v), f(v))
    } else {
        RGBColor(f(-v), f(-v), 255)
    }
}

/// One heat map a behaviour of the per-neuron embedding similarity.
pub fn similarity(
    path: &Path,
    emb: &Embeddings,
    labels: &[Option<usize>],
    classes: &[String],
) -> Result<()> {
    let mats = similarity_matrices(emb, labels, classes.len());
    let d = emb.latent.max(1);
    let n = emb.nodes.first().map_or(0, |r| r.len() / d);
    let k = classes.len().max(1);
    svg(path, (420 * k as u32, 460), |root| {
        let areas = root.split_evenly((1, k));
        for ((area, name), m) in areas.iter().zip(classes).zip(&mats) {
            let mut chart = ChartBuilder::on(area)
                .caption(
                    format!("{name}: cos(mu_i, mu_j), centred, TAVRNN"),
                    ("sans-serif", 16),
                )
                .margin(10)
                .x_label_area_size(25)
                .y_label_area_size(30)
                .build_cartesian_2d(0..n, 0..n)
                .map_err(err)?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_desc("neuron")
                .y_desc("neuron")
                .draw()
                .map_err(err)?;
            chart
                .draw_series((0..n).flat_map(|i| {
                    (0..n).map(move |j| {
                        Rectangle::new([(j, i), (j + 1, i + 1)], diverging(m[i * n + j]).filled())
                    })
                }))
                .map_err(err)?;
        }
        Ok(())
    })
}

/// Reads one curve's value out of a step.
type Getter = fn(&Progress) -> f64;

/// Loss, BCE and KL per step of each model (`(name, history)`).
pub fn training(path: &Path, runs: &[(&str, &[Progress])]) -> Result<()> {
    svg(path, SIZE, |root| {
        let areas = root.split_evenly((1, 2));
        let panels: [(&str, Getter); 2] = [
            ("reconstruction BCE (solid) and total loss (dashed)", |p| {
                f64::from(p.bce)
            }),
            ("KL(q || prior)", |p| f64::from(p.kl)),
        ];
        for (area, (title, get)) in areas.iter().zip(panels) {
            let steps = runs.iter().map(|r| r.1.len()).max().unwrap_or(1).max(1);
            let ys = runs
                .iter()
                .flat_map(|r| r.1.iter().flat_map(move |p| [get(p), f64::from(p.loss)]));
            let yr = if title.starts_with("KL") {
                range(runs.iter().flat_map(|r| r.1.iter().map(get)))
            } else {
                range(ys)
            };
            let mut chart = ChartBuilder::on(area)
                .caption(title, ("sans-serif", 16))
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(50)
                .build_cartesian_2d(0.0..steps as f64, yr)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("optimiser step")
                .draw()
                .map_err(err)?;
            for (i, (name, hist)) in runs.iter().enumerate() {
                let col = colour(i);
                chart
                    .draw_series(LineSeries::new(
                        hist.iter().map(|p| (p.step as f64, get(p))),
                        col,
                    ))
                    .map_err(err)?
                    .label(*name)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], col));
                if !title.starts_with("KL") {
                    chart
                        .draw_series(DashedLineSeries::new(
                            hist.iter().map(|p| (p.step as f64, f64::from(p.loss))),
                            4,
                            3,
                            col.into(),
                        ))
                        .map_err(err)?;
                }
            }
            chart
                .configure_series_labels()
                .border_style(BLACK)
                .background_style(WHITE.mix(0.8))
                .draw()
                .map_err(err)?;
        }
        Ok(())
    })
}
