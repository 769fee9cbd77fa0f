//! `study slurm`: a Slurm job-array script whose tasks each run one job of the study
//! against a shared study folder (`study run-one --index $SLURM_ARRAY_TASK_ID`).

use std::path::Path;

#[derive(Clone, Debug)]
pub struct SlurmOptions {
    /// CPUs per task (sets the burn/rayon thread count too).
    pub cpus: usize,
    /// Wall-clock limit per task, Slurm format.
    pub time: String,
    pub memory: String,
    pub partition: Option<String>,
    /// Most tasks running at once (`%N` of `--array`).
    pub max_parallel: Option<usize>,
    /// Extra lines (e.g. `module load …`) before the command.
    pub setup: Vec<String>,
    /// The `disentangle` executable the tasks run.
    pub executable: String,
}

impl Default for SlurmOptions {
    fn default() -> Self {
        SlurmOptions {
            cpus: 4,
            time: "48:00:00".into(),
            memory: "8G".into(),
            partition: None,
            max_parallel: None,
            setup: Vec::new(),
            executable: "disentangle".into(),
        }
    }
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The sbatch script for a study of `num_jobs` jobs. `study` is the study file (absolute) or
/// preset name, `dir` the shared study folder (absolute).
pub fn sbatch_script(name: &str, study: &str, dir: &Path, num_jobs: usize, o: &SlurmOptions) -> String {
    let mut s = String::from("#!/bin/bash\n");
    s += &format!("#SBATCH --job-name={}\n", shell_quote(&format!("disentangle-{name}")));
    let throttle = o.max_parallel.map(|m| format!("%{m}")).unwrap_or_default();
    s += &format!("#SBATCH --array=0-{}{throttle}\n", num_jobs.saturating_sub(1));
    s += &format!("#SBATCH --cpus-per-task={}\n", o.cpus);
    s += &format!("#SBATCH --mem={}\n", o.memory);
    s += &format!("#SBATCH --time={}\n", o.time);
    s += &format!("#SBATCH --output={}\n", shell_quote(&dir.join("slurm").join("%A_%a.out").display().to_string()));
    if let Some(p) = &o.partition {
        s += &format!("#SBATCH --partition={}\n", shell_quote(p));
    }
    s += &format!(
        "\n# {num_jobs} jobs. Each task trains and scores one run in the shared study folder; a task whose\n\
         # job is done (or held by a live task) exits at once, and a re-submitted array resumes killed\n\
         # runs from their checkpoints. Results: {}/results.sqlite\n",
        dir.display()
    );
    s += "set -euo pipefail\n";
    s += &format!("mkdir -p {}\n", shell_quote(&dir.join("slurm").display().to_string()));
    s += "export RAYON_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"\n";
    for line in &o.setup {
        s += line;
        s += "\n";
    }
    s += &format!(
        "{} study run-one {} --dir {} --index \"$SLURM_ARRAY_TASK_ID\"\n",
        shell_quote(&o.executable),
        shell_quote(study),
        shell_quote(&dir.display().to_string())
    );
    s
}
