"""The project's own exception types.

Every error that the library raises on purpose derives from ``MinieleattError``
and from the built-in type a caller would expect (``ValueError``, ``TypeError``,
``RuntimeError``), so ``except ValueError`` keeps working.
"""


class MinieleattError(Exception):
    """Base class of the errors that minieleatt raises on purpose."""


class DeviceError(MinieleattError, RuntimeError):
    """The GPU was asked for but CuPy or a CUDA device is missing, or arrays of two devices were mixed."""


class DataFormatError(MinieleattError, ValueError):
    """A data file that does not follow its format.

    ``path`` and ``line`` (1-based, or None when the problem is not tied to a line)
    are kept as attributes and are part of the message.
    """

    def __init__(self, message, path=None, line=None):
        self.path = None if path is None else str(path)
        self.line = line
        self.reason = message
        where = ""
        if self.path is not None:
            where = self.path if line is None else f"{self.path}, line {line}"
            where += ": "
        super().__init__(where + message)

    def __reduce__(self):                       # keep path and line across processes (multiprocessing)
        return type(self), (self.reason, self.path, self.line)


class CheckpointError(MinieleattError, ValueError):
    """A checkpoint that cannot be loaded: truncated, corrupt or from another architecture."""


class TrainingError(MinieleattError, RuntimeError):
    """Training cannot go on: the loss became NaN or infinite."""


class ConversionError(MinieleattError, ValueError):
    """A PyTorch module or state dict with a feature that has no equivalent here (``minieleatt.interop``)."""


class RunFolderError(MinieleattError, ValueError):
    """A run's output folder that cannot be used as asked: it holds another run, has no
    checkpoint to resume from, is not a folder, or cannot be written."""


class WriteError(MinieleattError, OSError):
    """A file of a run could not be written (a full disk, a quota, a folder gone): the message
    names the file and the cause; ``path`` is the file. The file's previous version is intact."""

    def __init__(self, message, path=None):
        super().__init__(message)
        self.path = path
        self.message = message

    def __str__(self):
        return self.message

    def __reduce__(self):
        return type(self), (self.message, self.path)
