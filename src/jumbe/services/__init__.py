"""Use cases: the only layer that writes the database and holds business rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from jumbe.core.money import kes_to_cents
from jumbe.services.accounts import AccountService
from jumbe.services.activity import ActivityService
from jumbe.services.billing import BillingService
from jumbe.services.callback_urls import CallbackUrls
from jumbe.services.contact_imports import ContactImports
from jumbe.services.contacts import ContactService
from jumbe.services.delivery import DeliveryService
from jumbe.services.device_messages import DeviceMessagingService
from jumbe.services.events import Events
from jumbe.services.idempotency import IdempotencyService
from jumbe.services.imsi_checks import ImsiCheckService, ImsiHashKey
from jumbe.services.kyc_documents import KycDocuments
from jumbe.services.mail import MailService
from jumbe.services.messaging import MessagingService
from jumbe.services.numbering import NumberingService
from jumbe.services.oauth import KIMISMS, KIMISMS_TOKEN_TTL, OAuthService
from jumbe.services.passwords import Passwords
from jumbe.services.pricing import PricingService
from jumbe.services.products import ProductService
from jumbe.services.senders import SenderService
from jumbe.services.sessions import SessionService
from jumbe.services.signing_keys import SigningKeys
from jumbe.services.signup import SignupService
from jumbe.services.sims import SimService
from jumbe.services.smpp_credentials import SmppCredentialService
from jumbe.services.smpp_outbox import SmppOutbox
from jumbe.services.staff import StaffService
from jumbe.services.subscribers import SubscriberService
from jumbe.services.suppressions import SuppressionService
from jumbe.services.team import TeamService
from jumbe.services.templates import TemplateService
from jumbe.services.throttle import AuthThrottle
from jumbe.services.tokens import TokenService
from jumbe.services.topups import NoGateway, PaymentGateway, TopupService
from jumbe.services.users import UserService
from jumbe.settings import Settings
from jumbe.store.database import Database


@dataclass(frozen=True, slots=True)
class Services:
    """What the faces may call; built once by the composition root."""

    accounts: AccountService
    tokens: TokenService
    users: UserService
    smpp_credentials: SmppCredentialService
    billing: BillingService
    numbering: NumberingService
    messaging: MessagingService
    idempotency: IdempotencyService
    device_messages: DeviceMessagingService
    delivery: DeliveryService
    oauth: OAuthService  # Daraja's clients
    kimisms_oauth: OAuthService
    products: ProductService
    sims: SimService
    subscribers: SubscriberService
    imsi_checks: ImsiCheckService
    smpp_outbox: SmppOutbox
    mail: MailService
    signup: SignupService
    sessions: SessionService
    team: TeamService
    staff: StaffService
    senders: SenderService
    pricing: PricingService
    topups: TopupService
    contacts: ContactService
    contact_imports: ContactImports
    templates: TemplateService
    suppressions: SuppressionService
    activity: ActivityService

    @classmethod
    def build(
        cls,
        db: Database,
        settings: Settings,
        *,
        events: Events | None = None,
        callback_urls: CallbackUrls | None = None,
        on_accepted: Callable[[], None] | None = None,
        public_url: Callable[[], str] | None = None,
        payments: PaymentGateway | None = None,
    ) -> Services:
        """``events``: the handlers of the status changes and MO messages the services raise
        (``app.event_handlers``); only tools that change no message's status (the CLI's
        administrative commands) may leave it out. ``public_url``: where links in mail
        point (the running server knows its port). ``payments``: M-Pesa Express (the
        running server's Daraja client or simulator; tools without one cannot start or
        query a payment)."""
        events = events or Events()
        callback_urls = callback_urls or CallbackUrls(
            allow_private=settings.callbacks_allow_private
        )
        numbering = NumberingService(
            db, routed=[*(c for c in settings.routes if c != "default"), settings.sim_carrier]
        )
        messaging = MessagingService(
            db,
            numbering,
            events,
            callback_urls,
            validity=timedelta(hours=settings.validity_hours),
            max_parts=settings.max_parts,
            on_accepted=on_accepted,
        )
        throttle = AuthThrottle(settings.auth_failures_per_minute)
        passwords = Passwords(throttle)
        tokens = TokenService(db, throttle, cache_seconds=settings.token_cache_seconds)
        keys = SigningKeys(db)
        links_to = public_url or (lambda: settings.public_url or settings.listener_url)
        mail = MailService(
            db,
            smtp=settings.smtp is not None,
            public_url=links_to,
        )
        session_lifetime = timedelta(minutes=settings.session_minutes)
        contacts = ContactService(db, numbering)
        return cls(
            accounts=AccountService(db, passwords),
            tokens=tokens,
            users=UserService(db, passwords),
            smpp_credentials=SmppCredentialService(db, tokens, passwords),
            billing=BillingService(db),
            numbering=numbering,
            messaging=messaging,
            idempotency=IdempotencyService(db),
            device_messages=DeviceMessagingService(
                db,
                messaging,
                carrier=settings.sim_carrier,
                validity=timedelta(hours=settings.device_validity_hours),
                queue_limit=settings.sim_queue_limit,
            ),
            delivery=DeliveryService(
                db,
                numbering,
                events,
                receipt_grace=timedelta(hours=settings.receipt_grace_hours),
                receipt_query_after=timedelta(seconds=settings.receipt_query_after),
            ),
            oauth=OAuthService(db, throttle),
            kimisms_oauth=OAuthService(db, throttle, face=KIMISMS, ttl=KIMISMS_TOKEN_TTL),
            products=ProductService(db),
            sims=SimService(db),
            subscribers=SubscriberService(db),
            imsi_checks=ImsiCheckService(
                db,
                numbering,
                secret=ImsiHashKey(db, settings.imsi_hash_secret, settings.data_dir),
                price_cents=kes_to_cents(settings.imsi_price_kes),
                per_minute=settings.imsi_checks_per_minute,
            ),
            smpp_outbox=SmppOutbox(db),
            mail=mail,
            signup=SignupService(db, passwords, mail, keys),
            sessions=SessionService(db, passwords, keys, lifetime=session_lifetime),
            team=TeamService(db, passwords, mail, keys),
            staff=StaffService(db, passwords, mail, keys, lifetime=session_lifetime),
            senders=SenderService(db, numbering, KycDocuments(settings.data_dir), mail),
            pricing=PricingService(db),
            topups=TopupService(
                db,
                payments or NoGateway(),
                callback_base=lambda: settings.mpesa_callback_url or links_to(),
                query_after=timedelta(seconds=settings.mpesa_query_after),
                query_every=timedelta(seconds=settings.mpesa_query_every),
                give_up_after=timedelta(seconds=settings.mpesa_give_up_after),
            ),
            contacts=contacts,
            contact_imports=ContactImports(
                db,
                numbering,
                contacts,
                settings.data_dir / "contact-uploads",
                max_unpacked=settings.contacts_max_unpacked,
                node=settings.node_id,
            ),
            templates=TemplateService(db, contacts),
            suppressions=SuppressionService(db, numbering, settings.data_dir / "contact-uploads"),
            activity=ActivityService(db),
        )
