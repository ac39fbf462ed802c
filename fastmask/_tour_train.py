"""Train the tour's tiny masked model in Keras 3 and save it as `.keras` (Keras only).

The task: token-id sequences of length 1..16 over a vocabulary of 11 tokens
(0 is padding), padded to 16 steps before or after the tokens; the label says
whether token 7 occurs. A model that ignored the mask would see the padding
move with the padding side; with the mask, both paddings give one answer.

    Embedding(12, 8, mask_zero=True) -> LSTM(16) -> Dense(1, sigmoid)

Run as `KERAS_BACKEND=jax python -m fastmask._tour_train OUT.keras`
(any backend that can train: jax, torch or tensorflow). It also writes
`OUT.keras.npz` with a demo batch and Keras's predictions for it, and prints
one JSON line of facts (backend, epochs, accuracy). Nothing here imports
fastmask's compiled code: the training process is plain Keras.
"""
import json
import sys

import numpy as np

VOCAB, T, TARGET = 12, 16, 7


def make_data(n, rng):
    """(ids (n, T) int32 with mixed pre/post padding, labels (n,) float32)."""
    lengths = rng.integers(1, T + 1, size=n)
    tokens = rng.integers(1, VOCAB, size=(n, T))
    tokens[tokens == TARGET] = rng.integers(1, TARGET, size=int((tokens == TARGET).sum()))
    has = rng.random(n) < 0.5
    where = rng.integers(0, lengths)
    tokens[np.arange(n)[has], where[has]] = TARGET
    ids = np.zeros((n, T), np.int32)
    post = rng.random(n) < 0.5
    for i in range(n):
        row = tokens[i, :lengths[i]]
        if post[i]:
            ids[i, :lengths[i]] = row
        else:
            ids[i, T - lengths[i]:] = row
    return ids, has.astype(np.float32)


def demo_batch():
    """Six sequences, each padded after (post) and before (pre) the tokens."""
    seqs = [[3, 7, 1], [5, 2, 9, 4, 1, 8], [7], [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 2, 3],
            [4, 4, 4, 4, 7, 4], [2]]
    ids = np.zeros((2 * len(seqs), T), np.int32)
    for i, s in enumerate(seqs):
        ids[2 * i, :len(s)] = s
        ids[2 * i + 1, T - len(s):] = s
    return ids


def train(out, epochs=5, seed=0):
    import keras
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x, y = make_data(3000, rng)
    model = keras.Sequential([
        keras.Input((None,), dtype="int32"),
        keras.layers.Embedding(VOCAB, 8, mask_zero=True),
        keras.layers.LSTM(16),
        keras.layers.Dense(1, activation="sigmoid"),
    ], name="contains_token_7")
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=64, epochs=epochs, verbose=0)
    xt, yt = make_data(500, rng)
    accuracy = float(model.evaluate(xt, yt, verbose=0)[1])
    model.compile()   # no optimizer state in the file: it is an inference artifact
    model.save(out)
    batch = demo_batch()
    np.savez(out + ".npz", ids=batch, keras=np.asarray(model.predict(batch, verbose=0)))
    return {"backend": keras.backend.backend(), "keras_version": keras.__version__,
            "epochs": epochs, "test_accuracy": round(accuracy, 4), "path": out}


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python -m fastmask._tour_train OUT.keras [EPOCHS]")
    facts = train(sys.argv[1], epochs=int(sys.argv[2]) if len(sys.argv) > 2 else 5)
    print(json.dumps(facts))
