"""Daraja's conventions as Jumbe's client writes them and the callback route reads them."""

from __future__ import annotations

from datetime import UTC, datetime

from jumbe.engine.mpesa import password, timestamp
from jumbe.faces.rest.topups import stk_outcome


def test_password_is_base64_of_shortcode_passkey_and_timestamp() -> None:
    # the example of Safaricom's sandbox documentation
    passkey = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
    assert password("174379", passkey, "20160216165627") == (
        "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZi"
        "NzJhZGExZWQyYzkxOTIwMTYwMjE2MTY1NjI3"
    )


def test_timestamps_are_kenyan_time() -> None:
    assert timestamp(datetime(2026, 12, 1, 22, 30, 5, tzinfo=UTC)) == "20261202013005"


def test_a_paid_callback() -> None:
    body = {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "11225-96181251-1",
                "CheckoutRequestID": "ws_CO_17112022155730304796440427",
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": 1.00},
                        {"Name": "MpesaReceiptNumber", "Value": "QKH94M1Z11"},
                        {"Name": "Balance"},
                        {"Name": "TransactionDate", "Value": 20221117155745},
                        {"Name": "PhoneNumber", "Value": 254796440427},
                    ]
                },
            }
        }
    }
    outcome = stk_outcome(body)
    assert outcome is not None
    assert (outcome.checkout_request_id, outcome.result_code, outcome.amount, outcome.receipt) == (
        "ws_CO_17112022155730304796440427",
        0,
        1,
        "QKH94M1Z11",
    )


def test_a_cancelled_callback_and_things_that_are_no_callback() -> None:
    cancelled = stk_outcome(
        {
            "Body": {
                "stkCallback": {
                    "MerchantRequestID": "68441-128341933-1",
                    "CheckoutRequestID": "ws_CO_17112022155511840796440427",
                    "ResultCode": 1032,
                    "ResultDesc": "Request cancelled by user",
                }
            }
        }
    )
    assert cancelled is not None
    assert (cancelled.result_code, cancelled.amount, cancelled.receipt) == (1032, None, None)
    half_shilling = {"Item": [{"Name": "Amount", "Value": 1.5}]}
    odd = stk_outcome(
        {
            "Body": {
                "stkCallback": {
                    "CheckoutRequestID": "x",
                    "ResultCode": "0",
                    "CallbackMetadata": half_shilling,
                }
            }
        }
    )
    assert odd is not None and odd.amount is None and odd.result_code == 0
    for junk in (
        None,
        [],
        {"Body": {}},
        {"Body": {"stkCallback": {"ResultCode": 0}}},
        {"Body": {"stkCallback": {"CheckoutRequestID": "x" * 65, "ResultCode": 0}}},
        {"Body": {"stkCallback": {"CheckoutRequestID": "x", "ResultCode": True}}},
        {"Body": {"stkCallback": {"CheckoutRequestID": "x", "ResultCode": "zero"}}},
    ):
        assert stk_outcome(junk) is None
