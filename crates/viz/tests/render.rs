//! End-to-end checks of the rendered outputs: plots, labelled grids.

use std::collections::HashSet;

use disentangle_viz::*;
use image::{Rgb, RgbImage};

fn violin() -> ViolinPlot {
    let mk = |label: &str, values: Vec<f64>| Group { label: label.to_string(), values };
    ViolinPlot {
        title: "MIG over seeds".into(),
        y_label: "MIG".into(),
        groups: vec![
            mk("beta-vae β=4", vec![0.21, 0.25, 0.3, 0.28, 0.19]),
            mk("factor-vae γ=30 split", vec![0.35, 0.41, 0.38, 0.44, 0.29, 0.40]),
            mk("single seed", vec![0.5]),
            mk("constant", vec![0.1, 0.1, 0.1]),
            mk("all NaN", vec![f64::NAN, f64::INFINITY]),
            mk("with a NaN", vec![0.05, f64::NAN, 0.12, 0.09]),
        ],
        range: None,
    }
}

fn distinct_colours(img: &RgbImage) -> usize {
    img.pixels().map(|p| p.0).collect::<HashSet<_>>().len()
}

#[test]
fn violin_png_has_requested_size_and_content() {
    let png = violin().to_png(900, 500).unwrap();
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (900, 500));
    assert!(distinct_colours(&img) > 20, "{}", distinct_colours(&img));
    // Some pixels carry each of the first two palette hues' mixtures: not just black/white.
    let coloured = img.pixels().filter(|p| {
        let [r, g, b] = p.0;
        r.max(g).max(b) - r.min(g).min(b) > 40
    });
    assert!(coloured.count() > 500);
    // Many groups with long labels still render.
    let many = ViolinPlot {
        title: String::new(),
        y_label: String::new(),
        groups: (0..12)
            .map(|i| Group { label: format!("factor-vae γ={i}0 split"), values: vec![i as f64, i as f64 + 1.0, 0.5] })
            .collect(),
        range: None,
    };
    let img = image::load_from_memory(&many.to_png(800, 450).unwrap()).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (800, 450));
}

#[test]
fn point_positions_are_where_the_dots_are() {
    let plot = violin();
    let (png, points) = plot.to_png_with_points(900, 500).unwrap();
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    // One position per finite value, naming its group and index.
    let finite: usize = plot.groups.iter().map(|g| g.values.iter().filter(|v| v.is_finite()).count()).sum();
    assert_eq!(points.len(), finite);
    assert!(points.iter().all(|p| plot.groups[p.group].values[p.index].is_finite()));
    // The dots are dark: a pixel within the dot's radius is not the white page nor a light
    // fill (the median's white marker may cover a dot's centre).
    let dark_near = |img: &RgbImage, x: i32, y: i32, r: i32| {
        (-r..=r).any(|dy| (-r..=r).any(|dx| {
            let [a, b, c] = img.get_pixel((x + dx) as u32, (y + dy) as u32).0;
            (a as u32 + b as u32 + c as u32) < 3 * 200
        }))
    };
    for p in &points {
        assert!(dark_near(&img, p.x, p.y, p.radius), "no dot at {p:?}");
    }
    // Higher values sit higher on the picture within a group.
    let g1: Vec<_> = points.iter().filter(|p| p.group == 1).collect();
    for a in &g1 {
        for b in &g1 {
            if plot.groups[1].values[a.index] > plot.groups[1].values[b.index] {
                assert!(a.y < b.y);
            }
        }
    }
    let scatter = ScatterPlot {
        title: "s".into(),
        x_label: "x".into(),
        y_label: "y".into(),
        series: vec![ScatterSeries { label: "a".into(), points: vec![(0.0, 0.0), (1.0, 1.0), (f64::NAN, 2.0)] }],
    };
    let (png, points) = scatter.to_png_with_points(600, 400).unwrap();
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    assert_eq!(points.iter().map(|p| p.index).collect::<Vec<_>>(), vec![0, 1]);
    assert!(points[1].x > points[0].x && points[1].y < points[0].y);
    for p in &points {
        assert_ne!(img.get_pixel(p.x as u32, p.y as u32).0, [255, 255, 255], "no point at {p:?}");
    }
}

#[test]
fn violin_svg_contains_title_and_labels() {
    let svg = violin().to_svg(900, 500).unwrap();
    assert!(svg.trim_start().starts_with("<svg"), "{}", &svg[..100.min(svg.len())]);
    assert!(svg.contains("MIG over seeds"));
    for label in ["beta-vae β=4", "single seed", "constant", "all NaN", "with a NaN"] {
        assert!(svg.contains(label), "missing {label}");
    }
    // The long label is wrapped, but all its words are there.
    for word in ["factor-vae", "γ=30", "split"] {
        assert!(svg.contains(word), "missing {word}");
    }
}

