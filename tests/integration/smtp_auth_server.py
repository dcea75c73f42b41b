"""SMTP test server that requires AUTH (PLAIN/LOGIN) over a plain loopback connection.

aiosmtpd's command line has no authentication option, so the email tests start this instead:
    /usr/bin/python3 smtp_auth_server.py HOST PORT MAILDIR USER PASSWORD
Messages go to MAILDIR/new like `python3 -m aiosmtpd -c aiosmtpd.handlers.Mailbox`.
"""
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

host, port, maildir, user, password = sys.argv[1:6]


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == user
        and auth_data.password.decode() == password
    )
    # handled=False: aiosmtpd then answers "535 5.7.8 Authentication credentials invalid" itself.
    return AuthResult(success=ok, handled=False)


controller = Controller(
    Mailbox(maildir),
    hostname=host,
    port=int(port),
    authenticator=authenticate,
    auth_required=True,
    auth_require_tls=False,
)
controller.start()
threading.Event().wait()
