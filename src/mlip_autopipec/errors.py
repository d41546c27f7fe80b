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
