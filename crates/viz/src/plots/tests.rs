use super::violin::prepare_violins;
use super::*;

#[test]
fn violin_outlines_stay_within_the_range() {
    let g = Group { label: "mig".into(), values: vec![0.0, 0.01, 0.02, 0.05, 0.3] };
    let free = prepare_violins(std::slice::from_ref(&g), None);
    assert!(free[0].outline.iter().any(|(y, _)| *y < 0.0), "the unbounded density spills below 0");
    let bounded = prepare_violins(std::slice::from_ref(&g), Some((0.0, 1.0)));
    let ys: Vec<f64> = bounded[0].outline.iter().map(|(y, _)| *y).collect();
    assert_eq!(ys[0], 0.0);
    assert!(ys.iter().all(|y| (0.0..=1.0).contains(y)));
    assert_eq!(bounded[0].order, vec![0, 1, 2, 3, 4]);
}

#[test]
fn quantile_matches_numpy_linear() {
    let s = [1.0, 2.0, 3.0, 4.0];
    assert_eq!(quantile(&s, 0.25), 1.75);
    assert_eq!(quantile(&s, 0.5), 2.5);
    assert_eq!(quantile(&s, 0.75), 3.25);
    assert_eq!(quantile(&s, 0.0), 1.0);
    assert_eq!(quantile(&s, 1.0), 4.0);
    assert_eq!(quantile(&[7.0], 0.3), 7.0);
    // numpy.quantile([0, 10, 20, 30, 40], 0.1) == 4.0
    assert!((quantile(&[0.0, 10.0, 20.0, 30.0, 40.0], 0.1) - 4.0).abs() < 1e-12);
    assert!(quantile(&[], 0.5).is_nan());
}

#[test]
fn scott_bandwidth_is_1_06_sigma_n_fifth() {
    // [1, 2, 3, 4, 5]: sample σ = sqrt(2.5); h = 1.06·1.5811388·5^(−0.2) = 1.214736...
    let h = scott_bandwidth(&[1.0, 2.0, 3.0, 4.0, 5.0]);
    let expect = 1.06 * 2.5f64.sqrt() * 5f64.powf(-0.2);
    assert!((h - expect).abs() < 1e-12);
    assert!((h - 1.214_736).abs() < 1e-6, "{h}");
    assert_eq!(scott_bandwidth(&[3.0]), 0.0);
    assert_eq!(scott_bandwidth(&[2.0, 2.0, 2.0]), 0.0);
    assert_eq!(scott_bandwidth(&[1.0, f64::NAN, 2.0, 3.0, 4.0, 5.0]), h);
}

#[test]
fn kde_integrates_to_one_and_matches_single_gaussian() {
    let vals = [0.1, 0.4, 0.45, 0.9, 1.3];
    let h = scott_bandwidth(&vals);
    let grid: Vec<f64> = (0..4001).map(|k| -10.0 + k as f64 * 0.005).collect();
    let d = kde(&vals, h, &grid);
    let integral: f64 = d.iter().sum::<f64>() * 0.005;
    assert!((integral - 1.0).abs() < 1e-6, "{integral}");
    // One point at 0 with h = 2: the normal pdf with σ = 2.
    let one = kde(&[0.0], 2.0, &[0.0, 2.0]);
    assert!((one[0] - 0.199_471_140_2).abs() < 1e-9);
    assert!((one[1] - 0.120_985_362_3).abs() < 1e-9);
    assert_eq!(kde(&[1.0], 0.0, &[1.0]), vec![0.0]);
}

#[test]
fn labels_wrap_and_shrink_to_fit() {
    let lines = wrap("factor-vae γ=30 split", 80.0, 12.0);
    assert!(lines.len() >= 2, "{lines:?}");
    assert!(lines.iter().all(|l| text_width(l, 12.0) <= 80), "{lines:?}");
    assert_eq!(lines.concat().replace(' ', ""), "factor-vaeγ=30split");
    assert_eq!(wrap("short", 200.0, 12.0), vec!["short"]);
    let (size, w) = fit_labels(&["averyveryverylongunbreakablelabel", "b"], 60.0, 14.0);
    assert!(size < 14.0);
    assert_eq!(w[1], vec!["b"]);
}

#[test]
fn tick_labels_are_short() {
    let f = tick_formatter(0.0, 1.0);
    assert_eq!(f(&0.25), "0.25");
    assert_eq!(f(&0.5), "0.5");
    assert_eq!(f(&-0.0), "0");
    let g = tick_formatter(0.0, 100.0);
    assert_eq!(g(&40.0), "40");
}
