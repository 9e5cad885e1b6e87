"""Our exception hierarchy:

* AuditError                 every error a user may see as one clear line (the CLI maps it to exit 1)
  + ConfigError              companies.yaml is unreadable or invalid; `.problems` holds FILE:LINE lines
  + DataDirError             the data directory cannot be created or written
  + WaveError                no such wave, nothing to resume, a wave held by another run
  + DatabaseError            the database cannot be reached or migrated
  + UsageError               a command-line value that cannot be used (a bad --as-of, an unknown company)
  + GradingError             an override that does not fit (unknown criterion, score out of range)
  + MailError                the report email could not be sent (SMTP refused, unreachable, bad login)

Browser problems come from `probes.errors` (BrowserUnavailable) and are mapped at the CLI edge too.
Problems of one company's website are never exceptions: they are probe outcomes.
"""

from __future__ import annotations


class AuditError(Exception):
    """Base class: the message is one sentence for the user."""


class ConfigError(AuditError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class DataDirError(AuditError):
    pass


class WaveError(AuditError):
    pass


class DatabaseError(AuditError):
    pass


class UsageError(AuditError):
    pass


class GradingError(AuditError):
    pass


class MailError(AuditError):
    pass
