import io
import threading

import numpy as np
import pytest

import fastmask
from fastmask.kernels import _threads as _config


def test_show_config_reports_openmp_threads_and_blas():
    buf = io.StringIO()
    fastmask.show_config(file=buf)
    text = buf.getvalue()
    assert f"fastmask {fastmask.__version__}" in text
    assert "OpenMP: " in text and "threads: " in text and "BLAS: " in text


def test_openmp_is_enabled_in_this_build():
    # The CI machine has gcc with OpenMP; a serial build there is a regression.
    assert fastmask.kernels._openmp_helpers.openmp_enabled()


def test_set_num_threads_and_context_manager():
    default = fastmask.get_num_threads()
    assert default >= 1
    try:
        fastmask.set_num_threads(1)
        assert fastmask.get_num_threads() == 1
        with fastmask.num_threads(3):
            assert fastmask.get_num_threads() == 3
        assert fastmask.get_num_threads() == 1
        fastmask.set_num_threads(-1)
        assert fastmask.get_num_threads() == default
    finally:
        fastmask.set_num_threads(None)
    assert fastmask.get_num_threads() == default


def test_context_manager_is_per_thread():
    seen = {}

    def other():
        seen["other"] = fastmask.get_num_threads()

    with fastmask.num_threads(5):
        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert fastmask.get_num_threads() == 5
    assert seen["other"] == fastmask.get_num_threads()


@pytest.mark.parametrize("bad", [0, 1.5, "2", True])
def test_bad_thread_counts(bad):
    with pytest.raises((TypeError, ValueError), match="`n`"):
        fastmask.set_num_threads(bad)


def test_numpy_integer_thread_count():
    with fastmask.num_threads(np.int64(1)):
        assert fastmask.get_num_threads() == 1


def test_explicit_n_threads_argument_wins():
    with fastmask.num_threads(1):
        assert _config.effective_num_threads(2) == 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_row_major_gemm_wrapper(dtype, ta, tb):
    from fastmask.kernels._cython_blas import gemm_memview
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 7)).astype(dtype)
    b = rng.standard_normal((7, 3)).astype(dtype)
    c = rng.standard_normal((5, 3)).astype(dtype)
    expected = 2.0 * a @ b + 0.5 * c
    gemm_memview(np.ascontiguousarray(a.T) if ta else a, np.ascontiguousarray(b.T) if tb else b,
                 c, ta, tb, 2.0, 0.5)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(c, expected, rtol=rtol, atol=rtol)


def test_blas_threads_limits_scipy_blas_used_by_the_kernels():
    from threadpoolctl import threadpool_info
    with _config.blas_threads(1):
        libs = [i for i in threadpool_info() if i["user_api"] == "blas"]
        assert any("scipy_openblas" in i["filepath"] for i in libs)
        assert all(i["num_threads"] == 1 for i in libs), libs


@pytest.mark.parametrize("n", [65, 100000, 2 ** 31])
def test_huge_thread_counts_are_capped(n):
    with fastmask.num_threads(n):
        assert fastmask.get_num_threads() == _config.MAX_THREADS
