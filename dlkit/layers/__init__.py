"""Layers the seed teaches, written with ``keras.ops`` and serializable.

``from dlkit import layers`` then ``layers.Conv2D(48, kernel_size=3, strides=1,
padding=[[0,0],[1,1],[1,1],[0,0]])`` runs as the seed writes it.
"""

from dlkit.layers.conv import Conv2D, parse_padding
from dlkit.layers.inception import Inception
from dlkit.layers.lenet import RBF, PartialConv2D, Subsampling, scaled_tanh
from dlkit.layers.lrn import LocalResponseNormalization
from dlkit.layers.recurrent import LSTMCell, SimpleRNNCell
from dlkit.layers.residual import BasicBlock, Bottleneck

__all__ = [
    "Conv2D",
    "parse_padding",
    "Inception",
    "RBF",
    "PartialConv2D",
    "Subsampling",
    "scaled_tanh",
    "LocalResponseNormalization",
    "LSTMCell",
    "SimpleRNNCell",
    "BasicBlock",
    "Bottleneck",
]
