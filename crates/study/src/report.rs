//! `study report`: the paper's figures from a study's results, as one self-contained HTML file
//! (PNGs embedded as data URIs) plus every plot as standalone PNG and SVG:
//! - MIG violins over seeds per configuration (paper Fig. 2, 3, 6),
//! - MIG over training steps (median and IQR band over seeds) when runs were scored during training,
//! - KL vs reconstruction-error scatter, one point per run (Fig. 4, 7, 11b),
//! - FactorVAE-score violins (Fig. 9, 10),
//! - a table of medians and of paired differences split − conv (same objective, noise and
//!   seed), with their spread across seeds,
//! - reconstructions and latent traversals of the best-MIG run of each configuration (Fig. 5, 8),
//! - a table of every run, each linked to its latent explorer (`explorer.rs`, one page per
//!   finished run in `explorers/`); the violins' and the scatter's points link to their run
//!   (HTML image maps over the PNGs).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use disentangle_viz::{BandPlot, BandSeries, Group, PointPosition, ScatterPlot, ScatterSeries, ViolinPlot, quantile};

use crate::error::{Result, StudyError};
use crate::explorer::{ExplorerOptions, explore};
use crate::pictures::{PictureOptions, visualize};
use crate::runner::StudyDir;
use crate::spec::{Configuration, StudySpec};
use crate::store::{JobRow, SeriesValue};

pub use crate::html::{base64, html_escape};
pub use crate::store::{FACTOR_VAE, MIG};
pub(crate) use crate::store::value_of;

#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// The HTML file (default `STUDY_DIR/report/report.html`); plots and pictures go beside it.
    pub out: Option<PathBuf>,
    /// Render reconstructions and traversals of the best-MIG run per configuration, and the
    /// latent explorer of every finished run.
    pub pictures: bool,
    pub picture_options: PictureOptions,
    pub explorer_options: ExplorerOptions,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            out: None,
            pictures: true,
            picture_options: PictureOptions { kl_samples: 500, ..PictureOptions::default() },
            explorer_options: ExplorerOptions { kl_samples: 500, ..ExplorerOptions::default() },
        }
    }
}

#[derive(Clone, Debug)]
pub struct ReportOutput {
    pub html: PathBuf,
    /// Standalone plots (PNG and SVG).
    pub plots: Vec<PathBuf>,
    /// Best-MIG run (key) per configuration whose pictures are in the report.
    pub pictured: Vec<String>,
    /// Explorer pages written (one per finished run).
    pub explorers: Vec<PathBuf>,
}

/// Spread of a sample: median, quartiles and extremes (NaN-free input).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub n: usize,
    pub median: f64,
    pub q25: f64,
    pub q75: f64,
    pub min: f64,
    pub max: f64,
}

pub fn spread(values: &[f64]) -> Option<Spread> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(Spread { n: v.len(), median: quantile(&v, 0.5), q25: quantile(&v, 0.25), q75: quantile(&v, 0.75), min: v[0], max: v[v.len() - 1] })
}

/// One split-vs-conv comparison of a metric over the seeds both have finished.
#[derive(Clone, Debug, PartialEq)]
pub struct PairedDifference {
    pub dataset: String,
    /// The split configuration's label, e.g. `vae · split · independent`.
    pub split: String,
    pub conv: String,
    pub metric: String,
    /// (seed, split − conv).
    pub differences: Vec<(u64, f64)>,
}

impl PairedDifference {
    pub fn spread(&self) -> Option<Spread> {
        spread(&self.differences.iter().map(|d| d.1).collect::<Vec<_>>())
    }
    /// Seeds where the split encoder's value is higher.
    pub fn wins(&self) -> usize {
        self.differences.iter().filter(|d| d.1 > 0.0).count()
    }
}


