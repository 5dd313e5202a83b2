//! `selfplay liveness-plot`: the stake needed to stop Snowball's liveness
//! against n, as the paper plots it, from the CSV files
//! `selfplay liveness-threshold --csv` writes: for each file and adversary,
//! at each n, the smallest searched f stalling at least half of the
//! episodes, as a share of n. An SVG (no system fonts needed).

use super::game::SnowballRow;
use crate::export::write_atomic;
use anyhow::Context;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The flags of `selfplay liveness-plot`.
#[derive(clap::Args, Debug, Clone)]
pub struct PlotArgs {
    /// A threshold CSV with the label its curves take, LABEL=PATH (an empty
    /// label: the adversaries' names alone); repeatable.
    #[arg(long = "csv", value_name = "LABEL=PATH", required = true)]
    pub csv: Vec<String>,
    /// A point drawn as a cross, LABEL=N:SHARE (e.g. a paper's figure); repeatable.
    #[arg(long = "point", value_name = "LABEL=N:SHARE")]
    pub points: Vec<String>,
    /// The SVG to write.
    #[arg(long)]
    pub out: PathBuf,
}

/// Each curve's thresholds: label -> n -> share (`None`: none stalled up
/// to the largest f searched).
pub type Curves = BTreeMap<String, BTreeMap<u32, Option<f64>>>;

/// The thresholds of one file's rows, a curve per adversary.
pub fn thresholds(label: &str, rows: &[SnowballRow]) -> Curves {
    let mut curves = Curves::new();
    for r in rows {
        let name = match label {
            "" => r.adversary.clone(),
            l => format!("{l} {}", r.adversary),
        };
        let at = curves.entry(name).or_default().entry(r.n).or_insert(None);
        if 2 * r.stalled >= r.eval_episodes {
            let share = r.f as f64 / r.n as f64;
            *at = Some(at.map_or(share, |s: f64| s.min(share)));
        }
    }
    curves
}

fn split_label(s: &str) -> Result<(&str, &str), String> {
    s.split_once('=')
        .ok_or_else(|| format!("{s}: needs LABEL=VALUE"))
}

/// Runs `selfplay liveness-plot`.
pub fn command(a: &PlotArgs) -> Result<(), String> {
    let mut curves = Curves::new();
    for spec in &a.csv {
        let (label, path) = split_label(spec)?;
        let rows = super::game::read(std::path::Path::new(path))
            .map_err(|e| format!("--csv {path}: {e:#}"))?;
        curves.extend(thresholds(label, &rows));
    }
    let mut points = vec![];
    for spec in &a.points {
        let (label, at) = split_label(spec)?;
        let parsed = at
            .split_once(':')
            .and_then(|(n, s)| Some((n.parse::<f64>().ok()?, s.parse::<f64>().ok()?)));
        let Some((n, share)) = parsed else {
            return Err(format!(
                "--point {spec}: needs LABEL=N:SHARE, e.g. paper=2000:0.052"
            ));
        };
        points.push((label.to_string(), n, share));
    }
    draw(&curves, &points, &a.out).map_err(|e| format!("{e:#}"))?;
    crate::outln!("wrote {}", a.out.display());
    Ok(())
}

const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The figure: share of n (in %) against n, a line per curve, a cross per point.
pub fn draw(curves: &Curves, points: &[(String, f64, f64)], out: &Path) -> anyhow::Result<()> {
    let all_n = curves
        .values()
        .flat_map(|c| c.keys().map(|&n| n as f64))
        .chain(points.iter().map(|p| p.1));
    let (lo_n, hi_n) = all_n.fold((f64::MAX, 0.0f64), |(lo, hi), n| (lo.min(n), hi.max(n)));
    let (lo_n, hi_n) = if lo_n > hi_n {
        (0.0, 1.0)
    } else {
        (lo_n, hi_n)
    };
    let pad = ((hi_n - lo_n) * 0.05).max(10.0);
    let top = curves
        .values()
        .flat_map(|c| c.values().flatten().copied())
        .chain(points.iter().map(|p| p.2))
        .fold(0.01f64, f64::max)
        * 100.0
        * 1.15;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1000, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let (plot_area, legend_area) = root.split_horizontally(700);
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(
                "Byzantine share stopping Snowball's liveness in half of the episodes",
                ("sans-serif", 16),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d((lo_n - pad)..(hi_n + pad), 0.0..top)?;
        chart
            .configure_mesh()
            .x_desc("n (nodes)")
            .y_desc("Byzantine share (% of n)")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        let mut k = 0;
        for (name, c) in curves {
            let colour = COLOURS[k % COLOURS.len()];
            let pts: Vec<(f64, f64)> = c
                .iter()
                .filter_map(|(&n, s)| s.map(|s| (n as f64, 100.0 * s)))
                .collect();
            let style = ShapeStyle::from(colour).stroke_width(2);
            chart.draw_series(LineSeries::new(pts.clone(), style))?;
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, colour.filled())))?;
            let y = 60 + 22 * k as i32;
            legend_area.draw(&PathElement::new(vec![(4, y), (30, y)], style))?;
            legend_area.draw(&Text::new(name.as_str(), (36, y - 7), ("sans-serif", 13)))?;
            k += 1;
        }
        for (label, n, share) in points {
            let colour = COLOURS[k % COLOURS.len()];
            chart.draw_series(std::iter::once(Cross::new(
                (*n, 100.0 * share),
                7,
                ShapeStyle::from(colour).stroke_width(3),
            )))?;
            let y = 60 + 22 * k as i32;
            legend_area.draw(&Cross::new(
                (17, y),
                6,
                ShapeStyle::from(colour).stroke_width(3),
            ))?;
            legend_area.draw(&Text::new(label.as_str(), (36, y - 7), ("sans-serif", 13)))?;
            k += 1;
        }
        root.present()?;
    }
    write_atomic(out, svg.as_bytes()).with_context(|| format!("cannot write {}", out.display()))
}
