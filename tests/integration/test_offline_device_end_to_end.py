"""Issue 4's carrier side, whole: a message to an IoT SIM whose device is offline is taken by
the carrier with the message's own 72-hour validity, waits there as *sent*, and is delivered
when the device attaches again."""

from __future__ import annotations

import io

from jumbe.app import Jumbe
from jumbe.core.status import MessageStatus
from jumbe.smpp.timefmt import format_smpp_time
from tests.conftest import wait_until

SIMS = (
    "iccid,imsi,msisdn,sim_type,status\n"
    "89254014010100030360,639014010003036,300000003036,standard,active\n"
)


async def test_a_device_message_waits_in_the_carrier_until_the_device_is_back(
    jumbe: Jumbe,
) -> None:
    services, simulator = jumbe.services, jumbe.simulator
    assert simulator is not None
    account = await services.accounts.create_account("Fleet")
    await services.sims.import_csv(account.account_id, io.StringIO(SIMS))
    await services.billing.credit(account.account_id, 10, "test")
    simulator.take_offline("300000003036")

    sent = await services.device_messages.send(
        account.account_id, msisdn="300000003036", text="washa pampu", source="sim-portal"
    )

    async def reaches(wanted: MessageStatus) -> bool:
        message = await services.device_messages.get(account.account_id, sent.id)
        return message.status is wanted

    await wait_until(lambda: reaches(MessageStatus.SENT), what="sent, waiting for the device")
    assert simulator.stats()["messages_held"] == 1  # taken by the carrier, not delivered
    (submission,) = [s for s in simulator.submissions if s.destination_addr == "254300000003036"]
    (stored,) = (await services.messaging.list(account.account_id)).items
    assert submission.validity_period == format_smpp_time(stored.valid_until)

    assert simulator.bring_online("254300000003036") == 1

    await wait_until(lambda: reaches(MessageStatus.DELIVERED), what="delivered once it is back")
    assert simulator.stats()["messages_held"] == 0
