"""dlkit: see and measure the fundamentals of deep learning with Keras 3.

The library is written with ``keras`` and ``keras.ops`` only, so it runs under the
TensorFlow, JAX and PyTorch backends of Keras 3. Importing ``dlkit`` registers every dlkit
loss, optimizer and layer for Keras serialization, so ``keras.saving.load_model`` reads
``.keras`` files that use them.
"""

__version__ = "0.1.0"

from dlkit import layers, losses, optimizers  # noqa: E402,F401  (registers serializables)
