"""Structural validation of raw WAMP messages received by the router.

Autobahn's message classes check much of this with `assert`, which vanishes
under `python -O`; the router must never trust that. Every raw message (the
list a serializer produced) is checked here against the WAMP v2 shape of its
type before autobahn builds a message object from it.
"""

from __future__ import annotations

from typing import Any

from autobahn.wamp import message as wamp

MAX_ID = 2**53  # WAMP ids are integers in [1, 2^53]
MAX_URI_LENGTH = 256  # the relay's default (RelayConfig.max_uri_length)


class InvalidMessage(Exception):
    """A raw message that is not valid WAMP. The text says what is wrong."""


class UriTooLong(InvalidMessage):
    """A well-formed message whose URI is longer than allowed.

    For a request (CALL, PUBLISH, SUBSCRIBE, REGISTER) the router answers with an
    ERROR for `request` and the session carries on; anything else is a violation.
    """

    def __init__(self, message: str, code: int, request: int | None, wants_answer: bool) -> None:
        super().__init__(message)
        self.code = code
        self.request = request
        self.wants_answer = wants_answer  # False: an unacknowledged PUBLISH


def _id(value: Any) -> bool:
    return type(value) is int and 1 <= value <= MAX_ID


def _dict(value: Any) -> bool:
    return type(value) is dict and all(type(k) is str for k in value)


def _str(value: Any) -> bool:
    return type(value) is str


def _int(value: Any) -> bool:
    return type(value) is int


def _list(value: Any) -> bool:
    return type(value) is list


_FIELD_CHECKS = {"id": _id, "dict": _dict, "uri": _str, "str": _str, "int": _int}

# The fixed fields after the type code, then whether [args, kwargs] may follow.
_SHAPES: dict[int, tuple[tuple[tuple[str, str], ...], bool]] = {
    wamp.Hello.MESSAGE_TYPE: ((("realm", "uri"), ("details", "dict")), False),
    wamp.Abort.MESSAGE_TYPE: ((("details", "dict"), ("reason", "uri")), False),
    wamp.Authenticate.MESSAGE_TYPE: ((("signature", "str"), ("extra", "dict")), False),
    wamp.Goodbye.MESSAGE_TYPE: ((("details", "dict"), ("reason", "uri")), False),
    wamp.Error.MESSAGE_TYPE: (
        (("request_type", "int"), ("request", "id"), ("details", "dict"), ("error", "uri")),
        True,
    ),
    wamp.Publish.MESSAGE_TYPE: ((("request", "id"), ("options", "dict"), ("topic", "uri")), True),
    wamp.Subscribe.MESSAGE_TYPE: (
        (("request", "id"), ("options", "dict"), ("topic", "uri")),
        False,
    ),
    wamp.Unsubscribe.MESSAGE_TYPE: ((("request", "id"), ("subscription", "id")), False),
    wamp.Call.MESSAGE_TYPE: ((("request", "id"), ("options", "dict"), ("procedure", "uri")), True),
    wamp.Cancel.MESSAGE_TYPE: ((("request", "id"), ("options", "dict")), False),
    wamp.Register.MESSAGE_TYPE: (
        (("request", "id"), ("options", "dict"), ("procedure", "uri")),
        False,
    ),
    wamp.Unregister.MESSAGE_TYPE: ((("request", "id"), ("registration", "id")), False),
    wamp.Yield.MESSAGE_TYPE: ((("request", "id"), ("options", "dict")), True),
}

