//! The latent explorer of one trained model (`disentangle visualize RUN --explore`): one
//! self-contained HTML page — every picture a data URI, a small script of our own, no network
//! access — where a slider per latent moves the decoded image.
//!
//! The decoder runs here, not in the browser: for each base code (a few seeded dataset
//! samples and the prior mean) and each latent, `steps` frames with that latent set to values
//! over [−range, range] and the others at the base code are decoded in advance. So moving one
//! slider shows exact decoder output; moving another starts from the base code again (the
//! page says so). Beside the sliders: the latents ordered by mean KL (shown), the latent ×
//! factor normalized mutual-information matrix behind MIG as a heatmap with the MIG gap per
//! factor, and the bases' reconstructions beside their inputs.
//!
//! The URL fragment `#base=B&z=J&step=S` selects base B and moves latent J's slider to step S
//! when the page loads, through the same input event a user's drag fires (how the browser
//! tests script a move without a driver).

use std::fmt::Write as _;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use disentangle_data::open_recorded_dataset;
use disentangle_metrics::{Codes, Factors, MigConfig, mig};
use disentangle_train::inference::load_trained;
use disentangle_train::run_dir::write_atomic;
use image::{ExtendedColorType, ImageEncoder};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Result, StudyError};
use crate::evaluation::encode_in_chunks;
use crate::pictures::{mean_kl_per_latent, order_by_kl, traversal_codes, traversal_values};
use crate::html::{base64, html_escape};
use crate::spec::Configuration;

#[derive(Clone, Debug)]
pub struct ExplorerOptions {
    /// Seeded dataset samples offered as base images (the prior mean is always offered too).
    pub bases: usize,
    /// Slider values run over [−range, range] …
    pub range: f32,
    /// … in this many steps (frames per latent and base).
    pub steps: usize,
    /// Images encoded for the latents' mean KL.
    pub kl_samples: usize,
    /// Images encoded for the mutual-information matrix (MIG's sample size).
    pub mi_samples: usize,
    pub seed: u64,
    pub device: Option<String>,
    pub data_dir: Option<PathBuf>,
}

impl Default for ExplorerOptions {
    fn default() -> Self {
        ExplorerOptions { bases: 4, range: 3.0, steps: 15, kl_samples: 1000, mi_samples: 10_000, seed: 0, device: None, data_dir: None }
    }
}

/// What [`explore`] wrote.
#[derive(Clone, Debug)]
pub struct ExplorerPage {
    pub path: PathBuf,
    pub bytes: usize,
    /// Frames embedded (bases × latents × steps).
    pub frames: usize,
    pub mig: f64,
}

/// One image (C×H×W in [0, 1]) as a PNG data URI: grey images as 8-bit grey, others RGB.
fn png_uri(image: &[f32], shape: [usize; 3]) -> Result<String> {
    let [c, h, w] = shape;
    let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    let (pixels, color): (Vec<u8>, ExtendedColorType) = if c == 1 {
        (image.iter().map(|&v| byte(v)).collect(), ExtendedColorType::L8)
    } else {
        ((0..h * w).flat_map(|p| (0..3).map(move |k| byte(image[k * h * w + p]))).collect(), ExtendedColorType::Rgb8)
    };
    let mut out = Cursor::new(Vec::new());
    image::codecs::png::PngEncoder::new_with_quality(&mut out, image::codecs::png::CompressionType::Best, image::codecs::png::FilterType::Adaptive)
        .write_image(&pixels, w as u32, h as u32, color)
        .map_err(|e| StudyError::Picture { what: "explorer frame".into(), message: e.to_string() })?;
    Ok(format!("data:image/png;base64,{}", base64(&out.into_inner())))
}

