"""SMTP handlers for the aiosmtpd server process the email tests start."""

from __future__ import annotations

from typing import Any


class Refusing:
    """A server that answers every message with a permanent refusal."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        return "554 5.7.1 Refused by the test server"

    @classmethod
    def from_cli(cls, parser: Any, *args: str) -> Refusing:
        return cls()
