//! The figures of `neuroloop jslds analyze --plots DIR` (SVG, no font or image libraries):
//!
//! * `eigenspectra.svg`: the eigenvalues of every regime's `J_h` in the complex plane with the
//!   unit circle (inside: decaying modes; angle: frequency), one colour per regime;
//! * `latent_pcs.svg`: the held-out GRU states in their top two principal components, each bin
//!   coloured by its regime, with the expansion points (large, outlined) in the same plane;
//! * `training_curves.svg`: the loss parts against the optimiser step (log scale) and the
//!   held-out relative error of the linear path.
//!
//! Each file is rendered in memory and written atomically.

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use plotters::prelude::*;

use super::pca::Pca;
use super::report::Report;
use super::view::View;
use crate::export::write_atomic;

/// Most held-out bins drawn in `latent_pcs.svg` (the first ones; more only blurs the figure).
pub const MAX_TRAJECTORY_BINS: usize = 4000;

const SIZE: (u32, u32) = (720, 640);

fn colour(k: usize) -> RGBColor {
    let c = Palette99::pick(k).to_rgba();
    RGBColor(c.0, c.1, c.2)
}

fn draw_err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("drawing: {e}")
}

/// Writes every figure into `dir` (created if missing); returns the file names.
pub fn write_all(dir: &Path, view: &View, report: &Report) -> Result<Vec<String>> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create the plots folder", dir.display()))?;
    let figures: [(&str, String); 3] = [
        ("eigenspectra.svg", eigenspectra(report)?),
        ("latent_pcs.svg", latent_pcs(view)?),
        ("training_curves.svg", training_curves(view)?),
    ];
    let mut names = Vec::new();
    for (name, svg) in figures {
        write_atomic(&dir.join(name), svg.as_bytes())?;
        names.push(name.to_string());
    }
    Ok(names)
}

