//! `selfplay plot RUN_DIR`: learning curves from `metrics.csv` as SVG. SVG
//! text needs no system fonts. One figure, three panels sharing the episode
//! axis: win rates, the learned attack next to the optimum, learner losses.
//!
//! Every game's run folder is plotted from the columns its rows have: a
//! consensus or sampling-game run by `episodes`, a reliable-broadcast run
//! likewise (no win rates: its panels are the attack and the learners), a
//! hardening run by its rows, one per iteration, every attempt in turn (its
//! `honest_episodes` start over with each attempt). A column a game does
//! not write is left out, never indexed.

use crate::export::write_atomic;
use anyhow::{bail, Context};
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The columns of `metrics.csv` by name, parsed as numbers (empty: missing).
struct Table {
    columns: BTreeMap<String, Vec<Option<f64>>>,
    /// Each row's Byzantine team (names the bars of an evaluation run).
    byzantine: Vec<String>,
    rows: usize,
}

impl Table {
    fn read(path: &Path) -> anyhow::Result<Table> {
        let mut r = csv::Reader::from_path(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let headers: Vec<String> = r
            .headers()
            .with_context(|| format!("{}: not a metrics file", path.display()))?
            .iter()
            .map(str::to_string)
            .collect();
        let mut columns: BTreeMap<String, Vec<Option<f64>>> =
            headers.iter().map(|h| (h.clone(), vec![])).collect();
        let mut rows = 0;
        let mut byzantine = vec![];
        for rec in r.records() {
            let rec = rec.with_context(|| format!("{}: a malformed row", path.display()))?;
            let at = headers.iter().position(|h| h == "byzantine");
            byzantine.push(at.and_then(|k| rec.get(k)).unwrap_or("").to_string());
            for (h, v) in headers.iter().zip(rec.iter()) {
                let x = match v {
                    "true" => Some(1.0),
                    "false" => Some(0.0),
                    // An infinite or NaN cell would make an axis without
                    // end: left out like an empty one.
                    v => v.parse().ok().filter(|x: &f64| x.is_finite()),
                };
                columns.get_mut(h).expect("a header").push(x);
            }
            rows += 1;
        }
        // A hardening run's rows are its iterations: the axis counts them.
        if columns.contains_key("iteration") && columns.contains_key("attempt") {
            let at = (0..rows).map(|k| Some(k as f64)).collect();
            columns.insert(ITERATIONS.into(), at);
        }
        Ok(Table {
            columns,
            byzantine,
            rows,
        })
    }

    /// The column the curves run along, with the axis's words: `episodes`
    /// in every game's training rows, a hardening run's iterations; `None`
    /// when the file has neither.
    fn x_axis(&self) -> Option<(&'static str, &'static str)> {
        [
            ("episodes", "training episodes"),
            (ITERATIONS, "hardening iterations (every attempt in turn)"),
        ]
        .into_iter()
        .find(|(c, _)| self.columns.contains_key(*c))
    }

    /// `(episodes, value)` points of a column, skipping empty cells.
    fn series(&self, name: &str) -> Vec<(f64, f64)> {
        let Some((x, _)) = self.x_axis() else {
            return vec![];
        };
        let (Some(x), Some(y)) = (self.columns.get(x), self.columns.get(name)) else {
            return vec![];
        };
        x.iter()
            .zip(y)
            .filter_map(|(x, y)| Some(((*x)?, (*y)?)))
            .collect()
    }
}

/// The column a hardening run's rows are counted in (not in its file).
const ITERATIONS: &str = " iterations";

/// A line of a panel: column, legend label, colour, dashed.
type Line = (&'static str, &'static str, RGBColor, bool);

const PANELS: [(&str, &[Line]); 3] = [
    (
        "win rates",
        &[
            (
                "honest_win_rate",
                "honest win (sampled)",
                RGBColor(31, 119, 180),
                false,
            ),
            (
                "exact_honest_win_rate",
                "honest win (exact, greedy)",
                RGBColor(31, 119, 180),
                true,
            ),
            (
                "byzantine_win_rate",
                "byzantine win (sampled)",
                RGBColor(214, 39, 40),
                false,
            ),
        ],
    ),
    (
        "learned attack vs optimum",
        &[
            (
                "exact_attack_rate",
                "attack rate (exact, greedy)",
                RGBColor(214, 39, 40),
                false,
            ),
            (
                "attack_rate",
                "attack rate (sampled; sampling game, reliable broadcast, harden: greedy)",
                RGBColor(255, 127, 14),
                false,
            ),
            (
                "optimal_attack_rate",
                "optimal attack rate (verifier)",
                RGBColor(0, 0, 0),
                true,
            ),
        ],
    ),
    (
        "learners",
        &[
            (
                "honest_entropy",
                "honest entropy",
                RGBColor(31, 119, 180),
                false,
            ),
            (
                "honest_value_loss",
                "honest value loss",
                RGBColor(31, 119, 180),
                true,
            ),
            (
                "byzantine_entropy",
                "byzantine entropy",
                RGBColor(214, 39, 40),
                false,
            ),
            (
                "byzantine_value_loss",
                "byzantine value loss",
                RGBColor(214, 39, 40),
                true,
            ),
        ],
    ),
];

/// Draws `RUN_DIR/curves.svg` from `RUN_DIR/metrics.csv`; returns its path.
pub fn plot(run: &Path) -> anyhow::Result<PathBuf> {
    let metrics = run.join("metrics.csv");
    let table = Table::read(&metrics)?;
    if table.rows == 0 {
        bail!("{}: no rows to plot", metrics.display());
    }
    let Some((x_name, x_desc)) = table.x_axis() else {
        bail!(
            "{}: no episodes column (episodes, or a harden run's iteration and attempt): \
             not a metrics file selfplay wrote",
            metrics.display()
        );
    };
    // An evaluation run (every row at 0 episodes) has win rates to draw as
    // bars; a training run killed at its first row has a point per curve.
    let evaluated = table.columns.contains_key("honest_win_rate");
    if evaluated && table.series(x_name).iter().all(|p| p.1 == 0.0) {
        return evaluation(run, &table);
    }
    let drawn = PANELS
        .iter()
        .flat_map(|(_, lines)| lines.iter())
        .any(|l| !table.series(l.0).is_empty());
    if !drawn {
        bail!(
            "{}: none of the columns plot draws has a value ({})",
            metrics.display(),
            PANELS
                .iter()
                .flat_map(|(_, lines)| lines.iter().map(|l| l.0))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let out = run.join("curves.svg");
    let title = run
        .file_name()
        .map_or("run".into(), |s| s.to_string_lossy().into_owned());
    let max_x = table.series(x_name).iter().map(|p| p.1).fold(1.0, f64::max);
    // Drawn in memory and written through a temporary file: a full disk or
    // a kill leaves the previous curves.svg whole, and the error names it.
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1000, 1050)).into_drawing_area();
        root.fill(&WHITE)?;
        let root = root.titled(&title, ("sans-serif", 24))?;
        for (area, (name, lines)) in root.split_evenly((3, 1)).iter().zip(PANELS) {
            // The chart on the left, its legend in a column of its own: never over the data.
            let (plot_area, legend_area) = area.split_horizontally(760);
            let series: Vec<(&Line, Vec<(f64, f64)>)> = lines
                .iter()
                .map(|l| (l, table.series(l.0)))
                .filter(|(_, s)| !s.is_empty())
                .collect();
            let (lo, hi) = series
                .iter()
                .flat_map(|(_, s)| s.iter().map(|p| p.1))
                .fold((0.0f64, 1.0f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
            let mut chart = ChartBuilder::on(&plot_area)
                .caption(name, ("sans-serif", 18))
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(52)
                .build_cartesian_2d(0.0..max_x, lo..hi + (hi - lo) * 0.05)?;
            chart
                .configure_mesh()
                .x_desc(x_desc)
                .x_label_formatter(&|x| format!("{x:.0}"))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()?;
            for (k, ((_, label, color, dashed), points)) in series.into_iter().enumerate() {
                let style = ShapeStyle::from(*color).stroke_width(2);
                if *dashed {
                    chart.draw_series(DashedLineSeries::new(points.clone(), 6, 4, style))?;
                } else {
                    chart.draw_series(LineSeries::new(points.clone(), style))?;
                }
                chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
                let y = 60 + 22 * k as i32;
                let sample: Vec<(i32, i32)> = if *dashed {
                    vec![(4, y), (10, y), (14, y), (20, y), (24, y), (30, y)]
                } else {
                    vec![(4, y), (30, y)]
                };
                for seg in sample.chunks(2) {
                    legend_area.draw(&PathElement::new(seg.to_vec(), style))?;
                }
                legend_area.draw(&Text::new(*label, (36, y - 7), ("sans-serif", 13)))?;
            }
        }
        root.present()?;
    }
    write_atomic(&out, svg.as_bytes())?;
    Ok(out)
}

/// An evaluation run has one row per adversary and no curve over episodes:
/// `RUN_DIR/evaluation.svg` shows, per adversary, the honest team's sampled
/// win rate, the adversary's exact attack rate and the verifier's optimum.
fn evaluation(run: &Path, table: &Table) -> anyhow::Result<PathBuf> {
    let out = run.join("evaluation.svg");
    // A column the file lacks reads as empty cells, never out of bounds.
    let col = |name: &str| {
        let mut c = table.columns.get(name).cloned().unwrap_or_default();
        c.resize(table.rows, None);
        c
    };
    let (win, attack, optimum) = (
        col("honest_win_rate"),
        col("exact_attack_rate"),
        col("optimal_attack_rate"),
    );
    let k = table.rows;
    let title = run
        .file_name()
        .map_or("run".into(), |s| s.to_string_lossy().into_owned());
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (280 + 160 * k as u32, 520)).into_drawing_area();
        root.fill(&WHITE)?;
        let (plot_area, legend_area) = root.split_horizontally(60 + 160 * k as u32);
        let labels = table.byzantine.clone();
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(
                format!("{title}: honest team against each adversary"),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(-0.5..k as f64 - 0.5, 0.0..1.05)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(k.max(1))
            // Each adversary's bars are centred on its index.
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        let blue = RGBColor(31, 119, 180);
        let red = RGBColor(214, 39, 40);
        for i in 0..k {
            let x = i as f64 - 0.5;
            for (j, (v, color)) in [(win[i], blue), (attack[i], red)].into_iter().enumerate() {
                if let Some(v) = v {
                    let x0 = x + 0.15 + 0.35 * j as f64;
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(x0, 0.0), (x0 + 0.3, v)],
                        color.filled(),
                    )))?;
                }
            }
            if let Some(o) = optimum[i] {
                let style = ShapeStyle::from(BLACK).stroke_width(3);
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x + 0.1, o), (x + 0.9, o)],
                    style,
                )))?;
            }
        }
        let entries = [
            ("honest win (sampled)", blue),
            ("attack rate (exact)", red),
            ("optimal attack rate", BLACK),
        ];
        for (k, (label, color)) in entries.into_iter().enumerate() {
            let y = 60 + 22 * k as i32;
            legend_area.draw(&Rectangle::new([(4, y - 5), (26, y + 5)], color.filled()))?;
            legend_area.draw(&Text::new(label, (34, y - 7), ("sans-serif", 13)))?;
        }
        root.present()?;
    }
    write_atomic(&out, svg.as_bytes())?;
    Ok(out)
}
