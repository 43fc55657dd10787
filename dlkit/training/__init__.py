"""Training pieces: atomic files, run identity, TensorBoard logging and the epoch loop."""

from dlkit.training.files import atomic_write_json, atomic_write_text, read_json
from dlkit.training.identity import run_id

__all__ = ["atomic_write_json", "atomic_write_text", "read_json", "run_id"]
