//! Disentanglement metrics on plain arrays, with the defaults of the reference study
//! (Locatello et al. 2019, "disentanglement_lib"), and the information diagnostics of the
//! seed paper. No dataset or deep-learning dependency: scores take codes (N×D `f32`) and
//! factor classes (N×K `usize`), or a [`Representation`] closure that encodes factor
//! vectors, or Gaussian posterior parameters.
//!
//! | metric | function | name for [`evaluate_codes`] / [`evaluate_representation`] |
//! |---|---|---|
//! | MIG (reference, discrete) | [`mig()`] | `mig` |
//! | MIG (Chen et al., continuous) | [`mig_continuous()`] | `mig-continuous` |
//! | FactorVAE score | [`factor_vae_score`] | `factor-vae` |
//! | BetaVAE score | [`beta_vae_score`] | `beta-vae` |
//! | DCI | [`dci()`] | `dci` |
//! | SAP | [`sap()`] | `sap` |
//! | Modularity | [`modularity()`] | `modularity` |
//! | Explicitness | [`explicitness()`] | `explicitness` |
//! | Gaussian TC / Wasserstein correlation / mean pairwise MI | [`unsupervised_scores`] | `unsupervised` |
//! | information diagnostics | [`information_diagnostics`] | `info` |
//!
//! Classifiers (written here, no ML crate): [`LogisticRegression`] (L-BFGS),
//! [`OneFeatureSvm`] (linear SVM on one feature, semismooth Newton),
//! [`GradientBoostedTrees`] (exact presorted splits). Each module documents its
//! estimator and sample sizes. Every random draw comes from a ChaCha8 generator seeded
//! explicitly; results record the seed and the sample sizes and serialize to a flat
//! [`Report`] with namespaced keys.
//!
//! ```
//! use disentangle_metrics::*;
//!
//! // A representation: factor classes (n×K) → codes (n×D). Here the identity.
//! let ground_truth = FactorSizes::new(&[3, 6, 8])?;
//! let mut encode = |factors: &[usize]| -> Result<Vec<f32>, std::convert::Infallible> {
//!     Ok(factors.iter().map(|&c| c as f32).collect())
//! };
//! let mut config = EvalConfig::default(); // the reference study's settings
//! config.factor_vae.num_train = 500; // (smaller here so that the example runs fast)
//! config.factor_vae.num_eval = 200;
//! config.factor_vae.num_variance_estimate = 1000;
//! let metrics = parse_metrics("mig,factor-vae")?;
//! let report = evaluate_representation(&metrics, &ground_truth, &mut encode, 0, &config)?;
//! assert!(report.get_f64("mig.discrete").unwrap() > 0.9);
//! assert_eq!(report.get_f64("factor_vae.eval_accuracy"), Some(1.0));
//!
//! // Precomputed codes and factors (for example read from an .npz file).
//! let sample = sample_codes(&ground_truth, &mut encode, 2000, 1, 1024)?;
//! let inputs = CodeSample { codes: sample.codes(), factors: Some(sample.factors()), posteriors: None };
//! let report = evaluate_codes(&[Metric::Mig, Metric::Modularity], &inputs, Some(1), &config)?;
//! println!("{}", report.to_json_pretty());
//! # Ok::<(), MetricsError>(())
//! ```

// Golden values in tests are written as the reference implementations printed them (17
// significant digits), so that they can be compared with their output by eye.
#![cfg_attr(test, allow(clippy::excessive_precision))]

pub mod beta_vae;
pub mod data;
pub mod dci;
pub mod dci_es;
pub mod dci_zaidi;
pub mod dcimig;
pub mod discretize;
pub mod downstream;
pub mod dlib_names;
pub mod error;
pub mod evaluate;
pub mod explicitness;
pub mod explicitness_zaidi;
pub mod factor_vae;
pub mod fairness;
mod gaussian;
pub mod gbt;
pub mod grid_lookup;
pub mod info;
pub mod infomec;
pub mod interrupt;
pub mod irs;
pub mod jemmig;
pub mod knn_mi;
pub mod lasso;
mod labels;
mod lbfgs;
mod linalg;
pub mod linear_svm;
pub mod logistic;
pub mod logistic_cv;
pub mod mig;
pub mod mig_continuous;
pub mod mig_sup;
pub mod mig_zaidi;
pub mod modularity;
pub mod modularity_zaidi;
pub mod reduced_downstream;
pub mod report;
pub mod representation;
pub mod sap;
pub mod sap_zaidi;
pub mod strong_downstream;
pub mod udr;
pub mod unified;
pub mod unsupervised;
pub mod z_scores;
pub mod zaidi;

pub use beta_vae::{BetaVaeConfig, BetaVaeResult, beta_vae_score, beta_vae_score_with_rng};
pub use data::{Codes, FactorSizes, Factors, GaussianPosteriors};
pub use dci::{DciConfig, DciResult, completeness, dci, disentanglement};
pub use discretize::{
    discrete_entropy, discrete_mutual_info, histogram_discretize, mutual_info_matrix,
};
pub use dlib_names::{DLIB_KEYS, to_dlib_names};
pub use error::{BoxError, MetricsError, Result};
pub use evaluate::{
    CodeSample, EvalConfig, Metric, evaluate_codes, evaluate_representation, parse_metrics,
};
pub use explicitness::{ExplicitnessConfig, ExplicitnessResult, explicitness};
pub use factor_vae::{
    FactorVaeConfig, FactorVaeResult, factor_vae_score, factor_vae_score_with_rng,
};
pub use gbt::{GbtConfig, GradientBoostedRegressor, GradientBoostedTrees};
pub use dci_es::{DciEsConfig, DciEsResult, dci_es};
pub use grid_lookup::{GridLookup, IncompleteGrid};
pub use info::{
    InfoConfig, InfoDiagnostics, information_diagnostics, information_diagnostics_with_rng,
};
pub use linear_svm::{LinearSvmConfig, OneFeatureSvm};
pub use logistic::{LogisticConfig, LogisticRegression};
pub use logistic_cv::{LogisticCvConfig, LogisticRegressionCv};
pub use downstream::{DownstreamConfig, DownstreamResult, Predictor, downstream};
pub use reduced_downstream::{ReducedDownstreamConfig, ReducedDownstreamResult, reduced_downstream};
pub use fairness::{FairnessConfig, FairnessResult, fairness};
pub use strong_downstream::{StrongDownstreamConfig, StrongDownstreamResult, strong_downstream};
pub use unified::{UnifiedConfig, UnifiedResult, unified};
pub use udr::{UdrConfig, UdrCorrelation, UdrModel, UdrResult, udr};
pub use mig::{MigConfig, MigResult, mig};
pub use mig_continuous::{
    MigContinuousConfig, MigContinuousResult, MigNormalization, mig_continuous,
};
pub use modularity::{ModularityConfig, ModularityResult, modularity, modularity_from_mutual_info};
pub use report::{Report, ToReport};
pub use representation::{Representation, SampledCodes, sample_codes};
pub use sap::{SapConfig, SapResult, sap};
pub use unsupervised::{UnsupervisedConfig, UnsupervisedResult, unsupervised_scores};
