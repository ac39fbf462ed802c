"""Port of Keras 3.15.1 keras/src/layers/rnn/dropout_rnn_cell_test.py: nothing portable.

Both cases test the `DropoutRNNCell` mixin's training-mode dropout masks and
its SeedGenerator state; fastmask runs recurrent cells in inference mode only.
"""
from _harness import skipped_cases

test_not_ported = skipped_cases([
    ("DropoutRNNCellTest::test_seed_tracking", "training",
     "SeedGenerator state of a DropoutRNNCell (dropout RNG)"),
    ("DropoutRNNCellTest::test_basics", "training",
     "RNN over a DropoutRNNCell called with training=True"),
])
