//! Running metrics by name: from precomputed codes ([`evaluate_codes`]) or from a
//! representation function over a ground-truth factor space ([`evaluate_representation`],
//! which also runs the interventional FactorVAE and BetaVAE scores).

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::beta_vae::{BetaVaeConfig, beta_vae_score};
use crate::data::{Codes, FactorSizes, Factors, GaussianPosteriors};
use crate::dci::{DciConfig, dci};
use crate::error::{MetricsError, Result, invalid};
use crate::explicitness::{ExplicitnessConfig, explicitness};
use crate::factor_vae::{FactorVaeConfig, factor_vae_score};
use crate::info::{InfoConfig, information_diagnostics};
use crate::mig::{MigConfig, mig};
use crate::mig_continuous::{MigContinuousConfig, mig_continuous};
use crate::modularity::{ModularityConfig, modularity};
use crate::report::{Report, ToReport};
use crate::representation::{Representation, sample_codes};
use crate::sap::{SapConfig, sap};
use crate::unsupervised::{UnsupervisedConfig, unsupervised_scores};
use crate::dci_es::{DciEsConfig, dci_es};
use crate::dci_zaidi::{DciZaidiConfig, dci_zaidi};
use crate::downstream::{DownstreamConfig, downstream};
use crate::fairness::{FairnessConfig, fairness};
use crate::reduced_downstream::{ReducedDownstreamConfig, reduced_downstream};
use crate::strong_downstream::{StrongDownstreamConfig, strong_downstream};
use crate::unified::{UnifiedConfig, unified};
use crate::dcimig::dcimig;
use crate::explicitness_zaidi::explicitness_zaidi;
use crate::infomec::{InfomecConfig, infomec};
use crate::irs::{IrsConfig, IrsReport, IrsVariant, IrsZaidiReport, irs};
use crate::jemmig::jemmig;
use crate::mig_sup::mig_sup;
use crate::mig_zaidi::mig_zaidi;
use crate::modularity_zaidi::modularity_zaidi;
use crate::sap_zaidi::{SapZaidiConfig, sap_zaidi};
use crate::z_scores::{ZDiffConfig, ZVarConfig, z_diff, z_max_var, z_min_var};
use crate::zaidi::ZaidiConfig;

/// A metric that can be requested by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Metric {
    /// `mig`: reference (discrete) MIG → `mig.discrete`.
    Mig,
    /// `mig-continuous`: Chen et al.'s estimator over posteriors → `mig.continuous`.
    MigContinuous,
    /// `factor-vae` → `factor_vae.eval_accuracy` (needs a representation function).
    FactorVae,
    /// `beta-vae` → `beta_vae.eval_accuracy` (needs a representation function).
    BetaVae,
    /// `dci` → `dci.disentanglement`, `dci.completeness`, `dci.informativeness_test`.
    Dci,
    /// `sap` → `sap.score`.
    Sap,
    /// `modularity` → `modularity.score`.
    Modularity,
    /// `explicitness` → `explicitness.score_test`.
    Explicitness,
    /// `unsupervised` → `unsupervised.gaussian_total_correlation`, ... (no factors needed).
    Unsupervised,
    /// `info` → `info.isolation_gap`, `info.aggregate_tc`, ... (needs posteriors).
    Info,
    /// `irs` → `irs.score` (disentanglement_lib's IRS, diff_quantile 0.99).
    Irs,
    /// `irs:zaidi` → `irs_zaidi.score` (Zaidi et al.'s IRS: diff_quantile 1.0, 10 bins).
    IrsZaidi,
    /// `mig-sup` → `mig_sup.score` (Li et al. 2020, Zaidi et al.'s estimator).
    MigSup,
    /// `dcimig` → `dcimig.score` (Sepliarskaia et al. 2019).
    Dcimig,
    /// `jemmig` → `jemmig.score` (Do & Tran 2020).
    Jemmig,
    /// `mig:zaidi` → `mig_zaidi.score` (MIG as Zaidi et al.'s code computes it).
    MigZaidi,
    /// `modularity:zaidi` → `modularity_zaidi.score`.
    ModularityZaidi,
    /// `sap:zaidi` → `sap_zaidi.score` (squared-correlation SAP).
    SapZaidi,
    /// `infomec` → `infomec.infom`, `infomec.infoc`, `infomec.infoe` (Hsu et al. 2023).
    Infomec,
    /// `z-min-var` → `z_min_var.score` (the FactorVAE score with Zaidi et al.'s settings).
    ZMinVar,
    /// `z-max-var` → `z_max_var.score` (Zaidi et al.).
    ZMaxVar,
    /// `z-diff` → `z_diff.score` (the BetaVAE score with Zaidi et al.'s settings).
    ZDiff,
    /// `explicitness:zaidi` → `explicitness_zaidi.score`.
    ExplicitnessZaidi,
    /// `dci:zaidi` → `dci_zaidi.disentanglement`, `.completeness`, `.informativeness` (Lasso).
    DciZaidi,
    /// `downstream` → `downstream.logistic_regression.10:mean_test_accuracy`, … (disentanglement_lib).
    Downstream,
    /// `reduced-downstream` → `reduced_downstream.100:mean_test_accuracy_reduced_factor`, ….
    ReducedDownstream,
    /// `fairness` → `fairness.mean_fairness:mean_pred:mean_sens`, … (needs a representation function).
    Fairness,
    /// `strong-downstream` → `strong_downstream.1000:strong_generalization_gap`, … (needs a representation function).
    StrongDownstream,
    /// `unified` → `unified.mutual_information_matrix.mig`, … (disentanglement_lib's unified scores).
    Unified,
    /// `dci-es` → `dci_es.explicitness`, `dci_es.size` (Eastwood et al. 2023).
    DciEs,
}

