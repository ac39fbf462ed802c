"""Recurrent layers: RNN, LSTM, GRU, SimpleRNN, their cells, Bidirectional (Keras 3.15.1)."""
from .rnn import RNN, StackedRNNCells
from .simple_rnn import SimpleRNN, SimpleRNNCell
from .lstm import LSTM, LSTMCell
from .gru import GRU, GRUCell
from .bidirectional import Bidirectional

__all__ = ["RNN", "StackedRNNCells", "SimpleRNN", "SimpleRNNCell", "LSTM", "LSTMCell", "GRU",
           "GRUCell", "Bidirectional"]
