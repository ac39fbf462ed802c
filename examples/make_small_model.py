"""Regenerate the small `.keras` file shipped with fastmask (the demo of `python -m fastmask`).

    KERAS_BACKEND=jax python examples/make_small_model.py [OUT.keras] [EPOCHS]

Trains, in Keras 3 (jax, torch or tensorflow backend: any that can train),

    Embedding(12, 8, mask_zero=True) -> LSTM(16) -> Dense(1, sigmoid)

to tell whether token 7 occurs in a padded id sequence (pre and post padding
mixed), and saves it with `model.save(...)`; the code is
`fastmask/_tour_train.py` (plain Keras). Default output:
`fastmask/data/small_masked_model.keras` plus `...keras.npz` (a demo batch
and Keras's predictions for it, which `fastmask.tour.serve_demo()` compares
with fastmask's when Keras is not installed).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = os.path.join(HERE, os.pardir, "fastmask", "data", "small_masked_model.keras")

if __name__ == "__main__":
    os.environ.setdefault("KERAS_BACKEND", "jax")
    sys.path.insert(0, os.path.join(HERE, os.pardir))
    from fastmask._tour_train import train
    out = os.path.normpath(sys.argv[1] if len(sys.argv) > 1 else DEFAULT)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    facts = train(out, epochs=int(sys.argv[2]) if len(sys.argv) > 2 else 5)
    print(f"wrote {out} ({os.path.getsize(out)} bytes): {facts}")
