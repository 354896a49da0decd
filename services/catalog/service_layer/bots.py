"""Use cases for vendors' crawlers (Web Bot Auth): register, list, delete."""

from __future__ import annotations

from services.catalog.domain.bots import Bot, check_bot
from services.catalog.service_layer import access
from services.catalog.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime import pagination, resource_names
from services.runtime.errors import AlreadyExists, NotFound, Violations
from services.runtime.principal import Principal
from services.runtime.sqltypes import utc_now

MAX_BOTS_PER_VENDOR = 100


class BotService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def create(
        self,
        p: Principal,
        parent: str,
        display_name: str,
        user_agent: str,
        public_keys: tuple[str, ...],
        key_directory_url: str,
        bot_id: str,
    ) -> Bot:
        resource_names.parse(parent, ("vendors",), "parent")
        access.manage_keys(p, parent)
        v = Violations()
        if bot_id and not resource_names.is_valid_id(bot_id):
            v.add("bot_id", resource_names.ID_RULE)
        key_ids = check_bot(display_name, user_agent, public_keys, key_directory_url, v)
        v.raise_if_any()
        bot = Bot(
            bot_id or resource_names.new_id("b"), parent, display_name, user_agent.strip(),
            public_keys, key_ids, key_directory_url, utc_now(),
        )  # fmt: skip
        with self._uow() as uow:
            if not uow.accounts.account_exists(parent):
                raise NotFound("ACCOUNT_NOT_FOUND", f"{parent} does not exist", resource=parent)
            if uow.bots.get(parent, bot.id) is not None:
                raise AlreadyExists("BOT_ALREADY_EXISTS", f"{bot.name} already exists")
            if len(uow.bots.page(parent, None, MAX_BOTS_PER_VENDOR + 1)) > MAX_BOTS_PER_VENDOR:
                raise AlreadyExists("TOO_MANY_BOTS", f"at most {MAX_BOTS_PER_VENDOR} bots")
            uow.bots.add(bot)
            uow.commit()
        return bot

    def list_bots(
        self, p: Principal, parent: str, page_size: int, page_token: str
    ) -> pagination.Page[Bot]:
        (vendor_id,) = resource_names.parse(parent, ("vendors",), "parent", allow_wildcard=True)
        if vendor_id == "-":
            access.trusted_only(p, "list every vendor's bots")
        else:
            access.manage_keys(p, parent)
        filters = {"parent": parent}
        page = pagination.page_request(page_size, page_token, filters)
        with self._uow(write=False) as uow:
            vendor = None if vendor_id == "-" else parent
            items = uow.bots.page(vendor, page.after, page.size)
        return pagination.page_of(items, page.size, lambda b: b.id, filters)

    def delete(self, p: Principal, name: str) -> None:
        vendor_id, bot_id = resource_names.parse(name, ("vendors", "bots"), "name")
        vendor = f"vendors/{vendor_id}"
        access.manage_keys(p, vendor)
        with self._uow() as uow:
            bot = uow.bots.get(vendor, bot_id)
            if bot is None:
                raise NotFound("BOT_NOT_FOUND", f"{name} does not exist", resource=name)
            uow.bots.delete(bot)
            uow.commit()
