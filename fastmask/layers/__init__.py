"""Keras-compatible layers, in Keras's families (`core/`, `rnn/`, `attention/`, ...).

Each line exports one family's layers (a new layer goes in its family's package
and is added to the family's `__init__` and to its line here).
"""
from ..core.dtype_policy import DTypePolicy
from ..core.serialization import deserialize, serialize
from .input_spec import InputSpec
from .layer import Layer
from .core import Input, InputLayer, Masking, Embedding, Dense, Identity, Lambda, Wrapper
from .activations import Activation, ReLU, Softmax, LeakyReLU, ELU, PReLU
from .regularization import Dropout, SpatialDropout1D, GaussianNoise, GaussianDropout
from .reshaping import (Flatten, Reshape, RepeatVector, Permute, ZeroPadding1D, Cropping1D,
                        UpSampling1D)
from .normalization import LayerNormalization, BatchNormalization
from .merging import Add, Average, Concatenate, Dot, Maximum, Merge, Minimum, Multiply, Subtract
from .merging import add, average, concatenate, dot, maximum, minimum, multiply, subtract
from .pooling import GlobalAveragePooling1D, GlobalAvgPool1D, GlobalMaxPooling1D, GlobalMaxPool1D
from .pooling import MaxPooling1D, MaxPool1D, AveragePooling1D, AvgPool1D
from .attention import Attention, AdditiveAttention, MultiHeadAttention
from .rnn import RNN, StackedRNNCells, LSTM, LSTMCell, GRU, GRUCell, SimpleRNN, SimpleRNNCell, Bidirectional
from .rnn.time_distributed import TimeDistributed
from .convolutional import Conv1D, Convolution1D, Conv1DTranspose, Convolution1DTranspose
from .preprocessing import TextVectorization, StringLookup, IntegerLookup, Hashing, HashedCrossing
