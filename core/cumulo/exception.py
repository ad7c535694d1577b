"""Kernel exceptions.

Every error a client or operator can cause derives from :class:`CumuloError`
and carries the HTTP status it maps to, so API frontends render faults without
guessing and the CLI prints ``str(err)`` as one line.
"""

from __future__ import annotations


class CumuloError(Exception):
    """Base of every expected error. ``code`` is the HTTP status it maps to."""

    code = 500
    title = "Internal Server Error"
    msg_fmt = "An unknown error occurred."

    def __init__(self, message: str | None = None, **kwargs: object) -> None:
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError):
                message = self.msg_fmt
        self.message = message
        super().__init__(message)


class Invalid(CumuloError):
    code = 400
    title = "Bad Request"
    msg_fmt = "Invalid input: %(reason)s"


class ValidationError(Invalid):
    msg_fmt = "Invalid input for field '%(field)s': %(reason)s"


class NotAuthenticated(CumuloError):
    code = 401
    title = "Unauthorized"
    msg_fmt = "The request you have made requires authentication."


class Forbidden(CumuloError):
    code = 403
    title = "Forbidden"
    msg_fmt = "Policy does not allow %(action)s to be performed."


class QuotaExceeded(Forbidden):
    msg_fmt = "Quota exceeded for %(resource)s: requested %(requested)s, in use %(used)s, limit %(limit)s."


class NotFound(CumuloError):
    code = 404
    title = "Not Found"
    msg_fmt = "%(resource)s %(id)s could not be found."


class NotAcceptable(CumuloError):
    code = 406
    title = "Not Acceptable"
    msg_fmt = "%(reason)s"


class Conflict(CumuloError):
    code = 409
    title = "Conflict"
    msg_fmt = "%(reason)s"


class InvalidState(Conflict):
    msg_fmt = "Cannot '%(action)s' %(resource)s %(id)s while it is in %(attr)s %(state)s."


class RequestTooLarge(CumuloError):
    code = 413
    title = "Request Entity Too Large"
    msg_fmt = "Request body is larger than the limit of %(limit)d bytes."


class UnsupportedMediaType(CumuloError):
    code = 415
    title = "Unsupported Media Type"
    msg_fmt = "%(reason)s"


class NotImplementedByDriver(CumuloError):
    """The loaded driver lacks a capability the request needs."""

    code = 409
    title = "Conflict"
    msg_fmt = "The %(driver)s driver does not support %(capability)s."


class ServiceUnavailable(CumuloError):
    code = 503
    title = "Service Unavailable"
    msg_fmt = "%(reason)s"


class MessagingTimeout(CumuloError):
    code = 504
    title = "Gateway Timeout"
    msg_fmt = "No reply to %(method)s on %(topic)s within %(timeout)ss."


class ConfigError(CumuloError):
    """Deployment configuration is wrong; reported before start."""

    code = 500
    msg_fmt = "%(reason)s"
