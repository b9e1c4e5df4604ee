"""
Response bodies copied from the vendor's API documentation (shared/reference/fullsms-api-docs.txt).

Unit tests serve these through ``requests-mock``; they are the contract, so keep them verbatim.
"""

from __future__ import annotations

BALANCE = {"balance": 100}
NUMBERS = {"total_numbers": 1, "numbers": [{"number": "441111111111", "country": "GB"}]}
LISTS = {
    "total_lists": 1,
    "lists": [{"list_id": 7, "name": "yourlistName", "subscribe_word": None, "subscribed_contacts": 1}],
}
SENDER_IDS = {"total_senderids": 1, "senderids": ["COPERATO"]}
TEMPLATES = {
    "total_templates": 1,
    "templates": [{"template_id": 7, "name": "yourTemplateName", "content": "Hello World"}],
}
SEND_TO_LISTS = {"status": "approved", "campaign_id": "3e05699c-03ae-11ee-910d-0264ec2cd11b"}
SEND_TO_NUMBERS = {
    "status": "approved",
    "campaign_id": "68a6ce95-03b2-11ee-910d-0264ec2cd11b",
    "total_sent": 2,
    "invalid": {"count": 0, "numbers": []},
}
OTP_CREATE = {
    "status": "approved",
    "otp_id": "35efec9e-b736-4aab-b6d7-52d9fc288984",
    "otp_status": "in_progress",
}
OTP_VERIFY = {"status": "approved"}
OTP_CANCEL = ["ok"]
OTP_SEARCH = {
    "uuid": "23d8ab2e-cd91-47c7-a83f-aa99b8903c38",
    "status": "approved",
    "destination": "972546461393",
    "sender_value": "OTP",
    "brand": "",
    "created at": "2023-06-05 13:02:56",
    "last_check_at": "2023-06-05 13:04:13",
    "checks": [
        {"date": "2023-06-05 13:03:24", "code": 686281, "status": "invalid"},
        {"date": "2023-06-05 13:04:13", "code": 720842, "status": "valid"},
    ],
}

ACCESS_DENIED = {"status_code": 403, "message": "Access Denied"}
UNAUTHENTICATED = {"status_code": 403, "message": "Unauthenticated - Missing/Invalid API key"}
SERVER_ERROR = {"status_code": 500, "message": "Internal Error"}
FROM_INVALID_NUMBER = {"status_code": 403, "message": "Number invalid, inactive or unknown"}
SENDER_NOT_APPROVED = {"status_code": 403, "message": "Sender ID is not approved"}
SHORTLINKS = {
    "status_code": 403,
    "message": "Shortlinks are not allowed in your account. You may use templates without shortlinks.",
}
TEMPLATE_NOT_FOUND = {"status_code": 404, "status": "declined", "message": "Template not found or not valid"}
LIST_NOT_FOUND = {
    "message": "422 Unprocessable Content",
    "errors": {"to_list_ids.0": ["List with this id could not be found"]},
    "status_code": 422,
}
MESSAGE_NOT_STRING = {
    "message": "422 Unprocessable Content",
    "errors": {"message": ["The message must be a string."]},
    "status_code": 422,
}
NUMBERS_INVALID = {
    "message": "422 Unprocessable Content",
    "errors": {"to_numbers.0": ["Given number is invalid or could not receive messages"]},
    "status_code": 422,
}
BALANCE_LOW = {
    "status_code": 422,
    "status": "declined",
    "reason": "balance_low",
    "message": "Balance must be over $[current minimum for sending] to create or schedule new campaigns or messages",
}
OTP_FIELD_INVALID = {
    "message": "422 Unprocessable Content",
    "errors": {"[field name]": ["This [field name] is invalid."]},
    "code": 422,
    "status_code": 422,
}
OTP_EXISTS = {
    "message": "Two active requests to the same number are not allowed. You may try again when 30 seconds "
    "has passed from the first OTP verification was created",
    "code": 429,
    "status_code": 429,
}
OTP_CREATE_LIMIT = {
    "message": "You can create up-to  [maximum] concurrent active OTP_IDs",
    "code": 429,
    "status_code": 429,
}
OTP_NOT_FOUND = {"status_code": 404, "status": "declined", "message": "OTP_ID does not exist"}
OTP_INVALID_CODE = {
    "message": "422 Unprocessable Content",
    "errors": {"code": ["This code is invalid."]},
    "code": 422,
    "status_code": 422,
}
OTP_NOT_ACTIVE = {"message": "OTP is not active", "status_code": 422}
# The "Errors" section spells the status key "status-code".
OTP_WRONG_CODE_TOO_MANY = {"message": "Wrong code too many times", "status-code": 429}
OTP_MAX_VERIFICATION = {"message": "Maximum verification", "status-code": 429}
OTP_ONE_CREATION = {"message": "One Creation", "status-code": 429}
GENERAL_UNAUTHENTICATED = {"message": "Unauthenticated - Missing/Invalid API key", "status-code": 403}
GENERAL_INTERNAL = {"message": "Internal Error", "status-code": 500}
GENERAL_ACCESS_DENIED = {"message": "Access Denied"}
