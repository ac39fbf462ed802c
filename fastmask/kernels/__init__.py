"""Kernels as plain functions: validated NumPy in, NumPy out, no Layer API needed."""
from .masking import masking, masking_mask, embedding
from .recurrent import lstm, gru, simple_rnn
from .softmax import masked_softmax
from .pooling import masked_mean, masked_sum, masked_max, masked_min
from .attention import masked_attention, multi_head_attention
from .dense import dense
from .normalization import layer_norm
