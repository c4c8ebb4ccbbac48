"""The exceptions the core raises; only the CLI turns them into messages and exit codes."""

from __future__ import annotations


class ReporterError(Exception):
    """Base class of every error the reporter reports to a user."""

    exit_code = 1


class UserError(ReporterError):
    """Bad usage, bad config or bad input: one clear line, exit code 2."""

    exit_code = 2


class InputFileError(UserError):
    """A data file that cannot be read at all (missing, wrong format, wrong header)."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class UnknownCampaignError(UserError):
    """A campaign id that is not in the database."""

    def __init__(self, campaign_id: str) -> None:
        super().__init__(f"unknown campaign '{campaign_id}' (see `reporter campaigns` for the loaded ones)")
        self.campaign_id = campaign_id


class OptionError(UserError):
    """A command-line option with a bad value; the message names the option."""

    def __init__(self, option: str, problem: str) -> None:
        super().__init__(f"{option}: {problem}")
        self.option = option


class DatabaseError(UserError):
    """The database cannot be reached or is not at the schema this version needs."""


class ConfigError(UserError):
    """A config file that does not validate: one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class PeriodError(UserError):
    """A period that is not a period name or FROM..TO dates, or that is empty (the CLI names its option)."""


class TimezoneError(UserError):
    """A name that is not an IANA timezone (the CLI names its --tz option)."""


class FormatError(UserError):
    """A report format that does not exist (the CLI names its --format option)."""


class ArchiveError(ReporterError):
    """An archive file or folder that cannot be read or written; the message names it."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class ArchiveRootError(UserError):
    """The archive root is missing or not a folder."""

    def __init__(self, root: object, problem: str) -> None:
        super().__init__(f"archive root {root}: {problem} (set archive.root in the config)")
        self.root = root
        self.problem = problem


class UnitFailed(ReporterError):
    """A unit of work that failed to render, store or deliver (exit code 1)."""
