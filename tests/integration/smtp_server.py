"""A real SMTP server for the notices' tests (aiosmtpd, on a free port of 127.0.0.1).

``SmtpServer.answers`` scripts what it says: a queue of codes answered, one each, to the
next messages' DATA ("451 …" once, then the usual 250), and ``refuse_rcpt`` a code for
every recipient. ``messages`` holds what it accepted, parsed.
"""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections import deque

from aiosmtpd.controller import Controller

from tests.integration.live_server import free_port


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.server.refuse_rcpt:
            return self.server.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.server.delay:
            time.sleep(self.server.delay)  # holds the server: senders overlap their claims
        with self.server.lock:
            if self.server.answers:
                return self.server.answers.popleft()
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.server.messages.append(message)
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[email.message.EmailMessage] = []
        self.answers: deque[str] = deque()
        self.refuse_rcpt = ""
        self.delay = 0.0
        self.lock = threading.Lock()
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def config(self) -> dict:
        """The app's settings to send here: plain SMTP, no login, short time-outs."""
        return {
            "MAIL_BACKEND": "smtp",
            "MAIL_HOST": "127.0.0.1",
            "MAIL_PORT": self.port,
            "MAIL_SECURITY": "none",
            "MAIL_TIMEOUT": 5,
        }

    def ids(self) -> list[str]:
        return [m["Message-ID"] for m in self.messages]
