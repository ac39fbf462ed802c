"""Keras-compatible layers. Each line registers one module's layers (append new ones)."""
from .layer import DTypePolicy, InputSpec, Layer
from .input_layer import Input, InputLayer
from .masking import Masking
from .embedding import Embedding
from .dense import Dense
from .activation import Activation, ReLU
from .dropout import Dropout
from .identity import Identity
from .lambda_layer import Lambda
from .reshaping import Flatten, Reshape
from .layer_normalization import LayerNormalization
from .time_distributed import TimeDistributed, Wrapper
from .merging import Add, Average, Concatenate, Dot, Maximum, Merge, Minimum, Multiply, Subtract
from .merging import add, average, concatenate, dot, maximum, minimum, multiply, subtract
from .serialization import deserialize, serialize
from .softmax import Softmax
from .pooling import GlobalAveragePooling1D, GlobalAvgPool1D, GlobalMaxPooling1D, GlobalMaxPool1D
from .attention import Attention
from .multi_head_attention import MultiHeadAttention
from .rnn import RNN, StackedRNNCells, LSTM, LSTMCell, GRU, GRUCell, SimpleRNN, SimpleRNNCell, Bidirectional
