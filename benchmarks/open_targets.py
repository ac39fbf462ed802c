"""Peer targets known to fail today, each with the issue that owns it and why.

`report.py --check` is a ratchet: every other peer target (and every peer output)
gates; a target listed here is still timed and printed with its FAIL, reported
on stderr as "known open", and does not fail the check. A listed target that is
met in a run is reported as "now met" so it can be taken off this list. Listing a
target never changes its number: the table shows the same ratio and FAIL.

Each entry: (pattern, owner, reason). `pattern` is matched as a substring of the
gate's failure line "family: kernel [case] tN: target text"; keep it as narrow as
the failure (name the thread count when only one fails). Measured on a shared
2-core AVX2 machine, report.py --quick --check, 2026-12-07.
"""

OPEN_TARGETS = [
    ("attention: MultiHeadAttention [B=4, T=64, 4 heads, key_dim 16, padding mask",
     "issue 16", "torch 0.52-0.69x at this small size: per-call overhead of the four "
                 "projections and the Q|K|V weights joined on every call (the large "
                 "quick sizes pass)"),
    ("layers: fused dense to a vocabulary [(64, 64) x (64, 2000)",
     "issue 16", "numpy 0.76-0.84x, 1.5-1.7x of a bare matmul: per-call wrapper and "
                 "BLAS-thread overhead, and per-block GEMM packing of the kernel"),
    ("layers: fused dense projection [(4096, 64) x (64, 64)",
     "issue 16", "numpy 0.98x, 1.2-1.3x of a bare matmul: per-block GEMM packing"),
    ("layers: fused dense per-token relu [(256, 64) x (64, 64)",
     "issue 16", "numpy 0.69-0.82x, 2-3x of a bare matmul: a ~20 us call is "
                 "dominated by argument checks and the BLAS thread limit"),
    ("layers: layer norm over the last axis [x (64, 50, 32)",
     "issue 16", "numpy 2.8-3.8x against 5x, 4.9x of np.copyto against 1.5x: rows "
                 "of 32 floats, the per-row reduction is not vectorised across rows"),
    ("layers: Conv1D FCN 64->64 (timeseries_classification) [x (4, 96, 64)", "issue 16",
     "keras 0.99x at 2 threads (1 thread passes): the small im2col GEMM gains "
     "nothing from the second thread"),
    ("layers: Conv1DTranspose (anomaly_detection decoder) [x (4, 72, 16)", "issue 16",
     "keras 0.92x at 2 threads (1 thread passes), as Conv1D"),
    ("layers: Conv1D text CNN (text_classification) [x (4, 96, 128)", "issue 16",
     "keras 0.85x at 2 threads (1 thread passes), as Conv1D"),
    ("padding: pad_ragged pre [5k seqs, len 1..200", "issue 16",
     "within 2x of np.copyto: 1.3-1.9x alone, but 2.40x at 2 threads in a full quick "
     "run (CI run of a0f02f7: 742 us at 2 threads against 580 us at 1, in all three "
     "rounds, not marked busy); suspected: two threads first-touching a fresh 4 MB "
     "output after the heap was churned by the earlier families (not yet confirmed)"),
    ("padding: pad_ragged post [5k seqs, len 1..200", "issue 16",
     "as pad_ragged pre (2.39x at 2 threads in the same run)"),
    ("masking: masking_mask [x (32, 128, 64) float32, padded]", "issue 16",
     "1.3-1.4x of x.max() against 1.3x: the padded rows' early exit does not "
     "make up for the mask's write pass at this size"),
    ("recurrent: lstm seq2seq decoder, no mask [x (32, 14, 93)", "issue 16",
     "1.8-3.0x of one GEMM of the same FLOPs against 1.25x: 14 steps of a batch "
     "of 32 are step-latency bound, not GEMM bound"),
    ("recurrent: lstm batch 1024, no mask [x (128, 4, 71)", "issue 16",
     "2.1-3.1x of one GEMM of the same FLOPs against 1.25x: 4 steps, the "
     "per-step gate pass is not amortised"),
]


def is_open(name):
    """Whether the case named 'family: kernel [case]' has a known open target."""
    return any(p in name for p, _, _ in OPEN_TARGETS)


def split_known(failures):
    """(failures still gating, [(failure, owner, reason)] known open)."""
    gating, known = [], []
    for line in failures:
        entry = next((e for e in OPEN_TARGETS if e[0] in line), None)
        if entry is None or " differs" in line:     # an output that differs always gates
            gating.append(line)
        else:
            known.append((line, entry[1], entry[2]))
    return gating, known


def now_met(known, rows):
    """Patterns of OPEN_TARGETS that matched no failure in this run although their
    case was timed (`rows`: the gate's 'family: kernel [case]' names of this run)."""
    failed = {e[0] for e in OPEN_TARGETS for line, _, _ in known if e[0] in line}
    return [p for p, _, _ in OPEN_TARGETS
            if p not in failed and any(p in r for r in rows)]