/// Colour of a value in [0, 1] on a perceptually ordered dark-blue → yellow ramp.
fn heat(v: f64) -> String {
    const STOPS: [(f64, [f64; 3]); 5] =
        [(0.0, [68.0, 1.0, 84.0]), (0.25, [59.0, 82.0, 139.0]), (0.5, [33.0, 145.0, 140.0]), (0.75, [94.0, 201.0, 98.0]), (1.0, [253.0, 231.0, 37.0])];
    let v = if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.0 };
    let i = STOPS.iter().rposition(|s| s.0 <= v).unwrap_or(0).min(STOPS.len() - 2);
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let t = (v - a.0) / (b.0 - a.0);
    let c: Vec<u8> = (0..3).map(|k| (a.1[k] + t * (b.1[k] - a.1[k])).round() as u8).collect();
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// Writes the explorer page of the run in `run_dir` to `out` (atomically).
pub fn explore(run_dir: &Path, out: &Path, o: &ExplorerOptions) -> Result<ExplorerPage> {
    if o.steps < 2 || o.steps > 101 || !(o.range.is_finite() && o.range > 0.0) {
        return Err(StudyError::Invalid(format!("explorer: need 2 … 101 steps and a positive range (got {} steps, range {})", o.steps, o.range)));
    }
    if o.bases > 32 || o.mi_samples < 2 || o.kl_samples == 0 {
        return Err(StudyError::Invalid(format!(
            "explorer: at most 32 bases, at least 2 MI samples and 1 KL sample (got {}, {}, {})",
            o.bases, o.mi_samples, o.kl_samples
        )));
    }
    let model = load_trained(run_dir, o.device.as_deref())?;
    let dataset = open_recorded_dataset(&model.config.dataset, run_dir, o.data_dir.as_deref())?;
    let shape = dataset.observation_shape();
    let per = shape.iter().product::<usize>();
    let latents = model.config.model.latents;
    let config = Configuration::from_train(&model.config);
    let title = format!("{} · {} · seed {} · step {}", config.dataset, config.label(), model.config.seed, model.step);
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed);

    // Bases: seeded samples, then the prior mean.
    let base_factors = dataset.sample_factors(o.bases, &mut rng);
    let base_images = dataset.observations_with(&base_factors, &mut rng)?;
    let (base_mu, _) = if o.bases > 0 { model.encode(&base_images, o.bases) } else { (Vec::new(), Vec::new()) };
    let mut base_codes = base_mu.clone();
    base_codes.extend(std::iter::repeat_n(0.0f32, latents));
    let num_bases = o.bases + 1;
    let reconstructions = model.decode(&base_codes, num_bases);

    // Latents by mean KL.
    let kl_factors = dataset.sample_factors(o.kl_samples, &mut rng);
    let (kl_mu, kl_lv) = encode_in_chunks(&model, &*dataset, &kl_factors, &mut rng)?;
    let kl = mean_kl_per_latent(&kl_mu, &kl_lv, latents);
    let order = order_by_kl(&kl);

    // The normalized mutual information behind MIG.
    let mi_factors = dataset.sample_factors(o.mi_samples, &mut rng);
    let (mi_mu, _) = encode_in_chunks(&model, &*dataset, &mi_factors, &mut rng)?;
    let k = dataset.factors().num_factors();
    let m = mig(&Codes::new(&mi_mu, o.mi_samples, latents)?, &Factors::new(&mi_factors, o.mi_samples, k)?, &MigConfig { num_train: o.mi_samples, ..Default::default() })?;
    let normalized: Vec<Vec<f64>> =
        m.mutual_information.iter().map(|row| row.iter().zip(&m.factor_entropies).map(|(v, h)| if *h > 0.0 { v / h } else { f64::NAN }).collect()).collect();

    // Frames: per base, per latent (KL order), `steps` decoded images.
    let values = traversal_values(o.range, o.steps);
    let mut frames: Vec<Vec<Vec<String>>> = Vec::with_capacity(num_bases);
    for b in 0..num_bases {
        let base = &base_codes[b * latents..(b + 1) * latents];
        let codes = traversal_codes(base, &order, &values);
        let decoded = model.decode(&codes, latents * values.len());
        let uris = decoded.chunks_exact(per).map(|img| png_uri(img, shape)).collect::<Result<Vec<_>>>()?;
        frames.push(uris.chunks(values.len()).map(<[String]>::to_vec).collect());
    }

    let mut bases = Vec::with_capacity(num_bases);
    for b in 0..num_bases {
        let sample = b < o.bases;
        bases.push(serde_json::json!({
            "label": if sample { format!("sample {}", b + 1) } else { "prior mean".into() },
            "factors": if sample { serde_json::json!(base_factors[b * k..(b + 1) * k]) } else { serde_json::Value::Null },
            "code": base_codes[b * latents..(b + 1) * latents],
            "input": if sample { Some(png_uri(&base_images[b * per..(b + 1) * per], shape)?) } else { None },
            "reconstruction": png_uri(&reconstructions[b * per..(b + 1) * per], shape)?,
            "frames": frames[b],
        }));
    }
    let data = serde_json::json!({
        "values": values,
        "latents": order.iter().map(|&j| serde_json::json!({"index": j, "kl": kl[j]})).collect::<Vec<_>>(),
        "bases": bases,
    });
    let html = page(&title, &data, &order, &kl, &normalized, &m.per_factor, m.score, dataset.factors().names(), o)?;
    if let Some(dir) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| StudyError::io(dir, e))?;
    }
    write_atomic(out, html.as_bytes())?;
    Ok(ExplorerPage { path: out.to_path_buf(), bytes: html.len(), frames: num_bases * latents * values.len(), mig: m.score })
}