/// Paired differences split − conv for every split configuration with a conv twin.
pub fn paired_differences(configs: &[Configuration], rows: &[JobRow], metric: &str) -> Vec<PairedDifference> {
    let mut out = Vec::new();
    for c in configs.iter().filter(|c| c.encoder_name() == "split") {
        let conv_label = c.label_with_encoder("conv");
        if !configs.iter().any(|o| o.dataset == c.dataset && o.label() == conv_label) {
            continue;
        }
        let done = |label: String| -> BTreeMap<u64, f64> {
            done_rows(rows, &c.dataset, label).filter_map(|r| value_of(r, metric).map(|v| (r.seed, v))).collect()
        };
        let (split, conv) = (done(c.label()), done(conv_label.clone()));
        let differences: Vec<(u64, f64)> = split.iter().filter_map(|(s, v)| conv.get(s).map(|w| (*s, v - w))).collect();
        out.push(PairedDifference { dataset: c.dataset.clone(), split: c.label(), conv: conv_label, metric: metric.into(), differences });
    }
    out
}

/// The finished runs of configuration `label` on `dataset`.
fn done_rows<'a>(rows: &'a [JobRow], dataset: &'a str, label: String) -> impl Iterator<Item = &'a JobRow> {
    rows.iter().filter(move |r| r.status == "done" && r.dataset == dataset && r.configuration == label)
}

fn rows_of<'a>(rows: &'a [JobRow], c: &'a Configuration) -> impl Iterator<Item = &'a JobRow> {
    done_rows(rows, &c.dataset, c.label())
}

