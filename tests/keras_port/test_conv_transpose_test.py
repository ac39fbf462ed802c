"""Port of Keras 3.15.1 keras/src/layers/convolutional/conv_transpose_test.py (Conv1DTranspose).

Numbers are checked against tests/np_window_reference.py (written from the
definition; it replaces Keras's `np_conv1d_transpose`) and against Keras itself.
"""
import itertools

import numpy as np
import pytest

import fastmask
from _harness import assert_numbers, copy_weights, keras, run_layer_test, skipped_cases
from np_window_reference import ref_conv1d_transpose

Conv1DTranspose = fastmask.layers.Conv1DTranspose


# keras/src/layers/convolutional/conv_transpose_test.py::ConvTransposeBasicTest::test_conv1d_transpose_basic
@pytest.mark.parametrize("filters,kernel_size,strides,padding,output_padding,data_format,"
                         "dilation_rate,input_shape,output_shape", [
                             (5, 2, 2, "valid", None, "channels_last", 1, (2, 8, 4), (2, 16, 5)),
                             (6, 2, 3, "same", 2, "channels_last", (1,), (2, 8, 4), (2, 23, 6)),
                             (6, (2,), (2,), "valid", None, "channels_last", 1, (2, 8, 4),
                              (2, 16, 6))])
def test_conv1d_transpose_basic(filters, kernel_size, strides, padding, output_padding,
                                data_format, dilation_rate, input_shape, output_shape):
    run_layer_test(Conv1DTranspose, init_kwargs={
        "filters": filters, "kernel_size": kernel_size, "strides": strides, "padding": padding,
        "output_padding": output_padding, "data_format": data_format,
        "dilation_rate": dilation_rate}, input_shape=input_shape,
        expected_output_shape=output_shape, expected_num_trainable_weights=2,
        expected_num_non_trainable_weights=0, supports_masking=False)


# keras/src/layers/convolutional/conv_transpose_test.py::ConvTransposeBasicTest::test_output_padding_serialization (Conv1DTranspose)
def test_output_padding_serialization():
    layer = Conv1DTranspose(2, 3, strides=2, output_padding=1)
    config = layer.get_config()
    assert "output_padding" in config
    revived = Conv1DTranspose.from_config(config)
    assert layer.output_padding == revived.output_padding
    assert layer.compute_output_shape((1, 8, 3)) == revived.compute_output_shape((1, 8, 3))


# keras/src/layers/convolutional/conv_transpose_test.py::ConvTransposeBasicTest::test_bad_init_args (Conv1DTranspose lines,
# and the Conv2DTranspose/Conv3DTranspose lines re-expressed with Conv1DTranspose)
@pytest.mark.parametrize("kwargs,message", [
    ({"filters": 0, "kernel_size": 1}, "Invalid value for argument `filters`. Expected a "
                                       "strictly positive value. Received filters=0."),
    ({"filters": 2, "kernel_size": (0,)}, r"The `kernel_size` argument must be a tuple of "
                                          r"\d+ integers. Received kernel_size=\(0,\), "
                                          r"including values \{0\} that do not satisfy"),
    ({"filters": 2, "kernel_size": 2, "strides": (0,)}, r"The `strides` argument must be a "
                                                        r"tuple of \d+ integers"),
    ({"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": 2},
     r"`output_padding` must be strictly less than `strides`"),
    ({"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": 3},
     r"`output_padding` must be strictly less than `strides`"),
    ({"filters": 2, "kernel_size": 2, "strides": 2, "dilation_rate": (2,)},
     r"`strides > 1` not supported in conjunction with `dilation_rate > 1`. Received: "
     r"strides=\(2,\) and dilation_rate=\(2,\)"),
    ({"filters": 2, "kernel_size": 2, "strides": 2, "output_padding": 2},
     "`output_padding` must be strictly less than `strides`"),
    ({"filters": 16, "kernel_size": 3, "strides": [1], "output_padding": 1},
     "`output_padding` must be strictly less than `strides`")],
    ids=["filters", "kernel_size", "strides", "output_padding_2", "output_padding_3",
         "strides_dilation", "output_padding_eq", "output_padding_stride1"])