#[allow(clippy::too_many_arguments)]
fn page(
    title: &str,
    data: &serde_json::Value,
    order: &[usize],
    kl: &[f64],
    normalized: &[Vec<f64>],
    gaps: &[Option<f64>],
    mig_score: f64,
    factor_names: &[String],
    o: &ExplorerOptions,
) -> Result<String> {
    // '<' never appears raw inside the script element.
    let json = serde_json::to_string(data).expect("explorer data serialises").replace('<', "\\u003c");
    let mut heatmap = String::from("<table class=\"heat\"><tr><th>latent</th>");
    for f in factor_names {
        let _ = write!(heatmap, "<th>{}</th>", html_escape(f));
    }
    heatmap.push_str("</tr>\n");
    for &j in order {
        let _ = write!(heatmap, "<tr><th>z{j} <small>KL {:.2}</small></th>", kl[j]);
        for (f, v) in normalized[j].iter().enumerate() {
            let label = if v.is_finite() { format!("{v:.3}") } else { "–".into() };
            let _ = write!(
                heatmap,
                "<td style=\"background:{bg};color:{fg}\" title=\"I(z{j}; {name}) / H({name}) = {label}\" data-value=\"{label}\">{text}</td>",
                bg = heat(*v),
                fg = if v.is_finite() && *v > 0.6 { "#000" } else { "#fff" },
                name = html_escape(&factor_names[f]),
                text = if v.is_finite() { format!("{v:.2}") } else { "–".into() }
            );
        }
        heatmap.push_str("</tr>\n");
    }
    heatmap.push_str("<tr class=\"gap\"><th>MIG gap</th>");
    for (f, g) in gaps.iter().enumerate() {
        let label = g.map(|g| format!("{g:.3}")).unwrap_or_else(|| "–".into());
        let _ = write!(heatmap, "<td title=\"{}: gap between the two most informative latents = {label}\">{label}</td>", html_escape(&factor_names[f]));
    }
    heatmap.push_str("</tr></table>");
    let range = o.range;
    Ok(format!(
        r##"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>explorer — {title_html}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 16px; color: #222; }}
h1 {{ font-size: 18px; margin: 0 0 12px; }}
h2 {{ font-size: 15px; margin: 18px 0 6px; }}
#main {{ display: flex; gap: 24px; align-items: flex-start; }}
#view {{ width: 256px; height: 256px; image-rendering: pixelated; border: 1px solid #999; display: block; }}
#caption {{ width: 256px; min-height: 3em; color: #444; }}
.bases button {{ border: 2px solid transparent; padding: 0; margin: 0 4px 4px 0; background: none; cursor: pointer; }}
.bases button.on {{ border-color: #d33; }}
.bases img, .recon img {{ width: 64px; height: 64px; image-rendering: pixelated; display: block; }}
.bases .prior {{ width: 64px; height: 64px; font-size: 11px; }}
.slider {{ display: grid; grid-template-columns: 120px 260px 70px; align-items: center; gap: 8px; }}
.slider input {{ width: 260px; }}
table.heat {{ border-collapse: collapse; }}
table.heat td {{ width: 56px; height: 22px; border: 1px solid #fff; text-align: center; font-size: 12px; }}
table.heat th {{ font-weight: normal; padding: 0 6px; text-align: left; }}
table.heat tr.gap td {{ background: #eee; }}
.recon {{ display: flex; gap: 8px; }}
</style></head>
<body>
<h1>{title_html}</h1>
<div id="main">
 <div><img id="view" alt="decoded image"><div id="caption"></div></div>
 <div>
  <h2>Base code</h2><div class="bases" id="bases"></div>
  <h2>Latents <small>(by mean KL; values over [−{range}, {range}]; one latent moves at a time, the others stay at the base code)</small></h2>
  <div id="sliders"></div>
 </div>
</div>
<h2>Normalized mutual information I(z<sub>j</sub>; v<sub>k</sub>) / H(v<sub>k</sub>) <small>(MIG {mig_score:.3}; hover a cell for its value)</small></h2>
{heatmap}
<h2>Reconstructions <small>(input above, reconstruction of its posterior mean below)</small></h2>
<div class="recon" id="recon"></div>
<script id="data" type="application/json">{json}</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const view = document.getElementById("view"), caption = document.getElementById("caption");
const sliders = [];
let base = 0;
function fmt(v) {{ return (v >= 0 ? "+" : "") + v.toFixed(2); }}
function nearest(v) {{ let best = 0; D.values.forEach((x, i) => {{ if (Math.abs(x - v) < Math.abs(D.values[best] - v)) best = i; }}); return best; }}
function showBase(b) {{
  base = b;
  document.querySelectorAll("#bases button").forEach((el, i) => el.classList.toggle("on", i === b));
  sliders.forEach((s, r) => {{ s.input.value = nearest(D.bases[b].code[D.latents[r].index]); s.out.textContent = fmt(D.bases[b].code[D.latents[r].index]); }});
  view.src = D.bases[b].reconstruction;
  view.dataset.frame = "base";
  caption.textContent = D.bases[b].label + ": reconstruction of its code";
}}
function move(r, step) {{
  sliders.forEach((s, q) => {{ if (q !== r) {{ s.input.value = nearest(D.bases[base].code[D.latents[q].index]); s.out.textContent = fmt(D.bases[base].code[D.latents[q].index]); }} }});
  const z = D.latents[r].index, v = D.values[step];
  sliders[r].out.textContent = fmt(v);
  view.src = D.bases[base].frames[r][step];
  view.dataset.frame = base + ":" + z + ":" + step;
  caption.textContent = D.bases[base].label + ": z" + z + " = " + fmt(v) + " (the other latents at the base code)";
}}
D.bases.forEach((b, i) => {{
  const btn = document.createElement("button");
  if (b.input) {{ const img = document.createElement("img"); img.src = b.input; img.alt = b.label; btn.appendChild(img); }}
  else {{ btn.className = "prior"; btn.textContent = b.label; }}
  btn.title = b.label + (b.factors ? " (factors " + b.factors.join(", ") + ")" : "");
  btn.addEventListener("click", () => showBase(i));
  document.getElementById("bases").appendChild(btn);
  const col = document.createElement("div");
  col.innerHTML = (b.input ? '<img alt="input">' : '<div style="width:64px;height:64px;font-size:11px">prior mean</div>') + '<img alt="reconstruction">';
  const imgs = col.querySelectorAll("img");
  if (b.input) {{ imgs[0].src = b.input; imgs[1].src = b.reconstruction; }} else {{ imgs[0].src = b.reconstruction; }}
  document.getElementById("recon").appendChild(col);
}});
D.latents.forEach((l, r) => {{
  const row = document.createElement("div");
  row.className = "slider";
  row.innerHTML = "<label>z" + l.index + " <small>KL " + l.kl.toFixed(2) + "</small></label><input type=range min=0 max=" + (D.values.length - 1) + " step=1><output></output>";
  const input = row.querySelector("input"), out = row.querySelector("output");
  input.id = "z" + l.index;
  input.addEventListener("input", () => move(r, +input.value));
  sliders.push({{ input, out }});
  document.getElementById("sliders").appendChild(row);
}});
showBase(0);
// #base=B&z=J&step=S: select base B, then move latent J's slider to S as a drag would.
const hash = new URLSearchParams(location.hash.slice(1));
if (hash.has("base")) showBase(Math.min(+hash.get("base"), D.bases.length - 1));
if (hash.has("z") && hash.has("step")) {{
  const input = document.getElementById("z" + hash.get("z"));
  if (input) {{ input.value = hash.get("step"); input.dispatchEvent(new Event("input")); }}
}}
</script>
</body></html>
"##,
        title_html = html_escape(title),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Standard base64 (with padding), for checking what the page embeds.
    fn decode_base64(text: &str) -> Vec<u8> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let value = |c: u8| ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
        let mut out = Vec::new();
        for chunk in text.as_bytes().chunks(4) {
            let pads = chunk.iter().filter(|&&c| c == b'=').count();
            let n = chunk.iter().map(|&c| if c == b'=' { 0 } else { value(c) }).fold(0u32, |acc, v| (acc << 6) | v);
            out.extend_from_slice(&n.to_be_bytes()[1..4 - pads]);
        }
        out
    }

    #[test]
    fn heat_ramp_ends_and_middle() {
        assert_eq!(heat(0.0), "#440154");
        assert_eq!(heat(1.0), "#fde725");
        assert_eq!(heat(0.5), "#21918c");
        assert_eq!(heat(f64::NAN), "#440154");
        assert_eq!(heat(7.0), "#fde725");
    }

    #[test]
    fn frames_are_png_data_uris_of_the_right_size() {
        let grey: Vec<f32> = (0..64 * 64).map(|i| (i % 64) as f32 / 63.0).collect();
        let uri = png_uri(&grey, [1, 64, 64]).unwrap();
        let bytes = decode_base64(uri.strip_prefix("data:image/png;base64,").unwrap());
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!((img.width(), img.height()), (64, 64));
        assert_eq!(img.to_luma8().get_pixel(63, 5).0[0], 255);
        assert_eq!(img.to_luma8().get_pixel(0, 5).0[0], 0);
    }
}