impl Metric {
    pub const ALL: [Metric; 30] = [
        Metric::Mig,
        Metric::MigContinuous,
        Metric::FactorVae,
        Metric::BetaVae,
        Metric::Dci,
        Metric::Sap,
        Metric::Modularity,
        Metric::Explicitness,
        Metric::Unsupervised,
        Metric::Info,
        Metric::Irs,
        Metric::IrsZaidi,
        Metric::MigSup,
        Metric::Dcimig,
        Metric::Jemmig,
        Metric::MigZaidi,
        Metric::ModularityZaidi,
        Metric::SapZaidi,
        Metric::Infomec,
        Metric::ZMinVar,
        Metric::ZMaxVar,
        Metric::ZDiff,
        Metric::ExplicitnessZaidi,
        Metric::DciZaidi,
        Metric::Downstream,
        Metric::ReducedDownstream,
        Metric::Fairness,
        Metric::StrongDownstream,
        Metric::Unified,
        Metric::DciEs,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::Mig => "mig",
            Metric::MigContinuous => "mig-continuous",
            Metric::FactorVae => "factor-vae",
            Metric::BetaVae => "beta-vae",
            Metric::Dci => "dci",
            Metric::Sap => "sap",
            Metric::Modularity => "modularity",
            Metric::Explicitness => "explicitness",
            Metric::Unsupervised => "unsupervised",
            Metric::Info => "info",
            Metric::Irs => "irs",
            Metric::IrsZaidi => "irs:zaidi",
            Metric::MigSup => "mig-sup",
            Metric::Dcimig => "dcimig",
            Metric::Jemmig => "jemmig",
            Metric::MigZaidi => "mig:zaidi",
            Metric::ModularityZaidi => "modularity:zaidi",
            Metric::SapZaidi => "sap:zaidi",
            Metric::Infomec => "infomec",
            Metric::ZMinVar => "z-min-var",
            Metric::ZMaxVar => "z-max-var",
            Metric::ZDiff => "z-diff",
            Metric::ExplicitnessZaidi => "explicitness:zaidi",
            Metric::DciZaidi => "dci:zaidi",
            Metric::Downstream => "downstream",
            Metric::ReducedDownstream => "reduced-downstream",
            Metric::Fairness => "fairness",
            Metric::StrongDownstream => "strong-downstream",
            Metric::Unified => "unified",
            Metric::DciEs => "dci-es",
        }
    }

    /// Whether report key `key` is one this metric writes (so a new result or error of the
    /// metric replaces it). `mig` and `mig-continuous` share the `mig.` namespace.
    pub fn owns_key(self, key: &str) -> bool {
        let own = |prefix: &str| key.starts_with(prefix);
        match self {
            Metric::Mig => own("mig.") && !own("mig.continuous"),
            Metric::MigContinuous => own("mig.continuous"),
            Metric::FactorVae => own("factor_vae."),
            Metric::BetaVae => own("beta_vae."),
            Metric::Dci => own("dci."),
            Metric::Sap => own("sap."),
            Metric::Modularity => own("modularity."),
            Metric::Explicitness => own("explicitness."),
            Metric::Unsupervised => own("unsupervised."),
            Metric::Info => own("info."),
            Metric::Irs => own("irs."),
            Metric::IrsZaidi => own("irs_zaidi."),
            Metric::MigSup => own("mig_sup."),
            Metric::Dcimig => own("dcimig."),
            Metric::Jemmig => own("jemmig."),
            Metric::MigZaidi => own("mig_zaidi."),
            Metric::ModularityZaidi => own("modularity_zaidi."),
            Metric::SapZaidi => own("sap_zaidi."),
            Metric::Infomec => own("infomec."),
            Metric::ZMinVar => own("z_min_var."),
            Metric::ZMaxVar => own("z_max_var."),
            Metric::ZDiff => own("z_diff."),
            Metric::ExplicitnessZaidi => own("explicitness_zaidi."),
            Metric::DciZaidi => own("dci_zaidi."),
            Metric::Downstream => own("downstream."),
            Metric::ReducedDownstream => own("reduced_downstream."),
            Metric::Fairness => own("fairness."),
            Metric::StrongDownstream => own("strong_downstream."),
            Metric::Unified => own("unified."),
            Metric::DciEs => own("dci_es."),
        }
    }

    /// Needs a representation function (draws its own interventional batches).
    pub fn is_interventional(self) -> bool {
        matches!(self, Metric::FactorVae | Metric::BetaVae | Metric::ZMinVar | Metric::ZMaxVar | Metric::ZDiff | Metric::Fairness | Metric::StrongDownstream)
    }

    /// Needs Gaussian posterior parameters (μ, log σ²), not only codes.
    pub fn needs_posteriors(self) -> bool {
        matches!(self, Metric::MigContinuous | Metric::Info)
    }

    /// Needs ground-truth factors.
    pub fn needs_factors(self) -> bool {
        !matches!(self, Metric::Unsupervised | Metric::Info)
    }

    fn known_names() -> String {
        Metric::ALL
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Metric {
    type Err = MetricsError;
    /// Case-insensitive; `_` and `-` are interchangeable (`factor_vae` = `factor-vae`).
    fn from_str(s: &str) -> Result<Self> {
        let normalized = s.trim().to_ascii_lowercase().replace('_', "-");
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == normalized)
            .ok_or_else(|| MetricsError::UnknownMetric {
                name: s.to_string(),
                known: Metric::known_names(),
            })
    }
}