fn slug(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

fn fmt(v: Option<f64>, digits: usize) -> String {
    v.map(|v| format!("{v:.digits$}")).unwrap_or_else(|| "–".into())
}

struct Writer {
    dir: PathBuf,
    plots: Vec<PathBuf>,
}

impl Writer {
    /// Saves a plot as PNG and SVG and returns the PNG bytes for embedding.
    fn save(&mut self, name: &str, png: Vec<u8>, svg: String) -> Result<Vec<u8>> {
        for (ext, bytes) in [("png", png.as_slice()), ("svg", svg.as_bytes())] {
            let path = self.dir.join(format!("{name}.{ext}"));
            disentangle_viz::write_atomic(&path, bytes).map_err(|e| StudyError::Picture { what: path.display().to_string(), message: e.to_string() })?;
            self.plots.push(path);
        }
        Ok(png)
    }
}

fn plot_err(what: &str, e: impl std::fmt::Display) -> StudyError {
    StudyError::Picture { what: what.into(), message: e.to_string() }
}

fn img_tag(png: &[u8], alt: &str) -> String {
    format!("<img alt=\"{}\" src=\"data:image/png;base64,{}\">", html_escape(alt), base64(png))
}

/// Where a run's links go: its explorer page when the report has one, else its row in the
/// runs table.
fn run_link(key: &str, explorers: &BTreeMap<String, String>) -> String {
    explorers.get(key).cloned().unwrap_or_else(|| format!("#run-{}", slug(key)))
}

/// An image whose points (`points`, with the run key and text of each) link to their runs:
/// an HTML image map over the PNG, shown at its own size so the map's pixels hold.
fn linked_img(png: &[u8], alt: &str, map: &str, points: &[(PointPosition, String, String)], explorers: &BTreeMap<String, String>) -> String {
    let mut out = format!(
        "<img alt=\"{}\" usemap=\"#{map}\" style=\"max-width:none\" src=\"data:image/png;base64,{}\"><map name=\"{map}\">",
        html_escape(alt),
        base64(png)
    );
    for (p, key, text) in points {
        let _ = write!(
            out,
            "<area shape=\"circle\" coords=\"{},{},{}\" href=\"{}\" title=\"{}\" alt=\"{}\">",
            p.x,
            p.y,
            p.radius.max(4) + 2,
            html_escape(&run_link(key, explorers)),
            html_escape(text),
            html_escape(key)
        );
    }
    out.push_str("</map>");
    out
}

/// Writes the report of the study in `dir`.
pub fn write_report(dir: &StudyDir, o: &ReportOptions) -> Result<ReportOutput> {
    let (spec, store) = dir.open()?;
    let rows = store.rows()?;
    let counts = store.counts()?;
    let html_path = o.out.clone().unwrap_or_else(|| dir.root.join("report").join("report.html"));
    let out_dir = html_path.parent().filter(|p| !p.as_os_str().is_empty()).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let plot_dir = out_dir.join("plots");
    std::fs::create_dir_all(&plot_dir).map_err(|e| StudyError::io(&plot_dir, e))?;
    let mut w = Writer { dir: plot_dir, plots: Vec::new() };
    let configs = spec.configurations()?;
    let datasets: Vec<String> = configs.iter().fold(Vec::new(), |mut v, c| {
        if !v.contains(&c.dataset) {
            v.push(c.dataset.clone());
        }
        v
    });

    let mut html = String::new();
    write_head(&mut html, &spec, counts);

    // One explorer page per finished run (its links are the report's links to runs).
    let mut explorers: BTreeMap<String, String> = BTreeMap::new();
    let mut explorer_paths = Vec::new();
    if o.pictures {
        for row in rows.iter().filter(|r| r.status == "done") {
            let path = out_dir.join("explorers").join(format!("{}.html", slug(&row.key)));
            let page = explore(&dir.root.join(&row.run_dir), &path, &o.explorer_options)?;
            explorers.insert(row.key.clone(), format!("explorers/{}.html", slug(&row.key)));
            explorer_paths.push(page.path);
        }
    }

    // Violins of MIG and of the FactorVAE score.
    for (metric, id, title, figs) in [(MIG, "mig", "MIG", "Fig. 2, 3, 6"), (FACTOR_VAE, "factor-vae", "FactorVAE score", "Fig. 9, 10")] {
        let _ = writeln!(html, "<section id=\"{id}\"><h2>{title} over seeds <small>(paper {figs})</small></h2>");
        for d in &datasets {
            let members: Vec<(String, Vec<(&JobRow, f64)>)> = configs
                .iter()
                .filter(|c| &c.dataset == d)
                .map(|c| (c.label(), rows_of(&rows, c).filter_map(|r| value_of(r, metric).map(|v| (r, v))).collect()))
                .collect();
            let groups: Vec<Group> = members.iter().map(|(label, m)| Group { label: label.clone(), values: m.iter().map(|x| x.1).collect() }).collect();
            if groups.iter().all(|g| g.values.is_empty()) {
                let _ = writeln!(html, "<p>{}: no finished run has <code>{metric}</code> (add it to the study's metrics).</p>", html_escape(d));
                continue;
            }
            // Both scores lie in [0, 1]: the densities stay there.
            let plot = ViolinPlot { title: format!("{title} — {d}"), y_label: title.into(), groups, range: Some((0.0, 1.0)) };
            let width = (plot.groups.len() as u32 * 120).clamp(640, 1800);
            let (png, points) = plot.to_png_with_points(width, 520).map_err(|e| plot_err(title, e))?;
            let svg = plot.to_svg(width, 520).map_err(|e| plot_err(title, e))?;
            let name = format!("{id}_{}", slug(d));
            let png = w.save(&name, png, svg)?;
            let points: Vec<(PointPosition, String, String)> = points
                .into_iter()
                .map(|p| {
                    let (row, v) = members[p.group].1[p.index];
                    (p, row.key.clone(), format!("{} seed {}: {title} {v:.3}", members[p.group].0, row.seed))
                })
                .collect();
            let _ = writeln!(
                html,
                "<figure>{}<figcaption>{} on {}; one point per seed (click one to open its run's explorer).</figcaption></figure>",
                linked_img(&png, &plot.title, &name, &points, &explorers),
                title,
                html_escape(d)
            );
        }
        html.push_str("</section>\n");
    }

    // Metrics during training (runs trained with eval_every).
    write_series(&mut html, &mut w, &configs, &datasets, &rows, &store.series()?)?;

    // KL vs reconstruction scatter.
    html.push_str("<section id=\"kl-recon\"><h2>KL vs reconstruction error <small>(paper Fig. 4, 7, 11b)</small></h2>\n");
    for d in &datasets {
        #[allow(clippy::type_complexity)] // (label, runs with their (KL, reconstruction)) per configuration
        let members: Vec<(String, Vec<(&JobRow, (f64, f64))>)> = configs
            .iter()
            .filter(|c| &c.dataset == d)
            .map(|c| {
                let points = rows_of(&rows, c)
                    .filter_map(|r| r.numbers.as_ref().map(|n| (r, (n.kl, n.reconstruction_loss))))
                    .filter(|(_, p)| p.0.is_finite() && p.1.is_finite())
                    .collect::<Vec<_>>();
                (c.label(), points)
            })
            .filter(|(_, p)| !p.is_empty())
            .collect();
        let series: Vec<ScatterSeries> =
            members.iter().map(|(label, m)| ScatterSeries { label: label.clone(), points: m.iter().map(|x| x.1).collect() }).collect();
        if series.is_empty() {
            let _ = writeln!(html, "<p>{}: no finished runs yet.</p>", html_escape(d));
            continue;
        }
        let plot = ScatterPlot { title: format!("KL vs reconstruction — {d}"), x_label: "KL(q(z|x) ‖ p(z))".into(), y_label: "reconstruction error (BCE, nats)".into(), series };
        let (png, points) = plot.to_png_with_points(900, 600).map_err(|e| plot_err("scatter", e))?;
        let svg = plot.to_svg(900, 600).map_err(|e| plot_err("scatter", e))?;
        let name = format!("kl_recon_{}", slug(d));
        let png = w.save(&name, png, svg)?;
        let points: Vec<(PointPosition, String, String)> = points
            .into_iter()
            .map(|p| {
                let (row, (kl, recon)) = members[p.group].1[p.index];
                (p, row.key.clone(), format!("{} seed {}: KL {kl:.2}, reconstruction {recon:.2}", members[p.group].0, row.seed))
            })
            .collect();
        let _ = writeln!(
            html,
            "<figure>{}<figcaption>End-of-training averages over the summary batches, one point per run (click one to open its run's explorer).</figcaption></figure>",
            linked_img(&png, &plot.title, &name, &points, &explorers)
        );
    }
    html.push_str("</section>\n");

    write_udr(&mut html, &mut w, &configs, &datasets, &rows)?;

    write_tables(&mut html, &configs, &rows);
    write_runs(&mut html, &rows, &explorers);

    // Pictures of the best-MIG run per configuration.
    html.push_str("<section id=\"pictures\"><h2>Reconstructions and traversals of the best-MIG run <small>(paper Fig. 5, 8)</small></h2>\n");
    let mut pictured = Vec::new();
    if !o.pictures {
        html.push_str("<p>Skipped (<code>--no-pictures</code>).</p>\n");
    }
    for c in configs.iter().filter(|_| o.pictures) {
        let best = rows_of(&rows, c).filter_map(|r| value_of(r, MIG).map(|m| (r, m))).max_by(|a, b| a.1.total_cmp(&b.1));
        let Some((row, mig)) = best else { continue };
        let pic_dir = out_dir.join("pictures").join(&row.key);
        let p = visualize(&dir.root.join(&row.run_dir), &pic_dir, &o.picture_options)?;
        let read = |path: &Path| std::fs::read(path).map_err(|e| StudyError::io(path, e));
        let gif = read(&p.traversal_gif)?;
        let _ = writeln!(
            html,
            "<div class=\"pictures\"><h3>{} — {} (seed {}, MIG {mig:.3})</h3>{}{}<img alt=\"traversal animation\" src=\"data:image/gif;base64,{}\"></div>",
            html_escape(&c.dataset),
            html_escape(&c.label()),
            row.seed,
            img_tag(&read(&p.reconstructions)?, "reconstructions"),
            img_tag(&read(&p.traversals)?, "latent traversals"),
            base64(&gif)
        );
        pictured.push(row.key.clone());
    }
    if o.pictures && pictured.is_empty() {
        html.push_str("<p>No finished run with a MIG score yet.</p>\n");
    }
    html.push_str("</section>\n</body>\n</html>\n");
    disentangle_train::run_dir::write_atomic(&html_path, html.as_bytes())?;
    Ok(ReportOutput { html: html_path, plots: w.plots, pictured, explorers: explorer_paths })
}

/// UDR against MIG, one point per run (runs scored by `study udr`): does unsupervised
/// selection pick the runs MIG picks?
fn write_udr(html: &mut String, w: &mut Writer, configs: &[Configuration], datasets: &[String], rows: &[JobRow]) -> Result<()> {
    let Some(udr) = ["udr.lasso", "udr.spearman"].into_iter().find(|m| rows.iter().any(|r| value_of(r, m).is_some())) else {
        return Ok(());
    };
    let _ = writeln!(html, "<section id=\"udr\"><h2>UDR vs MIG <small>(Duan et al. 2020; <code>{udr}</code>)</small></h2>");
    for d in datasets {
        let series: Vec<ScatterSeries> = configs
            .iter()
            .filter(|c| &c.dataset == d)
            .map(|c| ScatterSeries { label: c.label(), points: rows_of(rows, c).filter_map(|r| Some((value_of(r, udr)?, value_of(r, MIG)?))).collect() })
            .filter(|s| !s.points.is_empty())
            .collect();
        if series.is_empty() {
            continue;
        }
        let plot = ScatterPlot { title: format!("UDR vs MIG — {d}"), x_label: format!("UDR ({udr})"), y_label: "MIG".into(), series };
        let png = plot.to_png(900, 600).map_err(|e| plot_err("udr scatter", e))?;
        let svg = plot.to_svg(900, 600).map_err(|e| plot_err("udr scatter", e))?;
        let png = w.save(&format!("udr_mig_{}", slug(d)), png, svg)?;
        let _ = writeln!(html, "<figure>{}<figcaption>One point per run: its UDR among its configuration's seeds (no labels used) and its MIG.</figcaption></figure>", img_tag(&png, &plot.title));
    }
    html.push_str("<table><tr><th>configuration</th><th>runs</th><th>Spearman(UDR, MIG)</th><th>best UDR = best MIG</th></tr>\n");
    for a in crate::udr::udr_agreement(rows, udr, MIG) {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html_escape(&a.label),
            a.runs,
            a.spearman.map_or("—".into(), |s| format!("{s:.2}")),
            if a.same_best { "yes" } else { "no" }
        );
    }
    html.push_str("</table>\n</section>\n");
    Ok(())
}