#[test]
fn scatter_png_and_svg() {
    let plot = ScatterPlot {
        title: "Reconstruction vs. MIG".into(),
        x_label: "reconstruction loss".into(),
        y_label: "MIG".into(),
        series: vec![
            ScatterSeries { label: "beta-vae".into(), points: vec![(10.0, 0.2), (12.0, 0.25), (9.0, 0.1)] },
            ScatterSeries { label: "factor-vae".into(), points: vec![(11.0, 0.4), (f64::NAN, 0.3), (13.5, 0.35)] },
        ],
    };
    let img = image::load_from_memory(&plot.to_png(640, 480).unwrap()).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (640, 480));
    assert!(distinct_colours(&img) > 20);
    let svg = plot.to_svg(640, 480).unwrap();
    assert!(svg.trim_start().starts_with("<svg"));
    for t in ["Reconstruction vs. MIG", "reconstruction loss", "beta-vae", "factor-vae"] {
        assert!(svg.contains(t), "missing {t}");
    }
}

#[test]
fn empty_or_bad_input_is_an_error_not_a_panic() {
    let empty = ViolinPlot { title: "t".into(), y_label: "y".into(), groups: vec![], range: None };
    assert!(matches!(empty.to_png(400, 300), Err(PlotError::Empty(_))));
    assert!(matches!(empty.to_svg(400, 300), Err(PlotError::Empty(_))));
    let no_values = ViolinPlot { groups: vec![Group { label: "a".into(), values: vec![] }], ..empty.clone() };
    assert!(matches!(no_values.to_png(400, 300), Err(PlotError::Empty(_))));
    let nan = ViolinPlot { groups: vec![Group { label: "a".into(), values: vec![f64::NAN] }], ..empty.clone() };
    assert!(matches!(nan.to_png(400, 300), Err(PlotError::NonFinite)));
    assert!(matches!(violin().to_png(0, 300), Err(PlotError::Size { .. })));

    let scatter = ScatterPlot { title: "t".into(), x_label: "x".into(), y_label: "y".into(), series: vec![] };
    assert!(matches!(scatter.to_png(400, 300), Err(PlotError::Empty(_))));
    let nan = ScatterPlot {
        series: vec![ScatterSeries { label: "s".into(), points: vec![(f64::NAN, 1.0)] }],
        ..scatter.clone()
    };
    assert!(matches!(nan.to_svg(400, 300), Err(PlotError::NonFinite)));
}

#[test]
fn write_atomic_leaves_only_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v.svg");
    write_atomic(&p, b"<svg/>").unwrap();
    write_atomic(&p, b"<svg></svg>").unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"<svg></svg>");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    assert!(matches!(write_atomic(&dir.path().join("no/such/dir.png"), b"x"), Err(PlotError::Io { .. })));
}

#[test]
fn label_rows_puts_ink_only_beside_labelled_rows() {
    // A 3-row ImageGrid-like image: 3 rows of 40 px with a 2 px gap → height 3·40 + 4·2 = 128.
    let (rows, gap, row_h) = (3usize, 2u32, 40u32);
    let img = RgbImage::from_pixel(100, rows as u32 * row_h + (rows as u32 + 1) * gap, Rgb([128, 128, 128]));
    let labels = vec!["β = -2".to_string(), String::new(), "latent 3".to_string()];
    let out = label_rows(&img, rows, gap, &labels, None);
    let col = out.width() - img.width();
    assert!(col >= text_width("latent 3", 10.0), "{col}");
    assert_eq!(out.height(), img.height());
    // The input is copied unchanged to the right of the label column.
    assert_eq!(image::imageops::crop_imm(&out, col, 0, img.width(), img.height()).to_image(), img);
    let dark_in_row = |r: u32| {
        let y0 = gap + r * (row_h + gap);
        (y0..y0 + row_h).any(|y| (0..col).any(|x| out.get_pixel(x, y).0[0] < 100))
    };
    assert!(dark_in_row(0));
    assert!(!dark_in_row(1));
    assert!(dark_in_row(2));
    // Nothing drawn in the gaps between rows.
    for r in 0..=rows as u32 {
        let y = r * (row_h + gap);
        for yy in y..y + gap {
            assert!((0..col).all(|x| out.get_pixel(x, yy).0 == [255, 255, 255]), "gap row {yy}");
        }
    }

    // With a caption: taller, same width, caption ink on top, image shifted down.
    let cap = label_rows(&img, rows, gap, &labels, Some("Traversals of model X"));
    assert_eq!(cap.width(), out.width());
    let cap_h = cap.height() - img.height();
    assert!(cap_h > 8);
    assert!((0..cap_h).any(|y| (0..cap.width()).any(|x| cap.get_pixel(x, y).0[0] < 100)));
    assert_eq!(*cap.get_pixel(col, cap_h), Rgb([128, 128, 128]));

    // No labels at all: no label column.
    assert_eq!(label_rows(&img, rows, gap, &[], None).width(), img.width());
}
