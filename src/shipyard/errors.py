"""Every error Shipyard reports on purpose.

A user's mistake or a refused action raises one of these; the CLI prints its
message as one red line and exits with ``exit_code``, the API turns it into a JSON
body with ``status``. Anything else that escapes is a bug.

                                 HTTP exit
    ShipyardError                 400  1  base class; ``message`` is one readable line
    ├── ConfigError               400  1  missing or invalid shipyard.toml; names the field
    ├── BadDelivery               400  1  a webhook body that cannot be read (bad JSON, wrong fields)
    ├── Unauthorized              401  1  no or bad signature, token or credentials
    ├── Forbidden                 403  1  the user's role may not do it (or no such user)
    ├── TooLarge                  413  1  a request body over its limit
    ├── NotFound                  404  1  unknown app, environment, ticket, release, build
    ├── InvalidRef                422  1  a ref that does not match the environment's pattern
    ├── Refused                   409  3  a gate said no (unverified tickets, upstream, checks)
    │   └── Busy                  409  3  the environment already has a deployment in flight
    ├── ArtifactMissing           409  4  the artifact did not appear within the wait
    ├── GitError                  500  1  the git binary failed or the path is not a repository
    ├── DeployFailed              502  4  a deployment failed (the new instance never became
    │                                     healthy, its port is taken...); the old one serves
    ├── AuditError                500  1  an audit record could not be written or verified
    └── SecretsError              500  1  a sealed secret does not open (names key id, version)

A command that starts deployments as a side effect (``sync``, ``adopt``) collects
their failures and ends with ``DeployFailed.of(failures)``, so it exits 4 as well.

Adapters translate the exceptions of the libraries and programs they use into
these classes; none of those exceptions escape an adapter.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not ``typing``'s: every quick command imports this module
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


class ShipyardError(Exception):
    """Base of every error Shipyard raises on purpose."""

    status = 400
    code = "error"
    exit_code = 1

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The fixed error shape shared by the CLI's --json output and the API."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ConfigError(ShipyardError):
    code = "config"


class BadDelivery(ShipyardError):
    """A body that is not a delivery we can read: bad JSON, wrong fields, unknown event."""

    code = "bad_request"


class Unauthorized(ShipyardError):
    status = 401
    code = "unauthorized"


class Forbidden(ShipyardError):
    status = 403
    code = "forbidden"


class TooLarge(ShipyardError):
    status = 413
    code = "too_large"


class NotFound(ShipyardError):
    status = 404
    code = "not_found"


class InvalidRef(ShipyardError):
    status = 422
    code = "invalid_ref"


class Refused(ShipyardError):
    status = 409
    code = "refused"
    exit_code = 3


class Busy(Refused):
    code = "busy"


class ArtifactMissing(ShipyardError):
    status = 409
    code = "artifact_missing"
    exit_code = 4


class GitError(ShipyardError):
    status = 500
    code = "git"


class DeployFailed(ShipyardError):
    status = 502
    code = "deploy_failed"
    exit_code = 4

    @classmethod
    def of(cls, failures: Mapping[str, str]) -> DeployFailed | None:
        """One error for the deployments a command started that failed (environment ->
        why), or None when none failed.

        Example: ``if (e := DeployFailed.of(result.deploy_failed)): raise e``."""
        if not failures:
            return None
        said = "; ".join(f"{env}: {why}" for env, why in failures.items())
        n = len(failures)
        return cls(f"{n} deployment{'s' if n > 1 else ''} failed: {said}", failures=dict(failures))


class VerificationFailed(DeployFailed):
    """The checks after the switch failed and the environment was rolled back; the
    deployment is already recorded as rolled back and notified."""

    code = "verification_failed"


class AuditError(ShipyardError):
    status = 500
    code = "audit"


class SecretsError(ShipyardError):
    """A sealed secret that does not open: its key is missing or the ciphertext was
    altered. Nothing that needs it is served or started."""

    status = 500
    code = "secrets"


class Conflict(ShipyardError):
    """The request contradicts what is recorded (already reverted, nothing owed)."""

    status = 409
    code = "conflict"
