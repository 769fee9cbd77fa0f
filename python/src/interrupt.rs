//! Long computations with the GIL released and Ctrl-C honoured.
//!
//! The metric runs on a worker thread while the calling thread waits without the GIL, waking every
//! 50 ms to let Python run its signal handlers. When one raises (Ctrl-C: `KeyboardInterrupt`), the
//! metrics crate is asked to stop ([`disentangle_metrics::interrupt`]): its long loops return at
//! their next check, the call waits for the worker to end, re-arms, and raises the exception. (An
//! interruption stops every metric computing in the process at that moment, in any thread.) A
//! panic on the worker becomes a `RuntimeError`; it never takes the interpreter down.

use std::sync::mpsc;
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

pub fn run_interruptible<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name("disentanglekit-metric".into())
        .spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            let _ = sender.send(outcome);
        })
        .map_err(|e| PyRuntimeError::new_err(format!("could not start a worker thread: {e}")))?;
    let mut receiver = receiver;
    loop {
        // The receiver is Send but not Sync: move it into the GIL-free section and back out.
        let (back, outcome) = py.detach(move || {
            let outcome = receiver.recv_timeout(Duration::from_millis(50));
            (receiver, outcome)
        });
        receiver = back;
        match outcome {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(panic)) => return Err(PyRuntimeError::new_err(format!("internal error (please report it): {}", panic_message(&panic)))),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Err(signal) = py.check_signals() {
                    disentangle_metrics::interrupt::request();
                    // The worker returns at its next check (or finishes); either way it is gone
                    // before the next computation starts.
                    let _ = py.detach(move || receiver.recv());
                    disentangle_metrics::interrupt::clear();
                    return Err(signal);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err(PyRuntimeError::new_err("internal error: the worker thread vanished")),
        }
    }
}

/// Runs `work` on the calling thread with the GIL released (for work that calls back into Python
/// and so checks for signals itself); a panic becomes a `RuntimeError`.
pub fn run_detached<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    py.detach(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)))
        .map_err(|panic| PyRuntimeError::new_err(format!("internal error (please report it): {}", panic_message(&panic))))
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}