/// MIG over training steps per configuration: median over seeds and the quartile band.
fn write_series(html: &mut String, w: &mut Writer, configs: &[Configuration], datasets: &[String], rows: &[JobRow], series: &[SeriesValue]) -> Result<()> {
    let mig: Vec<&SeriesValue> = series.iter().filter(|v| v.name == MIG).collect();
    if mig.is_empty() {
        return Ok(());
    }
    html.push_str("<section id=\"mig-over-steps\"><h2>MIG over training</h2>\n");
    for d in datasets {
        let bands: Vec<BandSeries> = configs
            .iter()
            .filter(|c| &c.dataset == d)
            .map(|c| {
                let keys: Vec<&str> = rows_of(rows, c).map(|r| r.key.as_str()).collect();
                let mut by_step: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
                for v in mig.iter().filter(|v| keys.contains(&v.key.as_str())) {
                    by_step.entry(v.step).or_default().push(v.value);
                }
                BandSeries { label: c.label(), points: by_step.into_iter().map(|(s, v)| (s as f64, v)).collect() }
            })
            .filter(|b| !b.points.is_empty())
            .collect();
        if bands.is_empty() {
            continue;
        }
        let seeds = bands.iter().flat_map(|b| b.points.iter().map(|p| p.1.len())).max().unwrap_or(0);
        let plot = BandPlot {
            title: format!("MIG over training — {d}"),
            x_label: "training step".into(),
            y_label: "MIG".into(),
            series: bands,
            y_bounds: Some((0.0, 1.0)),
        };
        let png = plot.to_png(900, 560).map_err(|e| plot_err("MIG over training", e))?;
        let svg = plot.to_svg(900, 560).map_err(|e| plot_err("MIG over training", e))?;
        let png = w.save(&format!("mig_over_steps_{}", slug(d)), png, svg)?;
        let _ = writeln!(
            html,
            "<figure>{}<figcaption>MIG of the finished runs scored during training (reference sample sizes, the same sample at every step): \
             line = median over seeds (up to {seeds}), band = interquartile range.</figcaption></figure>",
            img_tag(&png, &plot.title)
        );
    }
    html.push_str("</section>\n");
    Ok(())
}

