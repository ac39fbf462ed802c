"""Port of Keras 3.15.1 keras/src/layers/core/identity_test.py."""
import fastmask
from _harness import run_layer_test, skipped_cases


# keras/src/layers/core/identity_test.py::IdentityTest::test_identity_basics (dense)
def test_identity_basics_dense():
    run_layer_test(fastmask.layers.Identity, init_kwargs={}, input_shape=(2, 3),
                   expected_output_shape=(2, 3), expected_num_trainable_weights=0,
                   expected_num_non_trainable_weights=0, supports_masking=True,
                   assert_built_after_instantiation=True)


test_not_ported = skipped_cases([
    ("IdentityTest::test_identity_basics[sparse]", "sparse-ragged", "sparse inputs"),
])
