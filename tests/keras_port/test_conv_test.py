"""Port of Keras 3.15.1 keras/src/layers/convolutional/conv_test.py (the Conv1D cases).

Numbers are checked against tests/np_window_reference.py (written from the
definition; it replaces Keras's `np_conv1d`) and against Keras itself.
"""
import numpy as np
import pytest

import fastmask
from _harness import assert_numbers, copy_weights, keras, run_layer_test, skipped_cases
from np_window_reference import ref_conv1d

Conv1D = fastmask.layers.Conv1D


# keras/src/layers/convolutional/conv_test.py::ConvBasicTest::test_conv1d_basic
@pytest.mark.parametrize("filters,kernel_size,strides,padding,data_format,dilation_rate,groups,"
                         "input_shape,output_shape", [
                             (5, 2, 1, "valid", "channels_last", 1, 1, (3, 5, 4), (3, 4, 5)),
                             (6, 2, 1, "same", "channels_last", (2,), 2, (3, 4, 4), (3, 4, 6)),
                             (6, 2, 1, "causal", "channels_last", (2,), 2, (3, 4, 4),
                              (3, 4, 6)),
                             (6, 2, (2,), "valid", "channels_last", 1, 2, (3, 5, 4),
                              (3, 2, 6))])
def test_conv1d_basic(filters, kernel_size, strides, padding, data_format, dilation_rate, groups,
                      input_shape, output_shape):
    run_layer_test(Conv1D, init_kwargs={"filters": filters, "kernel_size": kernel_size,
                                        "strides": strides, "padding": padding,
                                        "data_format": data_format,
                                        "dilation_rate": dilation_rate, "groups": groups},
                   input_shape=input_shape, expected_output_shape=output_shape,
                   expected_num_trainable_weights=2, expected_num_non_trainable_weights=0,
                   supports_masking=False)


# keras/src/layers/convolutional/conv_test.py::ConvBasicTest::test_bad_init_args (Conv1D lines,
# and the Conv2D lines re-expressed with Conv1D)
@pytest.mark.parametrize("kwargs,message", [
    ({"filters": 0, "kernel_size": 1}, "Invalid value for argument `filters`. Expected a "
                                       "strictly positive value. Received filters=0."),
    ({"filters": 2, "kernel_size": (0,)}, r"The `kernel_size` argument must be a tuple of \d+ "
                                          r"integers. Received kernel_size=\(0,\), including "
                                          r"values \{0\} that do not satisfy `value > 0`"),
    ({"filters": 2, "kernel_size": 2, "strides": (0,)},
     r"The `strides` argument must be a tuple of \d+ integers. Received strides=\(0,\), "
     r"including values \{0\} that do not satisfy `value > 0`"),
    ({"filters": 2, "kernel_size": 2, "strides": 2, "dilation_rate": (2,)},
     r"`strides > 1` not supported in conjunction with `dilation_rate > 1`. Received: "
     r"strides=\(2,\) and dilation_rate=\(2,\)"),
    ({"filters": 5, "kernel_size": 2, "groups": 0},
     "The number of groups must be a positive integer. Received: groups=0."),
    ({"filters": 5, "kernel_size": 2, "groups": 2},
     "The number of filters must be evenly divisible by the number of groups. Received: "
     "groups=2, filters=5.")],
    ids=["filters", "kernel_size", "strides", "strides_dilation", "groups", "groups_filters"])
