"""dlkit: see and measure the fundamentals of deep learning with Keras 3.

The library is written with ``keras`` and ``keras.ops`` only, so it runs under the
TensorFlow, JAX and PyTorch backends of Keras 3.
"""

__version__ = "0.1.0"