fn write_head(html: &mut String, spec: &StudySpec, counts: crate::store::Counts) {
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{name} — disentangle study report</title>\n<style>\n\
         body {{ font-family: sans-serif; margin: 2em; max-width: 1400px; }}\n\
         table {{ border-collapse: collapse; margin: 1em 0; }} td, th {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }}\n\
         td:first-child, th:first-child, td:nth-child(2) {{ text-align: left; }} img {{ max-width: 100%; margin: 0.3em; }}\n\
         figure {{ margin: 1em 0; }} small {{ color: #666; font-weight: normal; }}\n\
         </style>\n</head>\n<body>\n<h1>Study <code>{name}</code></h1>\n<section id=\"summary\">\n<p>{desc}</p>\n\
         <p>{done} of {total} runs done ({pending} pending, {running} running, {failed} failed); {steps} training steps per run, \
         seeds {seeds:?}, metrics {metrics}.</p>\n</section>\n",
        name = html_escape(&spec.name),
        desc = html_escape(&spec.description),
        done = counts.done,
        total = counts.total(),
        pending = counts.pending,
        running = counts.running,
        failed = counts.failed,
        steps = spec.steps,
        seeds = spec.seeds(),
        metrics = html_escape(&spec.metrics.join(", ")),
    );
}

/// Every run of the study, each with its explorer (when the report has pictures).
fn write_runs(html: &mut String, rows: &[JobRow], explorers: &BTreeMap<String, String>) {
    html.push_str("<section id=\"runs\"><h2>Runs</h2>\n<table>\n<tr><th>run</th><th>configuration</th><th>seed</th><th>status</th><th>MIG</th><th>FactorVAE</th><th>recon</th><th>KL</th><th>explorer</th></tr>\n");
    for r in rows {
        let explorer = match explorers.get(&r.key) {
            Some(href) => format!("<a href=\"{}\">open</a>", html_escape(href)),
            None => "–".into(),
        };
        let _ = writeln!(
            html,
            "<tr id=\"run-{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{explorer}</td></tr>",
            slug(&r.key),
            html_escape(&r.key),
            html_escape(&r.configuration),
            r.seed,
            html_escape(&r.status),
            fmt(value_of(r, MIG), 3),
            fmt(value_of(r, FACTOR_VAE), 3),
            fmt(r.numbers.as_ref().map(|n| n.reconstruction_loss), 2),
            fmt(r.numbers.as_ref().map(|n| n.kl), 2),
        );
    }
    html.push_str("</table>\n</section>\n");
}

