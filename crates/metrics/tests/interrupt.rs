//! Cooperative interruption. Its own test binary: the request is process-wide, and would stop the
//! metrics of other tests running beside it.

use disentangle_metrics::{Codes, Factors, GaussianPosteriors, GbtConfig, GradientBoostedTrees, InfoConfig, MetricsError, SapConfig, information_diagnostics, interrupt, sap};

#[test]
fn a_requested_interruption_stops_the_long_loops_and_clears() {
    let n = 300;
    let x: Vec<f32> = (0..n).map(|i| ((i * 7) % 11) as f32).collect();
    let y: Vec<usize> = (0..n).map(|i| i % 3).collect();
    let codes2: Vec<f32> = (0..n * 2).map(|i| ((i * 13) % 17) as f32).collect();
    let factors: Vec<usize> = (0..n).map(|i| i % 4).collect();
    let logvar = vec![0.0f32; n * 2];
    let config = GbtConfig::default();
    let run_all = || -> Vec<Result<(), MetricsError>> {
        let codes = Codes::new(&codes2, n, 2).unwrap();
        let f = Factors::new(&factors, n, 1).unwrap();
        let posteriors = GaussianPosteriors::new(&codes2, &logvar, n, 2).unwrap();
        vec![
            GradientBoostedTrees::fit(&x, 1, &y, &config).map(|_| ()),
            sap(&codes, &f, &SapConfig { num_train: 200, num_test: 100, ..Default::default() }).map(|_| ()),
            information_diagnostics(&posteriors, 0, &InfoConfig { num_z_samples: 100 }).map(|_| ()),
        ]
    };
    interrupt::request();
    for result in run_all() {
        assert!(matches!(result, Err(MetricsError::Interrupted)), "{result:?}");
    }
    interrupt::clear();
    for result in run_all() {
        assert!(result.is_ok(), "{result:?}");
    }
}
