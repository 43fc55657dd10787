"""The library's one error for arguments and inputs it refuses.

``ConfigError`` is a ``ValueError`` raised only by validation code: an unknown name, an
argument out of its range, a dataset file that cannot be read, an input shape a model cannot
take. Callers that take settings from users (``experiments.run``) report it in one line as
the user's mistake; any other exception is a bug or a failing run.
"""


class ConfigError(ValueError):
    """An argument or input the library does not accept; the message names the value and
    what is accepted."""
