"""`python -m fastmask`: a tour of masking & padding on fastmask, then a speed table.

Walks the workflow of Keras's guide *Understanding masking & padding* with
fastmask (padding, mask generation, mask propagation, masked layers), printing
the masks at each step, then times the kernels against their NumPy reference.

Options: `--no-bench` skips the speed table; `--budget S` sets seconds per case.
"""
import argparse
import sys
import warnings

import numpy as np

import fastmask as keras
from fastmask import layers, ops


def section(title):
    print(f"\n== {title} " + "=" * max(0, 70 - len(title)))


def tour():
    section("1. Padding variable-length sequences")
    raw_inputs = [[711, 632, 71], [73, 8, 3215, 55, 927], [83, 91, 1, 645, 1253, 927]]
    padded, mask = keras.utils.pad_sequences(raw_inputs, padding="post", return_mask=True)
    print('pad_sequences(raw_inputs, padding="post"):')
    print(padded)
    print("the mask it wrote (return_mask=True), True = real token:")
    print(mask)
    values = np.concatenate([np.asarray(s, dtype=np.int32) for s in raw_inputs])
    lengths = [len(s) for s in raw_inputs]
    ragged = keras.utils.pad_ragged(values, lengths=lengths, maxlen=4, padding="post",
                                    truncating="post")
    print("pad_ragged(flat values, lengths=[3, 5, 6], maxlen=4, post/post) -- no Python lists:")
    print(ragged)
    print("mask_from_lengths([3, 5, 6], padding='pre'):")
    print(keras.utils.mask_from_lengths(lengths, padding="pre"))

    section("2. Mask-generating layers: Embedding(mask_zero=True) and Masking")
    embedding = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)
    masked_output = embedding(padded)
    print("Embedding output", masked_output.shape, "carries _keras_mask:")
    print(masked_output._keras_mask)
    features = ops.cast(ops.tile(ops.expand_dims(padded, axis=-1), [1, 1, 10]), "float32")
    masked_embedding = layers.Masking()(features)
    print("Masking()(x) mask, read with fastmask.get_mask:")
    print(keras.get_mask(masked_embedding))
    print("a NumPy operation never leaks the mask: get_mask(x * 1) ->",
          keras.get_mask(masked_embedding * 1))

    section("3. Mask propagation through Sequential and Functional models")
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)(inputs)
    print("symbolic mask:", x._keras_mask)
    x = layers.Dense(8, activation="relu")(x)          # passes the mask through
    seq = layers.LSTM(8, return_sequences=True)(x)     # consumes and keeps it
    outputs = layers.GlobalAveragePooling1D()(seq)     # consumes and ends it
    model = keras.Model(inputs, outputs)
    y = model(padded)
    print("Functional Embedding -> Dense -> LSTM(return_sequences) -> GlobalAveragePooling1D:",
          y.shape, "output mask:", keras.get_mask(y))
    inner = keras.Model(inputs, seq)
    print("mask after the LSTM (return_sequences=True):")
    print(keras.get_mask(inner(padded)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        flat = layers.Flatten()(masked_embedding)
    print("Flatten drops the mask, with Keras's warning:", keras.get_mask(flat),
          "|", str(caught[0].message)[:60] + "..." if caught else "")

    section("4. Masked recurrence: padding side does not change the answer")
    lstm = layers.LSTM(4)
    post = keras.utils.pad_sequences(raw_inputs, padding="post")
    pre = keras.utils.pad_sequences(raw_inputs, padding="pre")
    emb = layers.Embedding(input_dim=5000, output_dim=6, mask_zero=True)
    out_post, out_pre = lstm(emb(post)), lstm(emb(pre))
    print("LSTM last state, post-padded batch:\n", out_post)
    print("max |post - pre| =", float(np.max(np.abs(out_post - out_pre))))

    section("5. Masked softmax: a fully-masked row gives zeros, not NaN")
    logits = np.array([[1.0, 2.0, 5.0, 1.0], [1.0, 1.0, 1.0, 1.0]], dtype=np.float32)
    smask = np.array([[True, True, False, False], [False] * 4])
    print(layers.Softmax()(logits, mask=smask))


def serve():
    section("6. Serving a Keras-trained masked model with fastmask")
    from fastmask.models.demo import serve_demo
    serve_demo()


def speed_table(budget):
    from fastmask.bench import Case, quick_table
    from fastmask import kernels

    rng = np.random.default_rng(0)
    lists = [rng.integers(1, 1000, size=n).tolist() for n in rng.integers(1, 201, size=20000)]
    lengths = rng.integers(1, 201, size=20000)
    values = rng.integers(1, 1000, size=int(lengths.sum())).astype(np.int32)
    x = rng.standard_normal((64, 256, 128)).astype(np.float32)
    x[:, 200:] = 0.0
    ids = rng.integers(0, 10000, size=(64, 256))
    table = rng.standard_normal((10000, 128)).astype(np.float32)
    scores = rng.standard_normal((64, 8, 128, 128)).astype(np.float32)
    key_mask = rng.random((64, 1, 1, 128)) < 0.8
    seq = rng.standard_normal((32, 50, 64)).astype(np.float32)
    rmask = keras.utils.mask_from_lengths(rng.integers(1, 51, size=32), maxlen=50)
    K = (rng.standard_normal((64, 512)) * 0.1).astype(np.float32)
    R = (rng.standard_normal((128, 512)) * 0.1).astype(np.float32)
    b = np.zeros(512, np.float32)

    def np_pad(seqs, maxlen=200):
        out = np.zeros((len(seqs), maxlen), np.int32)
        for i, s in enumerate(seqs):
            out[i, :len(s)] = s[:maxlen]
        return out

    def np_softmax(s, m):
        z = np.where(m, s, -1e9)
        e = np.exp(z - z.max(-1, keepdims=True))
        return np.where(m, e / e.sum(-1, keepdims=True), 0)

    def np_lstm(x, m):
        from fastmask.kernels.recurrent import rnn_reference
        return rnn_reference("lstm", x, K, R, b, mask=m)

    offsets = np.concatenate([[0], np.cumsum(lengths)])
    cases = [
        Case("padding", "pad_sequences", "20k lists, len 1..200",
             {"fastmask": lambda: keras.utils.pad_sequences(lists, maxlen=200, padding="post"),
              "numpy": lambda: np_pad(lists)}),
        Case("padding", "pad_ragged", "20k rows, flat values",
             {"fastmask": lambda: keras.utils.pad_ragged(values, lengths=lengths, maxlen=200,
                                                         padding="post"),
              "numpy": lambda: np_pad([values[offsets[i]:offsets[i + 1]]
                                       for i in range(len(lengths))])}),
        Case("masking", "Masking mask+zeroed", "(64, 256, 128)",
             {"fastmask": lambda: kernels.masking(x),
              "numpy": lambda: (lambda m: (np.where(m[..., None], x, 0), m))(np.any(x != 0, -1))}),
        Case("masking", "Embedding mask_zero", "ids (64, 256), dim 128",
             {"fastmask": lambda: kernels.embedding(ids, table, mask_zero=True),
              "numpy": lambda: (np.take(table, ids, axis=0), ids != 0)}),
        Case("recurrent", "LSTM masked", "B32 T50 F64 u128",
             {"fastmask": lambda: kernels.lstm(seq, K, R, b, mask=rmask),
              "numpy": lambda: np_lstm(seq, rmask)}),
        Case("softmax", "masked_softmax", "(64, 8, 128, 128)",
             {"fastmask": lambda: kernels.masked_softmax(scores, key_mask),
              "numpy": lambda: np_softmax(scores, key_mask)}),
    ]
    print(quick_table(cases, budget=budget))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastmask", description=__doc__.splitlines()[0])
    parser.add_argument("--no-bench", action="store_true", help="skip the speed table")
    parser.add_argument("--budget", type=float, default=0.4, help="seconds per benchmark case")
    args = parser.parse_args(argv)
    np.set_printoptions(linewidth=100)
    keras.show_config()
    tour()
    serve()
    if not args.no_bench:
        section("7. Speed: fastmask kernels vs the NumPy reference")
        speed_table(args.budget)
    return 0


if __name__ == "__main__":
    sys.exit(main())
