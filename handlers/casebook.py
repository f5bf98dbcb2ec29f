"""``事例集 名前を出す`` / ``事例集 名前を出さない``: an organization agrees (or no longer agrees) to
be named in the 事例集 (models.casebook). Its own members decide for it; an organizer may record it
for any organization (``事例集 名前を出す 子ども食堂ひまわり``). By default no name is shown."""

from __future__ import annotations

from sqlalchemy import select

from bot.pipeline.context import Context
from bot.pipeline.registry import describe, on_command
from bot.replies import compose, messages
from handlers import access
from handlers.access import Who
from models.casebook import set_named
from models.network import Organization
from models.privacy import mask

describe("事例集 名前を出す", "事例集に自分の団体名を載せてよいと記録します（名前を出さない で取り消し）", order=57)
NAME_LIMIT = 100


@on_command("事例集", "#事例集")
def casebook_naming(ctx: Context, args: str = "") -> None:
    allowed = access.guard(ctx, who=Who.REGISTERED)
    if allowed is None:
        return
    words = args.split(maxsplit=1)
    verbs = {messages.CASEBOOK_NAMED_WORD: True, messages.CASEBOOK_UNNAMED_WORD: False}
    if not words or words[0] not in verbs:
        ctx.reply(compose.text(messages.CASEBOOK_USAGE))
        return
    named, member = verbs[words[0]], allowed.member
    organization = member.organization if member is not None else None
    if len(words) > 1 and (organization is None or words[1].strip() != organization.name):
        if member is None or not member.is_organizer:
            ctx.reply(compose.text(messages.CASEBOOK_OTHER_ORGANIZATION))
            return
        name = words[1].strip()[:NAME_LIMIT]
        organization = ctx.session.scalar(
            select(Organization).where(Organization.network_id == allowed.network.id, Organization.name == name)
        )
        if organization is None:
            echoed = mask(name).text  # echoed words are queued in the database: masked
            ctx.reply(compose.text(messages.CASEBOOK_UNKNOWN_ORGANIZATION.format(organization=echoed)))
            return
    if organization is None:
        return
    if set_named(allowed.network, organization, member, named, ctx.now):
        wording = messages.CASEBOOK_NAMED if named else messages.CASEBOOK_UNNAMED
    else:
        wording = messages.CASEBOOK_ALREADY_NAMED if named else messages.CASEBOOK_ALREADY_UNNAMED
    ctx.reply(compose.text(wording.format(organization=organization.name)))
