//! Cooperative interruption of long computations, for callers that can be interrupted (the Python
//! package's Ctrl-C). [`request`] asks every computation in flight in this process to stop: the
//! long loops (boosting stages, L-BFGS and SVM iterations, the Monte Carlo passes of the
//! information diagnostics and continuous MIG) check [`check`] and return
//! [`MetricsError::Interrupted`]. [`clear`] re-arms it. Nothing in this crate requests an
//! interruption, so callers that never do see no change (a check is one relaxed atomic load).

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{MetricsError, Result};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks every computation in flight to stop at its next check.
pub fn request() {
    REQUESTED.store(true, Ordering::Relaxed);
}

/// Lets computations run again (after the interrupted ones have returned).
pub fn clear() {
    REQUESTED.store(false, Ordering::Relaxed);
}

pub fn is_requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// `Err(Interrupted)` once an interruption has been requested.
pub(crate) fn check() -> Result<()> {
    if is_requested() { Err(MetricsError::Interrupted) } else { Ok(()) }
}