def test_bad_init_args(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Conv1DTranspose(**kwargs)


def _assign_and_compare(kwargs, inputs, kernel_weights, bias_weights, expected):
    layer = Conv1DTranspose(**kwargs)
    layer.build(input_shape=inputs.shape)
    layer.kernel.assign(kernel_weights)
    layer.bias.assign(bias_weights)
    outputs = layer(inputs)
    k_layer = keras().layers.Conv1DTranspose(**kwargs)
    k_layer.build(inputs.shape)
    copy_weights(layer, k_layer)
    assert_numbers(outputs, k_layer(inputs), stated=expected, stated_atol=1e-5,
                   stated_rtol=1e-5)


# keras/src/layers/convolutional/conv_transpose_test.py::ConvTransposeCorrectnessTest::test_conv1d_transpose
@pytest.mark.parametrize("filters,kernel_size,strides,padding,output_padding,data_format,"
                         "dilation_rate", [
                             (5, 2, 2, "valid", None, "channels_last", 1),
                             (6, 2, 3, "same", 2, "channels_last", (1,)),
                             (6, (2,), (2,), "valid", None, "channels_last", 1)])
def test_conv1d_transpose(filters, kernel_size, strides, padding, output_padding, data_format,
                          dilation_rate):
    kwargs = dict(filters=filters, kernel_size=kernel_size, strides=strides, padding=padding,
                  output_padding=output_padding, data_format=data_format,
                  dilation_rate=dilation_rate)
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=[2, 8, 4])
    ks = kernel_size[0] if isinstance(kernel_size, tuple) else kernel_size
    kernel_weights = rng.normal(size=(ks, filters, 4))
    bias_weights = rng.normal(size=(filters,))
    s = strides[0] if isinstance(strides, tuple) else strides
    d = dilation_rate[0] if isinstance(dilation_rate, tuple) else dilation_rate
    expected = ref_conv1d_transpose(inputs.astype(np.float32), kernel_weights.astype(np.float32),
                                    bias_weights.astype(np.float32), s, padding, output_padding,
                                    d)
    _assign_and_compare(kwargs, inputs, kernel_weights, bias_weights, expected)


# keras/src/layers/convolutional/conv_transpose_test.py::ConvTransposeCorrectnessTest::test_conv1d_transpose_consistency
@pytest.mark.parametrize("kernel_size,strides,padding,output_padding", [
    c for c in itertools.product(range(1, 5), range(1, 5), ["same", "valid"],
                                 [None] + list(range(1, 5)))
    if c[3] is None or c[3] < c[1]])
def test_conv1d_transpose_consistency(kernel_size, strides, padding, output_padding):
    inputs = np.ones((1, 3, 1))
    kernel_weights = np.arange(1, kernel_size + 1).reshape((kernel_size, 1, 1))
    expected = ref_conv1d_transpose(inputs, kernel_weights.astype(np.float64), np.zeros((1,)),
                                    strides, padding, output_padding, 1)
    _assign_and_compare(dict(filters=1, kernel_size=kernel_size, strides=strides,
                             padding=padding, output_padding=output_padding, dilation_rate=1),
                        inputs, kernel_weights, np.zeros((1,)), expected)


_NO_2D = "fastmask has 1D convolutions only (Conv2DTranspose/Conv3DTranspose are not in scope)"
test_not_ported = skipped_cases([
    ("ConvTransposeBasicTest::test_conv2d_transpose_basic", "not-applicable", _NO_2D),
    ("ConvTransposeBasicTest::test_conv3d_transpose_basic", "not-applicable", _NO_2D),
    ("ConvTransposeBasicTest::test_output_padding_serialization[2D,3D]", "not-applicable",
     _NO_2D),
    ("ConvTransposeCorrectnessTest::test_conv2d_transpose", "not-applicable", _NO_2D),
    ("ConvTransposeCorrectnessTest::test_conv3d_transpose", "not-applicable", _NO_2D),
    ("ConvTransposeCorrectnessTest::test_shape_inference_static_unknown_shape",
     "not-applicable", "a Conv2DTranspose case; " + _NO_2D),
])
