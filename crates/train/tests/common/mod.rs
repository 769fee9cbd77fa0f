//! Shared by the training test files.

use disentangle_models::config::ObjectiveConfig;

/// One representative setting of each of the six objectives.
pub fn objectives() -> Vec<ObjectiveConfig> {
    vec![
        ObjectiveConfig::Vae { beta: 4.0 },
        ObjectiveConfig::AnnealedVae { gamma: 1000.0, c_max: 25.0, iteration_threshold: 100_000 },
        ObjectiveConfig::FactorVae { gamma: 30.0 },
        ObjectiveConfig::DipVaeI { lambda_od: 10.0, lambda_d: 100.0 },
        ObjectiveConfig::DipVaeIi { lambda_od: 10.0, lambda_d: 10.0 },
        ObjectiveConfig::BetaTcvae { beta: 6.0 },
    ]
}