/// Parses a comma-separated list (`"mig,factor-vae,dci"`; `"all"` = every metric),
/// dropping repeats.
pub fn parse_metrics(list: &str) -> Result<Vec<Metric>> {
    let mut out: Vec<Metric> = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let metrics = if part.eq_ignore_ascii_case("all") {
            Metric::ALL.to_vec()
        } else {
            vec![part.parse()?]
        };
        for m in metrics {
            if !out.contains(&m) {
                out.push(m);
            }
        }
    }
    if out.is_empty() {
        return Err(MetricsError::Empty {
            what: "metric list",
        });
    }
    Ok(out)
}

/// Settings of every metric; the default is the reference study's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalConfig {
    /// Most factor vectors per representation call in [`evaluate_representation`] (for
    /// the shared sample and for FactorVAE and BetaVAE, overriding their own setting).
    /// It does not change the scores of a deterministic representation.
    pub rows_per_call: usize,
    pub mig: MigConfig,
    pub mig_continuous: MigContinuousConfig,
    pub factor_vae: FactorVaeConfig,
    pub beta_vae: BetaVaeConfig,
    pub dci: DciConfig,
    pub sap: SapConfig,
    pub modularity: ModularityConfig,
    pub explicitness: ExplicitnessConfig,
    pub unsupervised: UnsupervisedConfig,
    pub info: InfoConfig,
    /// disentanglement_lib's IRS.
    #[serde(default)]
    pub irs: IrsConfig,
    /// Zaidi et al.'s IRS (diff_quantile 1.0, 10 min-max bins).
    #[serde(default = "irs_zaidi_default")]
    pub irs_zaidi: IrsConfig,
    /// Shared by the Zaidi et al. metrics: mig-sup, dcimig, jemmig, mig:zaidi, modularity:zaidi.
    #[serde(default)]
    pub zaidi: ZaidiConfig,
    #[serde(default)]
    pub sap_zaidi: SapZaidiConfig,
    #[serde(default)]
    pub dci_zaidi: DciZaidiConfig,
    #[serde(default)]
    pub infomec: InfomecConfig,
    /// z-min-var and z-max-var.
    #[serde(default)]
    pub z_var: ZVarConfig,
    #[serde(default)]
    pub z_diff: ZDiffConfig,
    #[serde(default)]
    pub downstream: DownstreamConfig,
    #[serde(default)]
    pub reduced_downstream: ReducedDownstreamConfig,
    #[serde(default)]
    pub fairness: FairnessConfig,
    #[serde(default)]
    pub strong_downstream: StrongDownstreamConfig,
    #[serde(default)]
    pub unified: UnifiedConfig,
    #[serde(default)]
    pub dci_es: DciEsConfig,
}

fn irs_zaidi_default() -> IrsConfig {
    IrsConfig { diff_quantile: 1.0, num_bins: 10, ..IrsConfig::default() }
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            rows_per_call: 1024,
            mig: MigConfig::default(),
            mig_continuous: MigContinuousConfig::default(),
            factor_vae: FactorVaeConfig::default(),
            beta_vae: BetaVaeConfig::default(),
            dci: DciConfig::default(),
            sap: SapConfig::default(),
            modularity: ModularityConfig::default(),
            explicitness: ExplicitnessConfig::default(),
            unsupervised: UnsupervisedConfig::default(),
            info: InfoConfig::default(),
            irs: IrsConfig::default(),
            irs_zaidi: irs_zaidi_default(),
            zaidi: ZaidiConfig::default(),
            sap_zaidi: SapZaidiConfig::default(),
            dci_zaidi: DciZaidiConfig::default(),
            infomec: InfomecConfig::default(),
            z_var: ZVarConfig::default(),
            z_diff: ZDiffConfig::default(),
            downstream: DownstreamConfig::default(),
            reduced_downstream: ReducedDownstreamConfig::default(),
            fairness: FairnessConfig::default(),
            strong_downstream: StrongDownstreamConfig::default(),
            unified: UnifiedConfig::default(),
            dci_es: DciEsConfig::default(),
        }
    }
}

pub use crate::data::{MAX_BINS, MAX_METRIC_SAMPLES};

