"""Errors that reach the user as one line: what is wrong and how to fix it."""


class UserInputError(Exception):
    """Bad input from the user (config, composition, files); printed as one line, exit code 2."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class ConfigError(UserInputError):
    """A configuration key has a bad value; the message names the key and the fix."""


class PseudopotentialError(UserInputError):
    """No usable pseudopotential for an element; raised before any DFT runs."""


class StructureFileError(UserInputError):
    """A structure file cannot be read or holds unusable structures."""


class EnvironmentFailure(UserInputError):
    """The DFT program never started (launcher, MPI, loader): the machine or ``label.mpi`` is wrong, not the structure.

    Why its own exit code: a scheduler's retry or a user's script can tell "fix the set-up" (3) from bad input (2).
    """

    exit_code = 3


class DiskFull(EnvironmentFailure):
    """A write found no space left (or the quota spent): the message names the file and the mount point to free."""


class DatabaseUnavailable(EnvironmentFailure):
    """The SQLite index cannot be written (locked by another program, corrupt, on a full disk): one line naming it.

    Why an environment failure: the labels are in their files and the label cache; only the index is out of reach.
    """


class CorruptRunFile(UserInputError):
    """A file the workflow wrote earlier (in ``results/`` or the label cache) no longer reads back: the message names
    it and says that deleting it lets Snakemake write it again (a label comes back from the label cache)."""


class LabelBatchFailed(UserInputError):
    """Most labels of one iteration failed for one reason: a set-up problem to fix before training on the rest."""

    exit_code = 4
