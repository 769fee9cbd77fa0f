//! Renders sample outputs for eyeballing: `cargo run -p disentangle-viz --example viz_demo -- OUT_DIR`.

use disentangle_viz::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    std::fs::create_dir_all(&out)?;
    let names = ["beta-vae β=1", "beta-vae β=4", "beta-vae β=16", "factor-vae γ=10", "factor-vae γ=30 split",
        "factor-vae γ=100 split", "dip-vae-i", "dip-vae-ii", "beta-tcvae β=6", "annealed-vae C=25",
        "single seed", "constant"];
    let groups = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let values = match *name {
                "single seed" => vec![0.3],
                "constant" => vec![0.12; 4],
                _ => (0..10).map(|s| 0.1 + 0.03 * i as f64 + 0.05 * ((s * 7 + i) as f64 * 1.3).sin()).collect(),
            };
            Group { label: name.to_string(), values }
        })
        .collect();
    let v = ViolinPlot { title: "MIG over 10 seeds (dSprites)".into(), y_label: "MIG".into(), groups, range: Some((0.0, 1.0)) };
    write_atomic(&out.join("violin.png"), &v.to_png(1000, 500)?)?;
    write_atomic(&out.join("violin.svg"), v.to_svg(1000, 500)?.as_bytes())?;
    let few = ViolinPlot { groups: v.groups[..3].to_vec(), ..v.clone() };
    write_atomic(&out.join("violin3.png"), &few.to_png(600, 400)?)?;
    let s = ScatterPlot {
        title: "Reconstruction vs. disentanglement".into(),
        x_label: "reconstruction loss (nats)".into(),
        y_label: "MIG".into(),
        series: (0..3)
            .map(|k| ScatterSeries {
                label: names[k * 3].to_string(),
                points: (0..12).map(|i| (30.0 + i as f64 * 2.0 + k as f64, 0.1 * k as f64 + 0.01 * i as f64)).collect(),
            })
            .collect(),
    };
    write_atomic(&out.join("scatter.png"), &s.to_png(700, 500)?)?;
    let grid = ImageGrid::from_batch(&vec![0.5f32; 3 * 8 * 32 * 32], [1, 32, 32], 8, 2)?;
    let labels: Vec<String> = (0..3).map(|i| format!("z{i} (KL 1.{i})")).collect();
    let labelled = text::label_rows(grid.image(), 3, 2, &labels, Some("Latent traversals, β-VAE seed 0"));
    save_png(&labelled, &out.join("labelled.png"))?;
    Ok(())
}
