//! Studies that ship with the tool (the TOML files in `crates/study/presets/`).

use std::path::Path;

use crate::error::{Result, StudyError};
use crate::spec::StudySpec;

pub const PRESETS: [(&str, &str); 6] = [
    ("paper-dsprites", include_str!("../presets/paper-dsprites.toml")),
    ("paper-cars3d", include_str!("../presets/paper-cars3d.toml")),
    ("paper-mini-dsprites", include_str!("../presets/paper-mini-dsprites.toml")),
    ("paper-mini-cars3d", include_str!("../presets/paper-mini-cars3d.toml")),
    ("paper-medium-dsprites", include_str!("../presets/paper-medium-dsprites.toml")),
    ("dlib-grid", include_str!("../presets/dlib-grid.toml")),
];

pub fn preset_text(name: &str) -> Option<&'static str> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Reads a study from a file, or from a preset when no such file exists and the name is a preset's.
pub fn load_study(file_or_preset: &str) -> Result<StudySpec> {
    let path = Path::new(file_or_preset);
    if path.is_file() {
        return StudySpec::load(path);
    }
    match preset_text(file_or_preset) {
        Some(text) => StudySpec::parse(text, &format!("preset `{file_or_preset}`")),
        None => Err(StudyError::Invalid(format!(
            "`{file_or_preset}` is neither a study file nor a preset ({})",
            PRESETS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
        ))),
    }
}