def test_bad_init_args(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Conv1D(**kwargs)


# keras/src/layers/convolutional/conv_test.py::ConvBasicTest::test_conv_symbolic_invalid_configuration (Conv1D)
def test_conv_symbolic_invalid_configuration():
    layer = Conv1D(filters=1, kernel_size=2, dilation_rate=10)
    with pytest.raises(ValueError):
        layer(fastmask.layers.Input(shape=(10, 3)))


# keras/src/layers/convolutional/conv_test.py::ConvCorrectnessTest::test_conv1d
@pytest.mark.parametrize("filters,kernel_size,strides,padding,data_format,dilation_rate,groups", [
    (5, 2, 1, "valid", "channels_last", 1, 1),
    (6, 2, 1, "same", "channels_last", (2,), 2),
    (6, 2, 1, "causal", "channels_last", (2,), 2),
    (6, (2,), (2,), "valid", "channels_last", 1, 2),
    (6, (2,), (2,), "valid", "channels_first", 1, 2)])
def test_conv1d_correctness(filters, kernel_size, strides, padding, data_format, dilation_rate,
                            groups):
    kwargs = dict(filters=filters, kernel_size=kernel_size, strides=strides, padding=padding,
                  data_format=data_format, dilation_rate=dilation_rate, groups=groups)
    layer = Conv1D(**kwargs)
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=[2, 8, 4])
    layer.build(input_shape=inputs.shape)
    kernel_weights = rng.normal(size=layer.kernel.shape)
    bias_weights = rng.normal(size=(filters,))
    layer.kernel.assign(kernel_weights)
    layer.bias.assign(bias_weights)
    outputs = layer(inputs)
    x = inputs.swapaxes(1, 2) if data_format == "channels_first" else inputs
    stride = strides[0] if isinstance(strides, tuple) else strides
    dilation = dilation_rate[0] if isinstance(dilation_rate, tuple) else dilation_rate
    expected = ref_conv1d(x.astype(np.float32), kernel_weights.astype(np.float32),
                          bias_weights.astype(np.float32), stride, padding, dilation, groups)
    if data_format == "channels_first":
        expected = expected.swapaxes(1, 2)
    k_layer = keras().layers.Conv1D(**kwargs)
    k_layer.build(inputs.shape)
    copy_weights(layer, k_layer)
    assert_numbers(outputs, k_layer(inputs), stated=expected, stated_atol=1e-5,
                   stated_rtol=1e-5)


# keras/src/layers/convolutional/conv_test.py::ConvCorrectnessTest::test_conv_constraints (Conv1D)
def test_conv_constraints():
    layer = Conv1D(filters=4, kernel_size=3, kernel_constraint="non_neg")
    layer.build((None, 5, 3))
    assert isinstance(layer.kernel.constraint, fastmask.constraints.NonNeg)
    layer = Conv1D(filters=4, kernel_size=3, bias_constraint="non_neg")
    layer.build((None, 5, 3))
    assert isinstance(layer.bias.constraint, fastmask.constraints.NonNeg)


# keras/src/layers/convolutional/conv_test.py::ConvCorrectnessTest::test_conv_raises_exception_on_zero_dims (Conv1D)
def test_conv_raises_exception_on_zero_dims():
    with pytest.raises(Exception):
        Conv1D(6, 5, 1, "valid")(np.random.default_rng(1).random((3, 4, 4)))


_NO_2D = "fastmask has 1D convolutions only (Conv2D/Conv3D are not in its scope)"
test_not_ported = skipped_cases([
    ("ConvBasicTest::test_conv2d_basic", "not-applicable", _NO_2D),
    ("ConvBasicTest::test_conv3d_basic", "not-applicable", _NO_2D),
    ("ConvBasicTest::test_enable_lora", "quantization", "LoRA"),
    ("ConvBasicTest::test_lora_weight_name", "quantization", "LoRA"),
    ("ConvBasicTest::test_enable_lora_with_alpha", "quantization", "LoRA"),
    ("ConvBasicTest::test_lora_rank_argument", "quantization", "LoRA"),
    ("ConvBasicTest::test_conv_symbolic_invalid_configuration[Conv2D,Conv3D]", "not-applicable",
     _NO_2D),
    ("ConvCorrectnessTest::test_conv2d", "not-applicable", _NO_2D),
    ("ConvCorrectnessTest::test_conv3d", "not-applicable", _NO_2D),
])