fn write_tables(html: &mut String, configs: &[Configuration], rows: &[JobRow]) {
    html.push_str("<section id=\"table\"><h2>Medians over seeds</h2>\n<table>\n<tr><th>dataset</th><th>configuration</th><th>runs</th><th>MIG median [IQR]</th><th>FactorVAE median [IQR]</th><th>recon median</th><th>KL median</th></tr>\n");
    for c in configs {
        let vals = |m: &str| rows_of(rows, c).filter_map(|r| value_of(r, m)).collect::<Vec<_>>();
        let n = rows_of(rows, c).count();
        let cell = |m: &str| match spread(&vals(m)) {
            Some(s) => format!("{:.3} [{:.3}, {:.3}]", s.median, s.q25, s.q75),
            None => "–".into(),
        };
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{n}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html_escape(&c.dataset),
            html_escape(&c.label()),
            cell(MIG),
            cell(FACTOR_VAE),
            fmt(spread(&vals("reconstruction_loss")).map(|s| s.median), 2),
            fmt(spread(&vals("kl")).map(|s| s.median), 2),
        );
    }
    html.push_str("</table>\n<h2 id=\"paired\">Paired differences split − conv (same objective, noise and seed)</h2>\n<table>\n<tr><th>dataset</th><th>split configuration</th><th>metric</th><th>pairs</th><th>median difference</th><th>IQR</th><th>min … max</th><th>split &gt; conv</th></tr>\n");
    let mut any = false;
    for (metric, name) in [(MIG, "MIG"), (FACTOR_VAE, "FactorVAE score"), ("reconstruction_loss", "reconstruction error"), ("kl", "KL")] {
        for p in paired_differences(configs, rows, metric) {
            let Some(s) = p.spread() else { continue };
            any = true;
            let better = p.wins();
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{name}</td><td>{}</td><td>{:+.4}</td><td>[{:+.4}, {:+.4}]</td><td>{:+.4} … {:+.4}</td><td>{better}/{}</td></tr>",
                html_escape(&p.dataset),
                html_escape(&p.split),
                s.n,
                s.median,
                s.q25,
                s.q75,
                s.min,
                s.max,
                s.n
            );
        }
    }
    if !any {
        html.push_str("<tr><td colspan=\"8\">No split configuration has a finished conv twin with the same seed yet.</td></tr>\n");
    }
    html.push_str("</table>\n</section>\n");
}