/// Eigenvalues of every regime with the unit circle.
pub fn eigenspectra(report: &Report) -> Result<String> {
    let mut svg = String::new();
    {
        let lim = report
            .regimes
            .iter()
            .flat_map(|r| r.eigenvalues.iter())
            .map(|e| e[0].abs().max(e[1].abs()))
            .fold(1.0f64, f64::max)
            * 1.1;
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Eigenvalues of J_h per regime", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(-lim..lim, -lim..lim)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc("Re")
            .y_desc("Im")
            .draw()
            .map_err(draw_err)?;
        let circle: Vec<(f64, f64)> = (0..=360)
            .map(|i| {
                let a = (i as f64).to_radians();
                (a.cos(), a.sin())
            })
            .collect();
        chart
            .draw_series(LineSeries::new(circle, BLACK.stroke_width(1)))
            .map_err(draw_err)?;
        for r in &report.regimes {
            let c = colour(r.regime);
            let style = if r.occupancy > 0.0 {
                c.filled()
            } else {
                c.mix(0.35).filled()
            };
            chart
                .draw_series(
                    r.eigenvalues
                        .iter()
                        .map(move |e| Circle::new((e[0], e[1]), 4, style)),
                )
                .map_err(draw_err)?
                .label(format!(
                    "regime {} ({:.0} %)",
                    r.regime,
                    100.0 * r.occupancy
                ))
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, style));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

/// Held-out trajectory and expansion points in the top two principal components of `H`.
pub fn latent_pcs(view: &View) -> Result<String> {
    let ho = &view.heldout;
    let n = ho.h.rows.min(MAX_TRAJECTORY_BINS);
    let pca = Pca::fit(&ho.h, 2);
    let proj = |p: &[f64]| -> (f64, f64) {
        let v = pca.project(p);
        (v[0], v.get(1).copied().unwrap_or(0.0))
    };
    let traj: Vec<((f64, f64), usize)> =
        (0..n).map(|t| (proj(ho.h.row(t)), ho.regime[t])).collect();
    let points: Vec<(f64, f64)> = view.regimes.iter().map(|r| proj(&r.point)).collect();
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in traj.iter().map(|(p, _)| p).chain(points.iter()) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let pad = |a: f64, b: f64| {
        let w = (b - a).max(1e-9) * 0.05;
        (a - w)..(b + w)
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let ev = |i: usize| 100.0 * pca.explained.get(i).copied().unwrap_or(0.0);
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Held-out latent states and expansion points (colour: regime)",
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(pad(x0, x1), pad(y0, y1))
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc(format!("PC1 ({:.0} % of variance)", ev(0)))
            .y_desc(format!("PC2 ({:.0} % of variance)", ev(1)))
            .draw()
            .map_err(draw_err)?;
        chart
            .draw_series(
                traj.iter()
                    .map(|&(p, k)| Circle::new(p, 1, colour(k).mix(0.5).filled())),
            )
            .map_err(draw_err)?;
        for (k, &p) in points.iter().enumerate() {
            let c = colour(k);
            chart
                .draw_series([
                    Circle::new(p, 7, c.filled()),
                    Circle::new(p, 7, BLACK.stroke_width(2)),
                ])
                .map_err(draw_err)?
                .label(format!("regime {k}"))
                .legend(move |(x, y)| Circle::new((x + 8, y), 5, c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

/// Loss parts (log10) and held-out relative error against the step.
pub fn training_curves(view: &View) -> Result<String> {
    let c = &view.curves;
    let series: [(&str, &Vec<f32>); 5] = [
        ("total", &c.total),
        ("NLL (GRU)", &c.nll),
        ("NLL (linear)", &c.nll_linear),
        ("fixed point", &c.fixed_point),
        ("approximation", &c.approx),
    ];
    let steps: Vec<f64> = c.step.iter().map(|&s| s as f64).collect();
    let last = steps
        .iter()
        .copied()
        .chain(c.eval.iter().map(|e| e.step as f64))
        .fold(1.0, f64::max);
    let logs: Vec<(&str, Vec<(f64, f64)>)> = series
        .iter()
        .map(|(name, v)| {
            let pts = steps
                .iter()
                .zip(v.iter())
                .filter(|(_, &y)| y.is_finite() && y > 0.0)
                .map(|(&x, &y)| (x, f64::from(y).log10()))
                .collect();
            (*name, pts)
        })
        .collect();
    let (mut y0, mut y1) = (f64::MAX, f64::MIN);
    for (_, pts) in &logs {
        for &(_, y) in pts {
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
    }
    if y0 > y1 {
        (y0, y1) = (-1.0, 1.0);
    }
    let rel: Vec<(f64, f64)> = c
        .eval
        .iter()
        .filter(|e| e.relative_error.is_finite())
        .map(|e| (e.step as f64, f64::from(e.relative_error)))
        .collect();
    let rel_max = rel.iter().map(|p| p.1).fold(0.1, f64::max) * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (SIZE.0, SIZE.1 + 200)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let (top, bottom) = root.split_vertically(SIZE.1 as i32 - 120);
        let mut chart = ChartBuilder::on(&top)
            .caption("Training loss parts (log10)", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0.0..last, (y0 - 0.1)..(y1 + 0.1))
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc("log10 loss")
            .draw()
            .map_err(draw_err)?;
        for (i, (name, pts)) in logs.into_iter().enumerate() {
            let col = colour(i);
            chart
                .draw_series(LineSeries::new(pts, col.stroke_width(2)))
                .map_err(draw_err)?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], col));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&bottom)
            .caption("Held-out relative error |h - a| / |h|", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0.0..last, 0.0..rel_max)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc("relative error")
            .draw()
            .map_err(draw_err)?;
        chart
            .draw_series(LineSeries::new(rel.clone(), colour(0).stroke_width(2)))
            .map_err(draw_err)?;
        chart
            .draw_series(rel.iter().map(|&p| Circle::new(p, 3, colour(0).filled())))
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}
