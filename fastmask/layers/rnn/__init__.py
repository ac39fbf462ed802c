"""Recurrent layers: RNN, LSTM, GRU, SimpleRNN, their cells, Bidirectional (Keras 3.15.1).

TimeDistributed is here too (`time_distributed`), as in Keras's `layers/rnn/`.
"""
from .rnn import RNN
from .stacked_rnn_cells import StackedRNNCells
from .simple_rnn import SimpleRNN, SimpleRNNCell
from .lstm import LSTM, LSTMCell
from .gru import GRU, GRUCell
from .bidirectional import Bidirectional

__all__ = ["RNN", "StackedRNNCells", "SimpleRNN", "SimpleRNNCell", "LSTM", "LSTMCell", "GRU",
           "GRUCell", "Bidirectional"]
