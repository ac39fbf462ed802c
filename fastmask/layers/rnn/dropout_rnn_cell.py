"""`DropoutRNNCell`: the dropout masks of a cell, drawn once per RNN call."""
import numpy as np

__all__ = ["DropoutRNNCell"]


class DropoutRNNCell:
    """Dropout masks of a cell, drawn once per RNN call and reused at every step.

    Masks are inverted dropout (kept units scaled by 1 / (1 - rate)) from the
    cell's own NumPy generator (seeded by `seed`; numbers differ from Keras's).
    Cells with `dropout_mask_count` (implementation 1) get one mask per gate.
    """

    def _rng_for_dropout(self):
        rng = getattr(self, "_dropout_rng", None)
        if rng is None:
            rng = self._dropout_rng = np.random.default_rng(self.seed)
        return rng

    def _create_dropout_mask(self, step_input, rate):
        count = getattr(self, "dropout_mask_count", None)
        rng = self._rng_for_dropout()
        x = np.asarray(step_input)

        def one():
            keep = rng.random(x.shape) >= rate
            return (keep / x.dtype.type(1 - rate)).astype(x.dtype) if rate < 1 \
                else np.zeros(x.shape, x.dtype)
        return one() if count is None else [one() for _ in range(count)]

    def get_dropout_mask(self, step_input):
        if getattr(self, "_dropout_mask", None) is None and self.dropout > 0:
            self._dropout_mask = self._create_dropout_mask(step_input, self.dropout)
        return getattr(self, "_dropout_mask", None)

    def get_recurrent_dropout_mask(self, step_input):
        if getattr(self, "_recurrent_dropout_mask", None) is None and self.recurrent_dropout > 0:
            self._recurrent_dropout_mask = self._create_dropout_mask(
                step_input, self.recurrent_dropout)
        return getattr(self, "_recurrent_dropout_mask", None)

    def reset_dropout_mask(self):
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self):
        self._recurrent_dropout_mask = None
