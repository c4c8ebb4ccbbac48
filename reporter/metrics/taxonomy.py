"""The error taxonomy: every known delivery error code, in one table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ErrorKind:
    """What an error code means: category, provider, whether a retry can succeed."""

    category: str  # technical | non_technical
    platform: str  # fcm | apns | any
    retryable: bool
    meaning: str
    uninstall: bool = False  # the app was uninstalled (or the token expired): counts in `uninstalls`


TAXONOMY: dict[str, ErrorKind] = {
    # FCM HTTP v1
    # The push platform's own reading of these two: "undelivered due to app uninstall".
    "UNREGISTERED": ErrorKind(
        "non_technical", "fcm", False, "The app was uninstalled or the token expired", uninstall=True
    ),
    "INVALID_ARGUMENT": ErrorKind(
        "technical", "fcm", False, "The request was malformed (bad token format or payload field)"
    ),
    "SENDER_ID_MISMATCH": ErrorKind(
        "technical", "fcm", False, "The token belongs to a different sender (Firebase project)"
    ),
    "QUOTA_EXCEEDED": ErrorKind(
        "technical", "fcm", True, "The sending rate limit was exceeded; retry later with backoff"
    ),
    "UNAVAILABLE": ErrorKind("technical", "fcm", True, "FCM was temporarily unavailable; retry with backoff"),
    "INTERNAL": ErrorKind("technical", "fcm", True, "FCM had an internal error; retry with backoff"),
    "THIRD_PARTY_AUTH_ERROR": ErrorKind(
        "technical", "fcm", False, "The APNs or web push credentials configured in FCM were rejected"
    ),
    # APNs
    "BadDeviceToken": ErrorKind("technical", "apns", False, "The device token is invalid for this environment"),
    "Unregistered": ErrorKind(
        "non_technical", "apns", False, "The app was uninstalled or the token expired", uninstall=True
    ),
    "DeviceTokenNotForTopic": ErrorKind(
        "technical", "apns", False, "The device token does not match the app's bundle id (topic)"
    ),
    "PayloadTooLarge": ErrorKind("technical", "apns", False, "The notification payload is larger than APNs allows"),
    "TooManyRequests": ErrorKind("technical", "apns", True, "Too many requests to the same device token; retry later"),
    "InternalServerError": ErrorKind("technical", "apns", True, "APNs had an internal error; retry"),
    "ServiceUnavailable": ErrorKind("technical", "apns", True, "APNs was unavailable; retry"),
    "ExpiredProviderToken": ErrorKind(
        "technical", "apns", True, "The provider authentication token expired; refresh it and retry"
    ),
    # Not technical: the platform chose not to send.
    "FREQUENCY_CAP_EXCEEDED": ErrorKind(
        "non_technical", "any", False, "The user already received the maximum number of messages"
    ),
    "DND_HOURS": ErrorKind("non_technical", "any", False, "The send fell in the user's do-not-disturb hours"),
    "USER_UNSUBSCRIBED": ErrorKind("non_technical", "any", False, "The user opted out of push notifications"),
    "NO_PUSH_TOKEN": ErrorKind("non_technical", "any", False, "The user has no push token on any device"),
}

UNKNOWN = ErrorKind("technical", "any", False, "Unknown error code (not in the reporter's taxonomy)")


UNINSTALL_CODES = tuple(code for code, kind in TAXONOMY.items() if kind.uninstall)


def classify(code: str) -> ErrorKind:
    """The taxonomy entry of an error code; an unknown code is technical, any, not retryable."""
    return TAXONOMY.get(code, UNKNOWN)
