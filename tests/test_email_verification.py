"""Registration proves the email (H1): codes mailed through a real SMTP server on loopback."""

from __future__ import annotations

import os
import sys
from typing import Any

import attrs
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer, reactor, threads
from twisted.internet.utils import getProcessOutputAndValue

from securechat import testing
from securechat.client.core import SecureChatClient
from securechat.client.errors import AccountExists, EmailCodeRejected, EmailCodeRequired, MailFailed
from securechat.client.registration import request_email_code
from securechat.client.wamp import Anonymous, Password
from securechat.protocol import uris
from securechat.protocol.keys import user_id_for_email
from securechat.relay.config import RelayConfig, SmtpSettings
from tests.clientsupport import FAST, ClientTestCase
from tests.mailserver import code_in, start_mail_server

BOB = "bob@example.org"
PASSWORD = "pw-" + "x" * 10


class EmailVerificationTests(ClientTestCase):
    config = RelayConfig(email_verification=True)
    use_clock = True  # code lifetimes run on self.clock

    @defer.inlineCallbacks
    def setUp(self) -> Any:
        self.mailbox, port = yield start_mail_server(reactor)
        self.addCleanup(port.stopListening)
        self.config = attrs.evolve(self.config, smtp=SmtpSettings(
            f"tcp:host=127.0.0.1:port={port.getHost().port}", "relay@chat.example.org"))
        yield super().setUp()

    # --- helpers -----------------------------------------------------------------

    @defer.inlineCallbacks
    def ask_code(self, email: str) -> Any:
        """sc.account.verify_email as an anonymous caller; returns its answer."""
        session = yield self.join(Anonymous())
        answer = yield session.call(uris.ACCOUNT_VERIFY_EMAIL, user_id_for_email(email), email)
        yield testing.leave(session)
        return answer

    @defer.inlineCallbacks
    def register_with(self, email: str, code: str | None) -> Any:
        """sc.account.register as an anonymous caller: the ApplicationError, or None."""
        _, args = yield threads.deferToThread(testing.registration_args, email, PASSWORD)
        session = yield self.join(Anonymous())
        try:
            yield session.call(uris.ACCOUNT_REGISTER, *args, *([] if code is None else [code]))
        except ApplicationError as e:
            return e
        finally:
            yield testing.leave(session)
        return None

    # --- squatting ---------------------------------------------------------------

    @defer.inlineCallbacks
    def test_registering_someone_elses_email_without_the_code_is_refused(self) -> Any:
        refusal = yield self.register_with(BOB, None)
        self.assertEqual(refusal.error, uris.ERR_EMAIL_CODE_REQUIRED)
        refusal = yield self.register_with(BOB, "12345678")  # no code was ever mailed
        self.assertEqual(refusal.error, uris.ERR_EMAIL_CODE_EXPIRED)
        # Mallory makes the relay mail Bob a code: Mallory does not get it, and guessing
        # fails (and runs out).
        yield self.ask_code(BOB)
        mail = yield self.mailbox.next_mail(BOB)
        real = code_in(mail)
        wrong = f"{(int(real) + 1) % 10 ** 8:08d}"
        refusal = yield self.register_with(BOB, wrong)
        self.assertEqual(refusal.error, uris.ERR_EMAIL_CODE_WRONG)
        self.assertEqual(refusal.kwargs["attempts_left"], self.config.email_code_attempts - 1)
        login = yield self.refused(Password(user_id_for_email(BOB), PASSWORD))
        self.assertEqual(login.reason, uris.ERR_WRONG_PASSWORD)  # no account was made

    @defer.inlineCallbacks
    def test_the_code_from_the_mail_registers_the_account(self) -> Any:
        self.assertTrue((yield request_email_code(reactor, self.url, "Bob@Example.org")))
        mail = yield self.mailbox.next_mail(BOB)
        self.assertEqual(mail["To"], BOB)
        self.assertEqual(mail["From"], "relay@chat.example.org")
        self.assertIn("SecureChat code", mail["Subject"])
        bob, _ = yield register_with_code(self, "bob", BOB, code_in(mail))
        self.assertEqual(bob.me.email, BOB)
        yield self.online(bob)
        # The account works like any other: a second device signs in with the password.
        phone = yield self.login("bob-phone", BOB, PASSWORD)
        self.assertEqual(phone.me.user_id, bob.me.user_id)

    @defer.inlineCallbacks
    def test_a_code_works_once(self) -> Any:
        yield self.ask_code(BOB)
        code = code_in((yield self.mailbox.next_mail(BOB)))
        self.assertIsNone((yield self.register_with(BOB, code)))
        refusal = yield self.register_with(BOB, code)
        self.assertEqual(refusal.error, uris.ERR_EMAIL_CODE_EXPIRED)

    @defer.inlineCallbacks
    def test_an_expired_code_is_refused(self) -> Any:
        yield self.ask_code(BOB)
        code = code_in((yield self.mailbox.next_mail(BOB)))
        self.clock.advance(self.config.email_code_ttl + 1)
        refusal = yield self.register_with(BOB, code)
        self.assertEqual(refusal.error, uris.ERR_EMAIL_CODE_EXPIRED)
        self.assertIn("ask for a new one", refusal.args[0])

    @defer.inlineCallbacks
    def test_wrong_codes_run_out_and_then_even_the_right_one_is_refused(self) -> Any:
        yield self.ask_code(BOB)
        code = code_in((yield self.mailbox.next_mail(BOB)))
        wrong = f"{(int(code) + 7) % 10 ** 8:08d}"
        errors = []
        for _ in range(self.config.email_code_attempts):
            errors.append((yield self.register_with(BOB, wrong)).error)
        tries = self.config.email_code_attempts
        self.assertEqual(errors, [uris.ERR_EMAIL_CODE_WRONG] * (tries - 1)
                         + [uris.ERR_EMAIL_CODE_EXPIRED])
        refusal = yield self.register_with(BOB, code)
        self.assertEqual(refusal.error, uris.ERR_EMAIL_CODE_EXPIRED)

    @defer.inlineCallbacks
    def test_asking_for_an_existing_account_answers_the_same_and_tells_its_owner(self) -> Any:
        yield self.ask_code(BOB)
        self.assertIsNone((yield self.register_with(BOB, code_in(
            (yield self.mailbox.next_mail(BOB))))))
        fresh = yield self.ask_code("carol@example.org")
        existing = yield self.ask_code(BOB)
        self.assertEqual(fresh, existing)  # nobody learns from the answer that Bob exists
        note = yield self.mailbox.next_mail(BOB)
        self.assertIn("already have one", note.get_content())
        self.assertNotRegex(note.get_content(), r"\b\d{4} \d{4}\b")
        # ...nor from registering: a guessed code is just wrong, not "account exists".
        refusal = yield self.register_with(BOB, "00000000")
        self.assertEqual(refusal.error, uris.ERR_EMAIL_CODE_WRONG)

    @defer.inlineCallbacks
    def test_code_requests_are_limited_per_email(self) -> Any:
        errors = []
        for _ in range(int(self.config.email_codes_per_email_burst) + 1):
            try:
                yield self.ask_code(BOB)
                errors.append(None)
            except ApplicationError as e:
                errors.append(e.error)
        self.assertEqual(errors[-1], uris.ERR_RATE_LIMITED)
        self.assertEqual(errors[:-1], [None] * int(self.config.email_codes_per_email_burst))
        # the latest codes all work (mail can arrive out of order)
        codes = []
        for _ in errors[:-1]:
            codes.append(code_in((yield self.mailbox.next_mail(BOB))))
        self.assertIsNone((yield self.register_with(BOB, codes[-2])))

    @defer.inlineCallbacks
    def test_code_requests_are_limited_per_source_address(self) -> Any:
        errors = []
        for i in range(int(self.config.email_codes_per_source_burst) + 1):
            try:
                yield self.ask_code(f"user{i}@example.org")
                errors.append(None)
            except ApplicationError as e:
                errors.append(e.error)
        self.assertEqual(errors[-1], uris.ERR_RATE_LIMITED)
        self.assertNotIn(uris.ERR_RATE_LIMITED, errors[:-1])

    @defer.inlineCallbacks
    def test_a_mail_the_server_refuses_is_a_clear_error(self) -> Any:
        self.mailbox.refuse.add(BOB)
        with self.assertRaises(MailFailed):
            yield request_email_code(reactor, self.url, BOB)

    @defer.inlineCallbacks
    def test_the_email_must_match_the_user_id(self) -> Any:
        session = yield self.join(Anonymous())
        with self.assertRaises(ApplicationError) as caught:
            yield session.call(uris.ACCOUNT_VERIFY_EMAIL, user_id_for_email("carol@example.org"),
                               BOB)
        self.assertEqual(caught.exception.error, uris.ERR_INVALID_ARGUMENT)
        self.assertEqual(self.mailbox.mails, [])

    # --- the client core ---------------------------------------------------------

    @defer.inlineCallbacks
    def test_the_client_says_what_is_wrong_with_a_code(self) -> Any:
        with self.assertRaises(EmailCodeRequired):
            yield register_with_code(self, "bob", BOB, None)
        yield request_email_code(reactor, self.url, BOB)
        code = code_in((yield self.mailbox.next_mail(BOB)))
        with self.assertRaises(EmailCodeRejected) as caught:
            yield register_with_code(self, "bob", BOB, f"{(int(code) + 1) % 10 ** 8:08d}")
        self.assertFalse(caught.exception.expired)
        # nothing half-made stayed behind: the right code still registers here
        bob, _ = yield register_with_code(self, "bob", BOB, code[:4] + "-" + code[4:])
        self.assertEqual(bob.me.email, BOB)
        with self.assertRaises(EmailCodeRejected) as caught:
            yield register_with_code(self, "bob-again", BOB, code)
        self.assertTrue(caught.exception.expired)


    # --- the command line --------------------------------------------------------

    @defer.inlineCallbacks
    def cli(self, command: str, code: str | None = None, device: str = "cli") -> Any:
        env = dict(os.environ, SECURECHAT_PASSWORD=PASSWORD,
                   PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
        env.pop("SECURECHAT_EMAIL_CODE", None)
        if code is not None:
            env["SECURECHAT_EMAIL_CODE"] = code
        out, err, status = yield getProcessOutputAndValue(sys.executable, [
            "-m", "securechat.cli", "--relay", self.url, "--data-dir", self.device_dir(device),
            "--kdf-memory", "8192", "--timeout", "20", command, "--email", BOB], env=env)
        return out.decode(), err.decode(), status

    @defer.inlineCallbacks
    def test_the_cli_registers_with_the_mailed_code(self) -> Any:
        # Without a code and without a terminal to type it in: a clear error, and a code
        # is on its way all the same.
        _, err, status = yield self.cli("register")
        self.assertEqual(status, 1)
        self.assertEqual(len(err.strip().splitlines()), 2, err)  # the note and the error
        self.assertIn("SECURECHAT_EMAIL_CODE", err)
        first = code_in((yield self.mailbox.next_mail(BOB)))
        # A script asks for the code first, then registers with it.
        out, _, status = yield self.cli("request-code")
        self.assertEqual(status, 0)
        self.assertIn("A code was mailed", out)
        second = code_in((yield self.mailbox.next_mail(BOB)))
        out, err, status = yield self.cli("register", code=second)
        self.assertEqual(status, 0, err)
        self.assertIn(f"Registered {BOB}", out)
        # Every code for the email was spent with it.
        _, err, status = yield self.cli("register", code=first, device="elsewhere")
        self.assertEqual(status, 1)
        self.assertIn("no longer valid", err)


class WithoutVerificationTests(ClientTestCase):
    """A development relay (`--email-verification off`): no code, as before."""

    @defer.inlineCallbacks
    def test_no_code_is_needed_and_an_existing_account_says_so(self) -> Any:
        self.assertFalse((yield request_email_code(reactor, self.url, BOB)))
        yield register_with_code(self, "bob", BOB, None)
        with self.assertRaises(AccountExists):
            yield register_with_code(self, "bob-2", BOB, None)


def register_with_code(case: ClientTestCase, name: str, email: str,
                       code: str | None) -> defer.Deferred[Any]:
    """The core's register with a mailed code (or None), tracked by the test case."""
    def track(result: Any) -> Any:
        case._track(result[0])
        case.phrases[email] = result[1]
        return result

    return SecureChatClient.register(reactor, case.device_dir(name), case.url, email, PASSWORD,
                                     name, FAST, email_code=code).addCallback(track)
