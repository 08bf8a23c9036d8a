"""The desktop client's device approval: the new device's onboarding page and the
existing device's dialog, against a real relay."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest
from twisted.internet import defer

from securechat.client import events as ev
from securechat.client.model import KdfCost
from securechat.ui.windows.linking import ApprovalDialog
from tests.test_ui import PASSWORD, UITestCase, screenshot, until


class DeviceApprovalUITests(UITestCase):
    @defer.inlineCallbacks
    def new_device_asks(self) -> Any:
        """Alice's laptop is signed in; on the phone's welcome screen she signs in by
        approval: (laptop, the phone's window, its link page, the laptop's request)."""
        laptop = yield self.register("alice-laptop", "alice@example.org", PASSWORD, KdfCost())
        yield self.online(laptop)
        win = self.shell("alice-phone")
        page = win.onboarding
        QTest.mouseClick(page.login_button, Qt.MouseButton.LeftButton)
        QTest.keyClicks(page.login_email, "alice@example.org")
        QTest.keyClicks(page.login_password, PASSWORD)
        QTest.mouseClick(page.approve_button, Qt.MouseButton.LeftButton)
        link_page = page.link_page
        self.assertIs(page.stack.currentWidget(), link_page)
        mark = self.log(laptop).mark()
        QTest.mouseClick(link_page.start_button, Qt.MouseButton.LeftButton)
        request = yield self.log(laptop).wait_for(ev.DeviceApprovalRequested, since=mark)
        return laptop, win, link_page, request

    @defer.inlineCallbacks
    def test_sign_in_by_approval_on_the_other_device(self) -> Any:
        laptop, win, link_page, request = yield self.new_device_asks()
        # The laptop's user opens the notice and compares the codes.
        dialog = ApprovalDialog(laptop, request.device_id)
        self.addCleanup(dialog.close)
        dialog.show()
        QTest.mouseClick(dialog.compare_button, Qt.MouseButton.LeftButton)
        yield until(lambda: dialog.code.isVisible() and link_page.code.isVisible(),
                    dialog.code.changed, link_page.code.changed)
        self.assertEqual(dialog.code.decimals.text(), link_page.code.decimals.text())
        self.assertEqual(dialog.code.emoji.text(), link_page.code.emoji.text())
        self.assertEqual(dialog.code.decimals.textFormat(), Qt.TextFormat.PlainText)
        self.assertTrue(link_page.confirm_button.isVisible())
        screenshot(win, "22-link-new-device")
        screenshot(dialog, "23-link-approve-dialog")
        QTest.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
        phone = yield self.signed_in(
            win, lambda: QTest.mouseClick(link_page.confirm_button, Qt.MouseButton.LeftButton))
        self.assertIs(win.stack.currentWidget(), win.main)
        self.assertEqual(phone.me.user_id, laptop.me.user_id)
        yield self.log(laptop).wait_for(ev.DeviceApprovalFinished, lambda e: e.approved)
        self.assertIn("Approved", dialog.status.text())

    @defer.inlineCallbacks
    def test_it_does_not_match_removes_the_new_device(self) -> Any:
        laptop, win, link_page, request = yield self.new_device_asks()
        dialog = ApprovalDialog(laptop, request.device_id)
        self.addCleanup(dialog.close)
        QTest.mouseClick(dialog.compare_button, Qt.MouseButton.LeftButton)
        yield until(lambda: link_page.code.isVisible(), link_page.code.changed)
        failed = until(lambda: "did not match" in link_page.status.text(), link_page.failed)
        QTest.mouseClick(dialog.mismatch_button, Qt.MouseButton.LeftButton)
        yield failed
        self.assertIn("did not match", dialog.status.text())
        self.assertTrue(link_page.start_button.isEnabled())  # may try again
        self.assertIs(win.stack.currentWidget(), win.onboarding)