impl EvalConfig {
    /// Checks every size against [`MAX_METRIC_SAMPLES`], naming the offending setting.
    pub fn validate(&self) -> Result<()> {
        let sizes = [
            ("rows_per_call", self.rows_per_call),
            ("mig.num_train", self.mig.num_train),
            ("mig_continuous.num_z_samples", self.mig_continuous.num_z_samples),
            ("factor_vae.batch_size", self.factor_vae.batch_size),
            ("factor_vae.num_train", self.factor_vae.num_train),
            ("factor_vae.num_eval", self.factor_vae.num_eval),
            ("factor_vae.num_variance_estimate", self.factor_vae.num_variance_estimate),
            ("factor_vae.rows_per_call", self.factor_vae.rows_per_call),
            ("beta_vae.batch_size", self.beta_vae.batch_size),
            ("beta_vae.num_train", self.beta_vae.num_train),
            ("beta_vae.num_eval", self.beta_vae.num_eval),
            ("beta_vae.rows_per_call", self.beta_vae.rows_per_call),
            ("dci.num_train", self.dci.num_train),
            ("dci.num_test", self.dci.num_test),
            ("dci.boosting.num_stages", self.dci.boosting.num_stages),
            ("sap.num_train", self.sap.num_train),
            ("sap.num_test", self.sap.num_test),
            ("modularity.num_train", self.modularity.num_train),
            ("explicitness.num_train", self.explicitness.num_train),
            ("explicitness.num_test", self.explicitness.num_test),
            ("unsupervised.num_train", self.unsupervised.num_train),
            ("info.num_z_samples", self.info.num_z_samples),
            ("irs.num_train", self.irs.num_train),
            ("irs_zaidi.num_train", self.irs_zaidi.num_train),
            ("zaidi.num_train", self.zaidi.num_train),
            ("sap_zaidi.num_train", self.sap_zaidi.num_train),
            ("dci_zaidi.num_train", self.dci_zaidi.num_train),
            ("infomec.num_train", self.infomec.num_train),
            ("z_var.batch_size", self.z_var.batch_size),
            ("z_var.num_train", self.z_var.num_train),
            ("z_var.num_eval", self.z_var.num_eval),
            ("z_var.num_variance_estimate", self.z_var.num_variance_estimate),
            ("z_diff.batch_size", self.z_diff.batch_size),
            ("z_diff.num_train", self.z_diff.num_train),
            ("z_diff.num_eval", self.z_diff.num_eval),
            ("downstream.num_train (largest) + num_test", self.downstream.sample_size()),
            ("reduced_downstream.num_train (largest) + num_test", self.reduced_downstream.sample_size()),
            ("fairness.num_train", self.fairness.num_train),
            ("fairness.num_test_points_per_class", self.fairness.num_test_points_per_class),
            ("strong_downstream.num_train (largest)", self.strong_downstream.num_train.iter().copied().max().unwrap_or(0)),
            ("strong_downstream.num_test", self.strong_downstream.num_test),
            ("strong_downstream.n_experiment", self.strong_downstream.n_experiment),
            ("unified.num_train", self.unified.num_train),
            ("unified.num_test", self.unified.num_test),
            ("dci_es.num_train", self.dci_es.num_train),
            ("dci_es.num_test", self.dci_es.num_test),
        ];
        for (name, value) in sizes {
            if value > MAX_METRIC_SAMPLES {
                return Err(invalid(name, format!("{value} is more than {MAX_METRIC_SAMPLES}")));
            }
        }
        self.dci_es.validate()?;
        // Contingency tables are bins × bins (code pairs) or bins × classes.
        for (name, bins) in [
            ("mig.num_bins", self.mig.num_bins),
            ("modularity.num_bins", self.modularity.num_bins),
            ("unsupervised.num_bins", self.unsupervised.num_bins),
            ("irs.num_bins", self.irs.num_bins),
            ("irs_zaidi.num_bins", self.irs_zaidi.num_bins),
            ("zaidi.num_bins", self.zaidi.num_bins),
            ("unified.num_bins", self.unified.num_bins),
        ] {
            if bins > MAX_BINS {
                return Err(invalid(name, format!("{bins} is more than {MAX_BINS} (the reference uses 20)")));
            }
        }
        Ok(())
    }

    /// Rows a code-based metric uses from a sample (train + test).
    pub fn sample_size(&self, metric: Metric) -> usize {
        match metric {
            Metric::Mig => self.mig.num_train,
            Metric::Dci => self.dci.num_train + self.dci.num_test,
            Metric::Sap => self.sap.num_train + self.sap.num_test,
            Metric::Modularity => self.modularity.num_train,
            Metric::Explicitness => self.explicitness.num_train + self.explicitness.num_test,
            Metric::Unsupervised => self.unsupervised.num_train,
            Metric::Irs => self.irs.num_train,
            Metric::IrsZaidi => self.irs_zaidi.num_train,
            Metric::MigSup | Metric::Dcimig | Metric::Jemmig | Metric::MigZaidi | Metric::ModularityZaidi | Metric::ExplicitnessZaidi => {
                self.zaidi.num_train
            }
            Metric::SapZaidi => self.sap_zaidi.num_train,
            Metric::DciZaidi => self.dci_zaidi.num_train,
            Metric::Infomec => self.infomec.num_train,
            Metric::Downstream => self.downstream.sample_size(),
            Metric::ReducedDownstream => self.reduced_downstream.sample_size(),
            Metric::Unified => self.unified.num_train + self.unified.num_test,
            Metric::DciEs => self.dci_es.num_train + self.dci_es.num_test,
            Metric::MigContinuous | Metric::Info | Metric::FactorVae | Metric::BetaVae | Metric::ZMinVar | Metric::ZMaxVar | Metric::ZDiff | Metric::Fairness | Metric::StrongDownstream => 0,
        }
    }

    /// Rows to sample so that every requested code-based metric gets its full sizes.
    pub fn required_sample_size(&self, metrics: &[Metric]) -> usize {
        metrics
            .iter()
            .map(|&m| self.sample_size(m))
            .max()
            .unwrap_or(0)
    }
}

/// Precomputed inputs: codes, and where available the factors of the same rows and the
/// Gaussian posteriors the codes came from.
#[derive(Debug, Clone, Copy)]
pub struct CodeSample<'a> {
    pub codes: Codes<'a>,
    pub factors: Option<Factors<'a>>,
    pub posteriors: Option<GaussianPosteriors<'a>>,
}

