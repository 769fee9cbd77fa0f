"""Bad input raises a Python exception (never crashes the interpreter); long computations
release the GIL and honour Ctrl-C."""

import os
import signal
import threading
import time

import numpy as np
import pytest

import disentanglekit as dk


def sample(n=200):
    rng = np.random.default_rng(0)
    f = rng.integers(0, 4, size=(n, 2))
    return (f + 0.1 * rng.standard_normal((n, 2))).astype(np.float32), f


def test_bad_arrays_raise_value_or_type_errors():
    codes, factors = sample()
    with pytest.raises(ValueError, match="2-D"):
        dk.mig(codes[:, 0], factors)
    with pytest.raises(ValueError, match="rows"):
        dk.mig(codes[:10], factors)
    bad = codes.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite.*row 3, column 1"):
        dk.mig(bad, factors)
    with pytest.raises(TypeError, match="integers"):
        dk.mig(codes, factors.astype(np.float64))
    with pytest.raises(ValueError, match="negative"):
        dk.mig(codes, -factors)
    with pytest.raises(TypeError, match="numpy array"):
        dk.mig("codes", factors)
    with pytest.raises(TypeError, match="numeric"):
        dk.mig(np.array([["a", "b"]]), factors[:1])
    with pytest.raises(ValueError, match="empty"):
        dk.mig(np.zeros((0, 2), np.float32), np.zeros((0, 2), np.int64))
    with pytest.raises(ValueError, match="at least 2 codes"):
        dk.sap(codes[:, :1], factors)
    with pytest.raises(ValueError, match="both"):
        dk.dci(codes, factors, codes_test=codes)
    with pytest.raises(ValueError, match="columns"):
        dk.dci(codes, factors, codes[:, :1], factors)
    with pytest.raises(ValueError, match="noise correlation"):
        dk.information_diagnostics(codes, codes, noise_correlation=1.5)
    with pytest.raises(ValueError, match="shape"):
        dk.information_diagnostics(codes, codes[:, :1])
    with pytest.raises(OverflowError):
        dk.mig(codes, factors, num_bins=-1)


def test_the_package_documents_itself():
    assert "Mutual Information Gap" in dk.mig.__doc__
    assert "num_bins" in dk.mig.__text_signature__
    assert "factor_vae" in dk.factor_vae_score.__doc__.lower()
    assert "GroundTruthData" in dk.datasets.GroundTruthData.__doc__ or "ground-truth" in dk.datasets.GroundTruthData.__doc__
    assert dk.__version__


def long_dci_inputs():
    # Gradient boosting for 6 factors of 10 classes on 20,000 rows: about 20 s on two cores.
    rng = np.random.default_rng(0)
    f = rng.integers(0, 10, size=(20_000, 6))
    codes = (f @ rng.standard_normal((6, 10)) + rng.standard_normal((20_000, 10))).astype(np.float32)
    return codes, f


def test_long_computations_release_the_gil():
    codes, factors = sample(3000)
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        before = len(ticks)
        dk.dci(codes, factors)
        during = len(ticks) - before
    finally:
        stop.set()
        t.join()
    # The other thread ran while DCI computed (it could not, had the GIL been held).
    assert during > 5


@pytest.fixture
def python_sigint_handler():
    """Python's own Ctrl-C handler, as an interactive session has it. A suite started in the
    background (`nohup pytest &`, many CI runners) inherits SIGINT ignored, and Python then
    never installs its handler, so a SIGINT would be dropped: install it for the test."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="POSIX signals")
def test_ctrl_c_stops_a_long_metric(python_sigint_handler):
    codes, factors = long_dci_inputs()
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            dk.dci(codes, factors)
    finally:
        timer.cancel()
    # The call waits for the computation to stop, so it returns long before the ~20 s the
    # boosting needs only if the boosting really stopped (at its next stage, milliseconds).
    assert time.monotonic() - start < 5.0
    # Nothing is left running: the process uses no CPU while this thread sleeps.
    cpu = time.process_time()
    time.sleep(0.5)
    assert time.process_time() - cpu < 0.2
    # Re-armed: the next metric runs to the end.
    assert dk.mig(codes[:2000], factors[:2000])["discrete_mig"] > 0


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_ctrl_c_interrupts_an_interventional_metric(python_sigint_handler):
    class Slow:
        factors_num_values = [4, 4]

        def sample_observations_from_factors(self, factors, random_state):
            time.sleep(0.01)
            return factors.astype(np.float32)

    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            dk.factor_vae_score(Slow(), lambda x: x, 0)
    finally:
        timer.cancel()
