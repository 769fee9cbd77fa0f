//! The study's results database (SQLite, one file in the study folder).
//!
//! Workers — threads of one `study run`, several `study run` processes, or Slurm array tasks
//! on other machines sharing the folder — coordinate only through this file. Every state
//! change is one `BEGIN IMMEDIATE` transaction (SQLite's write lock), so two workers can never
//! claim the same job, and a job's summary and metrics are written together with its `done`
//! status, so a killed worker leaves either a complete result or none. A job whose worker
//! died stays `running` until another worker sees that it is stale — its process is gone
//! (same host) or its heartbeat is older than the stale limit (any host) — and takes it over,
//! resuming the run from its last checkpoint. The rollback journal (not WAL) is used because
//! WAL does not work on network file systems, where Slurm users keep shared folders.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::{Result, StudyError};
use crate::spec::Job;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    key TEXT PRIMARY KEY,
    idx INTEGER NOT NULL,
    dataset TEXT NOT NULL,
    configuration TEXT NOT NULL,
    objective TEXT NOT NULL,
    hyperparameters TEXT NOT NULL,
    encoder TEXT NOT NULL,
    noise TEXT NOT NULL,
    seed INTEGER NOT NULL,
    steps INTEGER NOT NULL,
    config_toml TEXT NOT NULL,
    run_dir TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed')),
    worker TEXT,
    claimed_at REAL,
    heartbeat REAL,
    finished_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    reconstruction_loss REAL,
    kl REAL,
    elbo REAL,
    regularizer REAL,
    loss REAL,
    tc REAL,
    train_seconds REAL,
    eval_seconds REAL
);
CREATE TABLE IF NOT EXISTS metrics (
    key TEXT NOT NULL REFERENCES jobs(key),
    name TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (key, name)
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, idx);
CREATE TABLE IF NOT EXISTS series (
    key TEXT NOT NULL REFERENCES jobs(key),
    step INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (key, step, name)
);
";

/// One value of a run's metrics during training (`train --eval-every`).
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesValue {
    pub key: String,
    pub step: u64,
    pub name: String,
    pub value: f64,
}

pub fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Who holds a job: `host:pid:thread`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerId {
    pub host: String,
    pub pid: u32,
    pub thread: usize,
}

impl WorkerId {
    pub fn this_process(thread: usize) -> Self {
        WorkerId { host: hostname(), pid: std::process::id(), thread }
    }
    pub fn to_db(&self) -> String {
        format!("{}:{}:{}", self.host, self.pid, self.thread)
    }
    fn parse(s: &str) -> Option<(String, u32)> {
        let mut parts = s.rsplitn(3, ':');
        let _thread = parts.next()?;
        let pid = parts.next()?.parse().ok()?;
        Some((parts.next()?.to_string(), pid))
    }
    /// Prefix shared by every worker of this process (for heartbeats).
    pub fn process_prefix() -> String {
        format!("{}:{}:", hostname(), std::process::id())
    }
}

pub fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_string()).filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "localhost".into())
}

/// Whether process `pid` on this host is alive (Linux: /proc; elsewhere assumed alive, so
/// only the heartbeat decides).
fn process_alive(pid: u32) -> bool {
    if Path::new("/proc/self").exists() { Path::new(&format!("/proc/{pid}")).exists() } else { true }
}

/// A job handed to a worker.
#[derive(Clone, Debug)]
pub struct Claim {
    pub key: String,
    pub index: usize,
    pub config_toml: String,
    pub run_dir: String,
    pub attempts: u32,
}

/// What happened when asking for one particular job.
#[derive(Clone, Debug)]
pub enum ClaimOne {
    Claimed(Claim),
    AlreadyDone,
    HeldBy(String),
}

/// The end-of-training averages stored with a result.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunNumbers {
    pub reconstruction_loss: f64,
    pub kl: f64,
    pub elbo: f64,
    pub regularizer: f64,
    pub loss: f64,
    pub tc: Option<f64>,
    pub train_seconds: f64,
    pub eval_seconds: f64,
}

/// One job's row as stored (for export and report).
#[derive(Clone, Debug, PartialEq)]
pub struct JobRow {
    pub key: String,
    pub index: usize,
    pub dataset: String,
    pub configuration: String,
    pub objective: String,
    pub hyperparameters: String,
    pub encoder: String,
    pub noise: String,
    pub seed: u64,
    pub steps: u64,
    pub run_dir: String,
    pub status: String,
    pub attempts: u32,
    pub error: Option<String>,
    pub numbers: Option<RunNumbers>,
    /// Every scalar metric (namespaced keys), sorted by name.
    pub metrics: Vec<(String, f64)>,
}

impl JobRow {
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub pending: usize,
    pub running: usize,
    pub done: usize,
    pub failed: usize,
}

