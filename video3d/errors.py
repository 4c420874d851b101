"""Exceptions for bad input. Tools catch `Video3DError` and print its one-line message."""


class Video3DError(Exception):
    """Base of the errors a user can fix: the message names the file, key or value at fault."""


class ConfigError(Video3DError, ValueError):
    """A config value is missing, of the wrong kind, or inconsistent with another."""


class DataError(Video3DError):
    """A dataset list, label file or data folder is missing or malformed."""


class DecodeError(Video3DError):
    """A video file or frame folder cannot be opened or decoded; carries the path and reason."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self):  # picklable across DataLoader worker processes
        return (type(self), (self.path, self.reason))


class CheckpointError(Video3DError):
    """A checkpoint file is missing, truncated, or holds something other than tensors."""


class PeerLostError(Video3DError):
    """Another process of a distributed job stopped (crashed or was killed) mid-run."""
