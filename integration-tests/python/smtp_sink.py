"""An SMTP server (aiosmtpd) that stores what it receives in a Maildir.

It binds a free port itself and prints it as its first line, so no other process can take the
port between a choice and a bind. Usage: python3 smtp_sink.py MAILDIR
"""
import asyncio
import socket
import sys

from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP


async def main(maildir: str) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    handler = Mailbox(maildir)
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(handler), sock=sock
    )
    print(sock.getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