impl Counts {
    pub fn total(&self) -> usize {
        self.pending + self.running + self.done + self.failed
    }
}

/// Maps SQLite errors to errors naming the database file. Borrowing only the path lets it
/// live beside a transaction, which borrows the connection mutably.
fn db_error(path: &Path) -> impl Fn(rusqlite::Error) -> StudyError + '_ {
    move |source| StudyError::Db { path: path.to_path_buf(), source }
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    pub fn open(path: &Path) -> Result<Self> {
        let db = |source| StudyError::Db { path: path.to_path_buf(), source };
        let conn = Connection::open(path).map_err(db)?;
        // Workers wait for each other's (short) transactions instead of failing.
        conn.busy_timeout(Duration::from_secs(120)).map_err(db)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        Ok(Store { conn, path: path.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn db(&self) -> impl Fn(rusqlite::Error) -> StudyError + '_ {
        db_error(&self.path)
    }

    /// Adds the study's jobs that the database does not hold yet (keyed by `Job::key`) and
    /// refreshes the positions of all of them. Jobs not started (or failed) take the spec's
    /// current training config (e.g. new `steps`); running and finished ones keep theirs, so
    /// results already there are never touched.
    pub fn sync_jobs(&mut self, jobs: &[Job]) -> Result<()> {
        let db = db_error(&self.path);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&db)?;
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO jobs (key, idx, dataset, configuration, objective, hyperparameters, encoder, noise, seed, steps, config_toml, run_dir)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                     ON CONFLICT(key) DO UPDATE SET idx = excluded.idx,
                         config_toml = CASE WHEN status IN ('pending', 'failed') THEN excluded.config_toml ELSE config_toml END,
                         steps = CASE WHEN status IN ('pending', 'failed') THEN excluded.steps ELSE steps END",
                )
                .map_err(&db)?;
            for j in jobs {
                let c = &j.configuration;
                let hyper: Vec<String> = c.objective.params().iter().map(|(k, v)| format!("{k}={v}")).collect();
                insert
                    .execute(params![
                        j.key,
                        j.index as i64,
                        c.dataset,
                        c.label(),
                        c.objective_label(),
                        hyper.join(";"),
                        c.encoder_name(),
                        c.noise_label(),
                        j.seed as i64,
                        j.train.steps as i64,
                        j.train.to_toml(),
                        format!("runs/{}", j.key),
                    ])
                    .map_err(&db)?;
            }
        }
        tx.commit().map_err(&db)
    }

    /// Whether a `running` job's worker is gone.
    fn is_stale(worker: Option<&str>, heartbeat: Option<f64>, stale_after: Duration) -> bool {
        let heartbeat_old = heartbeat.is_none_or(|h| now() - h > stale_after.as_secs_f64());
        let dead_here = worker.and_then(WorkerId::parse).is_some_and(|(host, pid)| host == hostname() && !process_alive(pid));
        heartbeat_old || dead_here
    }

    /// Claims the first job (by position) that is pending — or running under a dead worker,
    /// or failed when `retry_failed` — for `worker`.
    pub fn claim_next(&mut self, worker: &WorkerId, stale_after: Duration, retry_failed: bool) -> Result<Option<Claim>> {
        let db = db_error(&self.path);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&db)?;
        let candidates: Vec<(String, String, Option<String>, Option<f64>)> = {
            let mut q = tx.prepare("SELECT key, status, worker, heartbeat FROM jobs WHERE status != 'done' ORDER BY idx").map_err(&db)?;
            q.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).map_err(&db)?.collect::<rusqlite::Result<_>>().map_err(&db)?
        };
        let chosen = candidates.into_iter().find(|(_, status, w, hb)| match status.as_str() {
            "pending" => true,
            "failed" => retry_failed,
            "running" => Self::is_stale(w.as_deref(), *hb, stale_after),
            _ => false,
        });
        let Some((key, ..)) = chosen else {
            tx.commit().map_err(&db)?;
            return Ok(None);
        };
        let claim = Self::take(&tx, &key, worker).map_err(&db)?;
        tx.commit().map_err(&db)?;
        Ok(Some(claim))
    }

    /// Claims the job `key` unless it is done or held by a live worker.
    pub fn claim_key(&mut self, key: &str, worker: &WorkerId, stale_after: Duration) -> Result<ClaimOne> {
        let db = db_error(&self.path);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&db)?;
        let row: Option<(String, Option<String>, Option<f64>)> = tx
            .query_row("SELECT status, worker, heartbeat FROM jobs WHERE key = ?1", [key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()
            .map_err(&db)?;
        let outcome = match row {
            None => return Err(StudyError::Job { key: key.into(), message: "not in the results database".into() }),
            Some((s, _, _)) if s == "done" => ClaimOne::AlreadyDone,
            Some((s, w, hb)) if s == "running" && !Self::is_stale(w.as_deref(), hb, stale_after) => ClaimOne::HeldBy(w.unwrap_or_default()),
            Some(_) => ClaimOne::Claimed(Self::take(&tx, key, worker).map_err(&db)?),
        };
        tx.commit().map_err(&db)?;
        Ok(outcome)
    }

    fn take(tx: &rusqlite::Transaction, key: &str, worker: &WorkerId) -> rusqlite::Result<Claim> {
        let t = now();
        tx.execute(
            "UPDATE jobs SET status = 'running', worker = ?2, claimed_at = ?3, heartbeat = ?3, attempts = attempts + 1, error = NULL WHERE key = ?1",
            params![key, worker.to_db(), t],
        )?;
        tx.query_row("SELECT key, idx, config_toml, run_dir, attempts FROM jobs WHERE key = ?1", [key], |r| {
            Ok(Claim { key: r.get(0)?, index: r.get::<_, i64>(1)? as usize, config_toml: r.get(2)?, run_dir: r.get(3)?, attempts: r.get(4)? })
        })
    }

    /// Marks every job held by this process as alive.
    pub fn heartbeat(&self) -> Result<()> {
        let prefix = format!("{}%", WorkerId::process_prefix());
        self.conn
            .execute("UPDATE jobs SET heartbeat = ?1 WHERE status = 'running' AND worker LIKE ?2", params![now(), prefix])
            .map_err(self.db())?;
        Ok(())
    }

    /// Records a finished job: its numbers, its metrics and `done`, in one transaction.
    /// Returns false (and writes nothing) if the job is no longer held by `worker` — another
    /// worker took it over, and its result will be the one recorded.
    /// `series` holds (step, name, value) of its metrics during training, stored in the same
    /// transaction.
    pub fn finish(&mut self, key: &str, worker: &WorkerId, numbers: &RunNumbers, metrics: &[(String, f64)], series: &[(u64, String, f64)]) -> Result<bool> {
        let db = db_error(&self.path);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&db)?;
        let n = tx
            .execute(
                "UPDATE jobs SET status = 'done', finished_at = ?3, reconstruction_loss = ?4, kl = ?5, elbo = ?6, regularizer = ?7,
                 loss = ?8, tc = ?9, train_seconds = ?10, eval_seconds = ?11, error = NULL
                 WHERE key = ?1 AND status = 'running' AND worker = ?2",
                params![
                    key,
                    worker.to_db(),
                    now(),
                    numbers.reconstruction_loss,
                    numbers.kl,
                    numbers.elbo,
                    numbers.regularizer,
                    numbers.loss,
                    numbers.tc,
                    numbers.train_seconds,
                    numbers.eval_seconds
                ],
            )
            .map_err(&db)?;
        if n == 0 {
            return Ok(false);
        }
        tx.execute("DELETE FROM metrics WHERE key = ?1", [key]).map_err(&db)?;
        {
            let mut insert = tx.prepare("INSERT INTO metrics (key, name, value) VALUES (?1, ?2, ?3)").map_err(&db)?;
            for (name, value) in metrics {
                insert.execute(params![key, name, value.is_finite().then_some(*value)]).map_err(&db)?;
            }
        }
        tx.execute("DELETE FROM series WHERE key = ?1", [key]).map_err(&db)?;
        {
            let mut insert = tx.prepare("INSERT OR REPLACE INTO series (key, step, name, value) VALUES (?1, ?2, ?3, ?4)").map_err(&db)?;
            for (step, name, value) in series {
                insert.execute(params![key, *step as i64, name, value.is_finite().then_some(*value)]).map_err(&db)?;
            }
        }
        tx.commit().map_err(&db)?;
        Ok(true)
    }

    /// Adds or replaces metrics of a finished job (scores computed after it, like UDR, which
    /// needs several runs). Values of other metrics stay.
    pub fn put_metrics(&mut self, key: &str, metrics: &[(String, f64)]) -> Result<()> {
        let db = db_error(&self.path);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&db)?;
        {
            let mut insert = tx.prepare("INSERT OR REPLACE INTO metrics (key, name, value) VALUES (?1, ?2, ?3)").map_err(&db)?;
            for (name, value) in metrics {
                insert.execute(params![key, name, value.is_finite().then_some(*value)]).map_err(&db)?;
            }
        }
        tx.commit().map_err(&db)?;
        Ok(())
    }

    /// Records a failed job (with the error, so `study export` shows why).
    pub fn fail(&mut self, key: &str, worker: &WorkerId, error: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE jobs SET status = 'failed', finished_at = ?3, error = ?4 WHERE key = ?1 AND status = 'running' AND worker = ?2",
                params![key, worker.to_db(), now(), error],
            )
            .map_err(self.db())?;
        Ok(())
    }

    pub fn counts(&self) -> Result<Counts> {
        let mut c = Counts::default();
        let mut q = self.conn.prepare("SELECT status, COUNT(*) FROM jobs GROUP BY status").map_err(self.db())?;
        let rows = q.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as usize))).map_err(self.db())?;
        for row in rows {
            let (s, n) = row.map_err(self.db())?;
            match s.as_str() {
                "pending" => c.pending = n,
                "running" => c.running = n,
                "done" => c.done = n,
                _ => c.failed = n,
            }
        }
        Ok(c)
    }

    /// Every finished job's metrics during training, by job position, step and name.
    pub fn series(&self) -> Result<Vec<SeriesValue>> {
        let mut q = self
            .conn
            .prepare("SELECT s.key, s.step, s.name, s.value FROM series s JOIN jobs j ON j.key = s.key WHERE j.status = 'done' ORDER BY j.idx, s.step, s.name")
            .map_err(self.db())?;
        let rows = q
            .query_map([], |r| {
                Ok(SeriesValue {
                    key: r.get(0)?,
                    step: r.get::<_, i64>(1)? as u64,
                    name: r.get(2)?,
                    value: r.get::<_, Option<f64>>(3)?.unwrap_or(f64::NAN),
                })
            })
            .map_err(self.db())?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.db())?;
        Ok(rows)
    }

    /// Every job with its numbers and metrics, by position.
    pub fn rows(&self) -> Result<Vec<JobRow>> {
        let mut q = self
            .conn
            .prepare(
                "SELECT key, idx, dataset, configuration, objective, hyperparameters, encoder, noise, seed, steps, run_dir, status,
                        attempts, error, reconstruction_loss, kl, elbo, regularizer, loss, tc, train_seconds, eval_seconds
                 FROM jobs ORDER BY idx",
            )
            .map_err(self.db())?;
        let mut rows: Vec<JobRow> = q
            .query_map([], |r| {
                let status: String = r.get(11)?;
                let numbers = if status == "done" {
                    Some(RunNumbers {
                        reconstruction_loss: r.get::<_, Option<f64>>(14)?.unwrap_or(f64::NAN),
                        kl: r.get::<_, Option<f64>>(15)?.unwrap_or(f64::NAN),
                        elbo: r.get::<_, Option<f64>>(16)?.unwrap_or(f64::NAN),
                        regularizer: r.get::<_, Option<f64>>(17)?.unwrap_or(f64::NAN),
                        loss: r.get::<_, Option<f64>>(18)?.unwrap_or(f64::NAN),
                        tc: r.get(19)?,
                        train_seconds: r.get::<_, Option<f64>>(20)?.unwrap_or(f64::NAN),
                        eval_seconds: r.get::<_, Option<f64>>(21)?.unwrap_or(f64::NAN),
                    })
                } else {
                    None
                };
                Ok(JobRow {
                    key: r.get(0)?,
                    index: r.get::<_, i64>(1)? as usize,
                    dataset: r.get(2)?,
                    configuration: r.get(3)?,
                    objective: r.get(4)?,
                    hyperparameters: r.get(5)?,
                    encoder: r.get(6)?,
                    noise: r.get(7)?,
                    seed: r.get::<_, i64>(8)? as u64,
                    steps: r.get::<_, i64>(9)? as u64,
                    run_dir: r.get(10)?,
                    status,
                    attempts: r.get(12)?,
                    error: r.get(13)?,
                    numbers,
                    metrics: Vec::new(),
                })
            })
            .map_err(self.db())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.db())?;
        let mut q = self.conn.prepare("SELECT key, name, value FROM metrics ORDER BY key, name").map_err(self.db())?;
        let metrics = q
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<f64>>(2)?.unwrap_or(f64::NAN))))
            .map_err(self.db())?;
        let pos: std::collections::HashMap<String, usize> = rows.iter().enumerate().map(|(i, r)| (r.key.clone(), i)).collect();
        for m in metrics {
            let (key, name, value) = m.map_err(self.db())?;
            if let Some(&i) = pos.get(&key) {
                rows[i].metrics.push((name, value));
            }
        }
        Ok(rows)
    }
}

/// The report key of MIG (the reference's discrete estimator).
pub const MIG: &str = "mig.discrete";
/// The report key of the FactorVAE score.
pub const FACTOR_VAE: &str = "factor_vae.eval_accuracy";

/// A row's value of a metric, or of a summary number (`reconstruction_loss`, `kl`); None when
/// missing or not finite.
pub(crate) fn value_of(row: &JobRow, metric: &str) -> Option<f64> {
    match metric {
        "reconstruction_loss" => row.numbers.as_ref().map(|n| n.reconstruction_loss),
        "kl" => row.numbers.as_ref().map(|n| n.kl),
        m => row.metric(m),
    }
    .filter(|v| v.is_finite())
}
