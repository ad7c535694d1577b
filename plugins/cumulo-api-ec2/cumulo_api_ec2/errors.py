"""EC2's errors: a code, a message and AWS's HTTP status, and how the platform's errors become them.

An action raises :class:`Ec2Error` for what EC2 names precisely
(``InvalidInstanceID.NotFound``...); any other :class:`cumulo.exception.CumuloError`
is mapped by its kind in :func:`from_platform` (a client's mistake stays a 4xx);
anything else is ``InternalError`` (500) and logged by the app.
"""

from __future__ import annotations

from cumulo import exception


class Ec2Error(Exception):
    """An EC2 error answer: ``<Response><Errors><Error><Code>`` ``code`` with ``message``, HTTP ``status``."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


#: AwsAuthError.aws_code -> (EC2 code, HTTP status), as EC2 answers them.
AUTH_CODES: dict[str, tuple[str, int]] = {
    "MissingAuthenticationToken": ("MissingAuthenticationToken", 401),
    "IncompleteSignature": ("IncompleteSignature", 400),
    "InvalidAccessKeyId": ("AuthFailure", 401),
    "SignatureDoesNotMatch": ("AuthFailure", 401),
    "RequestExpired": ("RequestExpired", 400),
    "ReplayedRequest": ("AuthFailure", 401),
    "AccessDenied": ("AuthFailure", 401),
}


def auth_failure(aws_code: str, message: str) -> Ec2Error:
    """The EC2 error for a signature the identity area did not accept."""
    code, status = AUTH_CODES.get(aws_code, ("AuthFailure", 401))
    if code == "AuthFailure" and aws_code == "InvalidAccessKeyId":
        message = f"AWS was not able to validate the provided access credentials ({message})"
    return Ec2Error(code, message, status)


def missing(param: str) -> Ec2Error:
    return Ec2Error("MissingParameter", f"The request must contain the parameter {param}")


def invalid(param: str, value: object, why: str = "") -> Ec2Error:
    reason = f": {why}" if why else ""
    return Ec2Error("InvalidParameterValue", f"Value ({value}) for parameter {param} is invalid{reason}")


def unsupported(what: str) -> Ec2Error:
    return Ec2Error("Unsupported", f"{what} is not supported by this cloud.")


def from_platform(err: exception.CumuloError, quota_code: str = "ResourceLimitExceeded",
                  state_code: str = "IncorrectState") -> Ec2Error:
    """The EC2 error for a platform error an action did not name more precisely.

    ``quota_code`` is what an exceeded quota is called for the resource (``InstanceLimitExceeded``,
    ``VolumeLimitExceeded``, ``AddressLimitExceeded``...), ``state_code`` a conflict with the
    resource's state (``IncorrectInstanceState``...).
    """
    message = err.message
    if isinstance(err, exception.QuotaExceeded) or err.code == 413:
        return Ec2Error(quota_code, message)
    if isinstance(err, exception.NotAuthenticated):
        return Ec2Error("AuthFailure", message, 401)
    if isinstance(err, exception.Forbidden):
        return Ec2Error("UnauthorizedOperation", message, 403)
    if isinstance(err, exception.NotFound):
        return Ec2Error("InvalidParameterValue", message)
    if isinstance(err, exception.Conflict):
        return Ec2Error(state_code, message)
    if err.code == 503:
        return Ec2Error("Unavailable", message, 503)
    if 400 <= err.code < 500:
        return Ec2Error("InvalidParameterValue", message)
    return Ec2Error("InternalError", "An internal error has occurred", 500)