/// Runs `metrics` on precomputed codes. Each metric writes its own keys or, when it fails
/// on these codes (a degenerate sample, a solver that does not converge), only
/// `errors.<name>` with the message ([`Report::errors`]); the others are unaffected.
/// Inputs a requested metric cannot have (no factors, no posteriors, rows that do not
/// match) are an error of the whole call. Metrics with train and test sets use the first
/// `num_train` rows to train and the next `num_test` to test (a proportional split when
/// there are fewer rows); the others use the first `num_train` rows. `seed` is recorded
/// with every result as the seed the sample was drawn with (null when None); the Monte
/// Carlo metrics (`mig-continuous`, `info`) also draw their z from it (0 when None).
/// FactorVAE and BetaVAE need a representation function: asking for them here is an
/// error.
pub fn evaluate_codes(
    metrics: &[Metric],
    sample: &CodeSample,
    seed: Option<u64>,
    config: &EvalConfig,
) -> Result<Report> {
    config.validate()?;
    let n = sample.codes.num_samples();
    if let Some(f) = &sample.factors {
        crate::data::check_same_samples(&sample.codes, f)?;
    }
    if let Some(p) = &sample.posteriors
        && p.num_samples() != n
    {
        return Err(MetricsError::Shape {
            what: "posteriors (rows must match the codes)",
            got: p.num_samples(),
            expected: n,
        });
    }
    for &m in metrics {
        if m.is_interventional() {
            return Err(MetricsError::MissingInput {
                metric: m.name(),
                what: "a representation function (use evaluate_representation)",
            });
        }
        if m.needs_factors() && sample.factors.is_none() {
            return Err(MetricsError::MissingInput {
                metric: m.name(),
                what: "ground-truth factors",
            });
        }
        if m.needs_posteriors() && sample.posteriors.is_none() {
            return Err(MetricsError::MissingInput {
                metric: m.name(),
                what: "Gaussian posteriors (μ and log σ²)",
            });
        }
    }
    let codes = &sample.codes;
    let mut report = Report::new();
    for &m in metrics {
        let factors = sample.factors.as_ref();
        let posteriors = sample.posteriors.as_ref();
        // Each metric reports its own result or its own error: a degenerate case in one
        // (a singular covariance, a solver that does not converge) does not lose the others.
        let result: Result<Report> = (|| {
            Ok(match m {
                Metric::Mig => {
                    let mut r = mig(codes, factors.expect("checked"), &config.mig)?;
                    r.seed = seed;
                    r.to_report()
                }
                Metric::MigContinuous => mig_continuous(
                    posteriors.expect("checked"),
                    factors.expect("checked"),
                    seed.unwrap_or(0),
                    &config.mig_continuous,
                )?
                .to_report(),
                Metric::Dci => {
                    // The trees' feature orders follow the evaluation seed.
                    let mut dci_config = config.dci.clone();
                    dci_config.boosting.seed ^= seed.unwrap_or(0);
                    let mut r = dci(codes, factors.expect("checked"), &dci_config)?;
                    r.seed = seed;
                    r.to_report()
                }
                Metric::Sap => {
                    let mut r = sap(codes, factors.expect("checked"), &config.sap)?;
                    r.seed = seed;
                    r.to_report()
                }
                Metric::Modularity => {
                    let mut r = modularity(codes, factors.expect("checked"), &config.modularity)?;
                    r.seed = seed;
                    r.to_report()
                }
                Metric::Explicitness => {
                    let mut r = explicitness(codes, factors.expect("checked"), &config.explicitness)?;
                    r.seed = seed;
                    r.to_report()
                }
                Metric::Unsupervised => {
                    let mut r = unsupervised_scores(codes, &config.unsupervised)?;
                    r.seed = seed;
                    r.to_report()
                }
                Metric::Info => information_diagnostics(
                    posteriors.expect("checked"),
                    seed.unwrap_or(0),
                    &config.info,
                )?
                .to_report(),
                Metric::Irs => IrsReport(&irs(codes, factors.expect("checked"), &config.irs, IrsVariant::DisentanglementLib)?).to_report(),
                Metric::IrsZaidi => IrsZaidiReport(&irs(codes, factors.expect("checked"), &config.irs_zaidi, IrsVariant::Zaidi)?).to_report(),
                Metric::MigSup => mig_sup(codes, factors.expect("checked"), &config.zaidi)?.to_report(),
                Metric::Dcimig => dcimig(codes, factors.expect("checked"), &config.zaidi)?.to_report(),
                Metric::Jemmig => jemmig(codes, factors.expect("checked"), &config.zaidi)?.to_report(),
                Metric::MigZaidi => mig_zaidi(codes, factors.expect("checked"), &config.zaidi)?.to_report(),
                Metric::ModularityZaidi => modularity_zaidi(codes, factors.expect("checked"), &config.zaidi)?.to_report(),
                Metric::DciZaidi => dci_zaidi(codes, factors.expect("checked"), &config.dci_zaidi)?.to_report(),
                Metric::ExplicitnessZaidi => explicitness_zaidi(codes, factors.expect("checked"), &config.zaidi)?.to_report(),
                Metric::SapZaidi => sap_zaidi(codes, factors.expect("checked"), &config.sap_zaidi)?.to_report(),
                Metric::Infomec => {
                    let mut r = infomec(codes, factors.expect("checked"), seed.unwrap_or(0), &config.infomec)?.to_report();
                    r.insert_seed("infomec", seed);
                    r
                }
                Metric::Downstream => downstream(codes, factors.expect("checked"), &config.downstream, seed)?.to_report(),
                Metric::ReducedDownstream => reduced_downstream(codes, factors.expect("checked"), &config.reduced_downstream, seed)?.to_report(),
                Metric::DciEs => {
                    // The trees' feature orders follow the evaluation seed (as DCI's).
                    let mut c = config.dci_es.clone();
                    c.seed ^= seed.unwrap_or(0);
                    let mut r = dci_es(codes, factors.expect("checked"), &c)?;
                    r.seed = seed;
                    r.to_report()
                }
                Metric::Unified => {
                    // The trees' feature orders follow the evaluation seed (as DCI's).
                    let mut c = config.unified.clone();
                    c.boosting.seed ^= seed.unwrap_or(0);
                    unified(codes, factors.expect("checked"), &c, seed)?.to_report()
                }
                Metric::FactorVae | Metric::BetaVae | Metric::ZMinVar | Metric::ZMaxVar | Metric::ZDiff | Metric::Fairness | Metric::StrongDownstream => unreachable!("rejected above"),
            })
        })();
        match result {
            Ok(r) => report.extend(r),
            Err(e) => report.insert_error(m, &e),
        }
    }
    Ok(report)
}