# Messages only a router sends; a client sending one is a protocol violation.
_ROUTER_ONLY = {
    wamp.Welcome.MESSAGE_TYPE: "WELCOME",
    wamp.Challenge.MESSAGE_TYPE: "CHALLENGE",
    wamp.Published.MESSAGE_TYPE: "PUBLISHED",
    wamp.Subscribed.MESSAGE_TYPE: "SUBSCRIBED",
    wamp.Unsubscribed.MESSAGE_TYPE: "UNSUBSCRIBED",
    wamp.Event.MESSAGE_TYPE: "EVENT",
    wamp.Result.MESSAGE_TYPE: "RESULT",
    wamp.Registered.MESSAGE_TYPE: "REGISTERED",
    wamp.Unregistered.MESSAGE_TYPE: "UNREGISTERED",
    wamp.Invocation.MESSAGE_TYPE: "INVOCATION",
    wamp.Interrupt.MESSAGE_TYPE: "INTERRUPT",
}

_KLASS = {
    klass.MESSAGE_TYPE: klass
    for klass in (
        wamp.Hello,
        wamp.Abort,
        wamp.Authenticate,
        wamp.Goodbye,
        wamp.Error,
        wamp.Publish,
        wamp.Subscribe,
        wamp.Unsubscribe,
        wamp.Call,
        wamp.Cancel,
        wamp.Register,
        wamp.Unregister,
        wamp.Yield,
    )
}


_REQUESTS = {wamp.Call.MESSAGE_TYPE, wamp.Publish.MESSAGE_TYPE, wamp.Subscribe.MESSAGE_TYPE,
             wamp.Register.MESSAGE_TYPE}


def validate_raw(raw: Any, max_uri_length: int = MAX_URI_LENGTH) -> None:
    """Raise `InvalidMessage` unless `raw` has the WAMP shape of a client message
    (`UriTooLong` if only a URI is longer than `max_uri_length`)."""
    if type(raw) is not list or not raw:
        raise InvalidMessage("a WAMP message must be a non-empty array")
    code = raw[0]
    if type(code) is not int:
        raise InvalidMessage("the WAMP message type must be an integer")
    if code in _ROUTER_ONLY:
        raise InvalidMessage(f"{_ROUTER_ONLY[code]} is sent by routers, not clients")
    shape = _SHAPES.get(code)
    if shape is None:
        raise InvalidMessage(f"unknown WAMP message type {code}")
    fields, payload = shape
    name = _KLASS[code].__name__.upper()
    fixed = len(fields) + 1
    most = fixed + (2 if payload else 0)
    if not fixed <= len(raw) <= most:
        raise InvalidMessage(f"{name} must have {fixed} to {most} elements, not {len(raw)}")
    for value, (field, kind) in zip(raw[1:], fields, strict=False):
        if not _FIELD_CHECKS[kind](value):
            raise InvalidMessage(f"{name}.{field} has the wrong type ({type(value).__name__})")
    if len(raw) > fixed and not _list(raw[fixed]):
        raise InvalidMessage(f"{name}.args must be an array")
    if len(raw) > fixed + 1 and not _dict(raw[fixed + 1]):
        raise InvalidMessage(f"{name}.kwargs must be an object")
    for value, (field, kind) in zip(raw[1:], fields, strict=False):
        if kind == "uri" and len(value) > max_uri_length:
            # Checked before autobahn's URI pattern runs over it, and before a
            # router table could keep it.
            request = raw[1] if code in _REQUESTS else None
            wants_answer = request is not None and (
                code != wamp.Publish.MESSAGE_TYPE or raw[2].get("acknowledge") is True)
            raise UriTooLong(f"{name}.{field} is longer than {max_uri_length} characters",
                             code, request, wants_answer)


def parse(raw: Any, max_uri_length: int = MAX_URI_LENGTH) -> wamp.Message:
    """Validate `raw` and build autobahn's message object for it.

    Raises `InvalidMessage` for anything malformed, including the finer checks
    autobahn's own `parse` makes (URI syntax, option types).
    """
    validate_raw(raw, max_uri_length)
    try:
        return _KLASS[raw[0]].parse(raw)
    except Exception as e:  # ProtocolError, and AssertionError when not under -O
        raise InvalidMessage(str(e) or type(e).__name__) from None