/// Runs `metrics` on a representation of a ground-truth factor space (failures per metric
/// as in [`evaluate_codes`]), the way the
/// reference study does: each metric draws factor vectors uniformly from ChaCha8 seeded
/// with `seed`. The code-based metrics share one sample of
/// [`EvalConfig::required_sample_size`] rows (a fresh same-seeded stream per metric would
/// draw exactly these rows), encoded `config.rows_per_call` at a time; FactorVAE and BetaVAE
/// each draw their own interventional batches from a fresh stream. `mig-continuous` and
/// `info` need posteriors: encode them yourself and use [`evaluate_codes`] or
/// [`information_diagnostics`].
pub fn evaluate_representation<R: Representation>(
    metrics: &[Metric],
    ground_truth: &FactorSizes,
    representation: &mut R,
    seed: u64,
    config: &EvalConfig,
) -> Result<Report> {
    config.validate()?;
    if let Some(m) = metrics.iter().find(|m| m.needs_posteriors()) {
        return Err(MetricsError::MissingInput {
            metric: m.name(),
            what: "Gaussian posteriors (μ and log σ²); call evaluate_codes with posteriors",
        });
    }
    let code_metrics: Vec<Metric> = metrics
        .iter()
        .copied()
        .filter(|m| !m.is_interventional())
        .collect();
    let mut report = Report::new();
    let rows = config.required_sample_size(&code_metrics);
    if rows > 0 {
        match sample_codes(
            ground_truth,
            representation,
            rows,
            seed,
            config.rows_per_call,
        ) {
            Ok(sample) => {
                let inputs = CodeSample {
                    codes: sample.codes(),
                    factors: Some(sample.factors()),
                    posteriors: None,
                };
                report.extend(evaluate_codes(&code_metrics, &inputs, Some(seed), config)?);
            }
            // Without the shared sample no code-based metric has a result; the
            // interventional ones draw their own batches and may still succeed.
            Err(e) => code_metrics.iter().for_each(|&m| report.insert_error(m, &e)),
        }
    }
    let factor_vae_config = FactorVaeConfig {
        rows_per_call: config.rows_per_call,
        ..config.factor_vae.clone()
    };
    let beta_vae_config = BetaVaeConfig {
        rows_per_call: config.rows_per_call,
        ..config.beta_vae.clone()
    };
    for &m in metrics {
        let result = match m {
            Metric::FactorVae => {
                factor_vae_score(ground_truth, representation, seed, &factor_vae_config)
                    .map(|r| r.to_report())
            }
            Metric::BetaVae => {
                beta_vae_score(ground_truth, representation, seed, &beta_vae_config)
                    .map(|r| r.to_report())
            }
            Metric::ZMinVar => z_min_var(ground_truth, representation, seed, &config.z_var, config.rows_per_call).map(|r| r.to_report()),
            Metric::ZMaxVar => z_max_var(ground_truth, representation, seed, &config.z_var, config.rows_per_call).map(|r| r.to_report()),
            Metric::ZDiff => z_diff(ground_truth, representation, seed, &config.z_diff, config.rows_per_call).map(|r| r.to_report()),
            Metric::Fairness => fairness(ground_truth, representation, seed, &config.fairness, config.rows_per_call).map(|r| r.to_report()),
            Metric::StrongDownstream => strong_downstream(ground_truth, representation, seed, &config.strong_downstream, config.rows_per_call).map(|r| r.to_report()),
            _ => continue,
        };
        match result {
            Ok(r) => report.extend(r),
            Err(e) => report.insert_error(m, &e),
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_errors() {
        for m in Metric::ALL {
            assert_eq!(m.name().parse::<Metric>().unwrap(), m);
        }
        assert_eq!("Factor_VAE".parse::<Metric>().unwrap(), Metric::FactorVae);
        let err = "migg".parse::<Metric>().unwrap_err();
        assert!(err.to_string().contains("mig-continuous"), "{err}");
        assert_eq!(
            parse_metrics("mig, dci,mig").unwrap(),
            vec![Metric::Mig, Metric::Dci]
        );
        assert_eq!(parse_metrics("all").unwrap().len(), Metric::ALL.len());
        assert!(parse_metrics(" , ").is_err());
    }

    /// Reference protocol at reduced sample sizes, so the test stays fast.
    fn small_config() -> EvalConfig {
        let mut c = EvalConfig::default();
        c.mig.num_train = 1500;
        c.dci.num_train = 1000;
        c.dci.num_test = 500;
        c.dci.boosting.num_stages = 20;
        c.sap.num_train = 1000;
        c.sap.num_test = 500;
        c.modularity.num_train = 1500;
        c.explicitness.num_train = 1000;
        c.explicitness.num_test = 500;
        c.unsupervised.num_train = 1500;
        c.factor_vae.num_train = 500;
        c.factor_vae.num_eval = 300;
        c.factor_vae.num_variance_estimate = 1000;
        c.beta_vae.num_train = 300;
        c.beta_vae.num_eval = 200;
        c.info.num_z_samples = 300;
        c.mig_continuous.num_z_samples = 300;
        c
    }

    #[test]
    fn evaluate_representation_writes_every_namespaced_key_with_seed_and_sizes() {
        let sizes = FactorSizes::new(&[3, 4, 5]).unwrap();
        // Identity plus a small jitter that is a function of the factors (so the
        // representation does not depend on batching), and one nearly constant code.
        let mut encode = |f: &[usize]| -> Result<Vec<f32>, String> {
            Ok(f.chunks(3)
                .flat_map(|r| {
                    let jitter = ((r[0] * 31 + r[1] * 17 + r[2] * 7) % 13) as f32 / 130.0;
                    [
                        r[0] as f32 + jitter,
                        r[1] as f32 - jitter,
                        r[2] as f32 + jitter,
                        jitter,
                    ]
                })
                .collect())
        };
        let metrics =
            parse_metrics("mig,factor-vae,beta-vae,dci,sap,modularity,explicitness,unsupervised")
                .unwrap();
        let config = small_config();
        let report = evaluate_representation(&metrics, &sizes, &mut encode, 7, &config).unwrap();
        for key in [
            "mig.discrete",
            "factor_vae.eval_accuracy",
            "beta_vae.eval_accuracy",
            "dci.disentanglement",
            "dci.completeness",
            "dci.informativeness_test",
            "sap.score",
            "modularity.score",
            "explicitness.score_test",
            "unsupervised.gaussian_total_correlation",
        ] {
            assert!(
                report.get_f64(key).is_some(),
                "{key} missing: {}",
                report.to_json_pretty()
            );
        }
        for ns in [
            "mig",
            "factor_vae",
            "beta_vae",
            "dci",
            "sap",
            "modularity",
            "explicitness",
            "unsupervised",
        ] {
            assert_eq!(report.get_f64(&format!("{ns}.seed")), Some(7.0), "{ns}");
        }
        assert_eq!(report.get_f64("dci.num_train"), Some(1000.0));
        assert_eq!(report.get_f64("factor_vae.num_eval"), Some(300.0));
        assert!(report.get_f64("mig.discrete").unwrap() > 0.8);
        assert_eq!(report.get_f64("factor_vae.eval_accuracy"), Some(1.0));
        // JSON round trip (serde_json's default float parser may differ in the last ulp).
        let parsed: Report = serde_json::from_str(&report.to_json_pretty()).unwrap();
        assert_eq!(parsed.len(), report.len());
        for (key, value) in report.scalars() {
            let back = parsed.get_f64(key).unwrap();
            assert!(
                (back - value).abs() <= 1e-15 * value.abs().max(1.0),
                "{key}: {back} vs {value}"
            );
        }
        // Same seed, same report.
        assert_eq!(
            evaluate_representation(
                &metrics,
                &sizes,
                &mut encode,
                7,
                &EvalConfig {
                    rows_per_call: 64,
                    ..config.clone()
                }
            )
            .unwrap(),
            report
        );
    }

    #[test]
    fn the_newer_metrics_run_by_name_on_a_representation_with_their_own_keys() {
        let sizes = FactorSizes::new(&[3, 4, 5]).unwrap();
        let mut encode = |f: &[usize]| -> Result<Vec<f32>, String> {
            Ok(f.chunks(3)
                .flat_map(|r| {
                    let jitter = ((r[0] * 31 + r[1] * 17 + r[2] * 7) % 13) as f32 / 130.0;
                    [r[0] as f32 + jitter, r[1] as f32 - jitter, r[2] as f32 + jitter, jitter]
                })
                .collect())
        };
        let metrics = parse_metrics("irs,irs:zaidi,mig-sup,dcimig,jemmig,mig:zaidi,modularity:zaidi,sap:zaidi,infomec,explicitness:zaidi,dci:zaidi,dci-es").unwrap();
        let mut config = small_config();
        for n in [&mut config.irs.num_train, &mut config.irs_zaidi.num_train, &mut config.zaidi.num_train, &mut config.sap_zaidi.num_train, &mut config.infomec.num_train, &mut config.dci_zaidi.num_train] {
            *n = 1500;
        }
        let report = evaluate_representation(&metrics, &sizes, &mut encode, 3, &config).unwrap();
        for key in [
            "irs.score", "irs_zaidi.score", "mig_sup.score", "dcimig.score", "jemmig.score", "mig_zaidi.score", "modularity_zaidi.score",
            "sap_zaidi.score", "infomec.infom", "infomec.infoc", "infomec.infoe", "explicitness_zaidi.score",
            "dci_zaidi.disentanglement", "dci_zaidi.completeness", "dci_zaidi.informativeness", "dci_es.explicitness", "dci_es.size",
        ] {
            let v = report.get_f64(key).unwrap_or_else(|| panic!("{key} missing: {}", report.to_json_pretty()));
            if key.starts_with("infomec.info") && key != "infomec.infoe" {
                // These codes take few distinct values: to the nearest-neighbour estimator
                // (as to the reference's) they are ties, and its NMI says little.
                assert!(v.is_finite() && v <= 1.0 + 1e-12, "{key} = {v}");
            } else {
                assert!(v > 0.5 && v <= 1.0 + 1e-12, "{key} = {v}: near-identity codes score high");
            }
        }
        for m in &metrics {
            assert!(report.iter().any(|(k, _)| m.owns_key(k)), "{m} owns none of its keys");
        }
        assert_eq!(report.get_f64("irs.diff_quantile"), Some(0.99));
        assert_eq!(report.get_f64("irs_zaidi.diff_quantile"), Some(1.0));
        assert_eq!(report.get_f64("mig_sup.num_samples"), Some(1500.0));
        assert_eq!(report.get_f64("dci_es.size"), Some(0.75));
    }

    #[test]
    fn evaluate_codes_with_posteriors_and_missing_inputs() {
        let n = 600;
        let factors: Vec<usize> = (0..n).flat_map(|i| [i % 3, (i / 3) % 4]).collect();
        let mean: Vec<f32> = factors.iter().map(|&c| c as f32).collect();
        let logvar = vec![-4.0f32; n * 2];
        let codes = Codes::new(&mean, n, 2).unwrap();
        let f = Factors::new(&factors, n, 2).unwrap();
        let posteriors = GaussianPosteriors::new(&mean, &logvar, n, 2).unwrap();
        let config = small_config();
        let sample = CodeSample {
            codes,
            factors: Some(f),
            posteriors: Some(posteriors),
        };
        let report = evaluate_codes(
            &[Metric::Info, Metric::MigContinuous, Metric::Mig],
            &sample,
            None,
            &config,
        )
        .unwrap();
        assert_eq!(report.get("mig.seed"), Some(&serde_json::Value::Null));
        assert_eq!(report.get_f64("info.seed"), Some(0.0));
        assert!(report.get_f64("info.isolation_gap").is_some());
        assert!(report.get_f64("mig.continuous").unwrap() > 0.9);
        assert_eq!(report.get_f64("mig.num_samples"), Some(600.0));

        let bare = CodeSample {
            codes,
            factors: None,
            posteriors: None,
        };
        assert!(matches!(
            evaluate_codes(&[Metric::FactorVae], &sample, None, &config),
            Err(MetricsError::MissingInput {
                metric: "factor-vae",
                ..
            })
        ));
        assert!(matches!(
            evaluate_codes(&[Metric::Info], &bare, None, &config),
            Err(MetricsError::MissingInput { metric: "info", .. })
        ));
        assert!(matches!(
            evaluate_codes(&[Metric::Dci], &bare, None, &config),
            Err(MetricsError::MissingInput { metric: "dci", .. })
        ));
        assert!(evaluate_codes(&[Metric::Unsupervised], &bare, None, &config).is_ok());
        let other_rows = Factors::new(&factors[..20], 10, 2).unwrap();
        let mismatched = CodeSample {
            codes,
            factors: Some(other_rows),
            posteriors: None,
        };
        assert!(matches!(
            evaluate_codes(&[Metric::Mig], &mismatched, None, &config),
            Err(MetricsError::Shape { .. })
        ));
    }

    #[test]
    fn a_failing_metric_reports_its_error_and_loses_no_other_result() {
        // One factor only (modularity needs two) and a duplicated code column (singular
        // covariance): MIG and the unsupervised scores are still numbers.
        let n = 900;
        let factors: Vec<usize> = (0..n).map(|i| i % 3).collect();
        let values: Vec<f32> = (0..n)
            .flat_map(|i| {
                let v = (i % 3) as f32 + ((i * 7919) % 101) as f32 / 1000.0;
                [v, v, ((i * 31) % 17) as f32]
            })
            .collect();
        let sample = CodeSample {
            codes: Codes::new(&values, n, 3).unwrap(),
            factors: Some(Factors::new(&factors, n, 1).unwrap()),
            posteriors: None,
        };
        let metrics = [Metric::Modularity, Metric::Mig, Metric::Unsupervised];
        let report = evaluate_codes(&metrics, &sample, Some(3), &small_config()).unwrap();
        let errors: Vec<(&str, &str)> = report.errors().collect();
        assert_eq!(errors.len(), 1, "{}", report.to_json_pretty());
        assert_eq!(errors[0].0, "modularity");
        assert!(errors[0].1.contains("at least 2 factors"), "{}", errors[0].1);
        assert!(report.get("modularity.score").is_none());
        // Codes 0 and 1 are the same: both carry the factor, so the gap is 0.
        assert_eq!(report.get_f64("mig.discrete"), Some(0.0));
        assert!(report.get_f64("unsupervised.mutual_info_score").unwrap() > 0.0);
        assert_eq!(
            report.get("unsupervised.gaussian_total_correlation"),
            Some(&serde_json::Value::Null)
        );
        assert!(report
            .get("unsupervised.gaussian_total_correlation_note")
            .and_then(|v| v.as_str())
            .unwrap()
            .starts_with("+inf"));
    }
}
