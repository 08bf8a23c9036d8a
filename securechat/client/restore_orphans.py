"""Devices a killed restore left enrolled on the relay, withdrawn at the next restore.

A restore signs in as a new device of the account (client.restore) before it writes
the account's data; if the process then dies (killed, a power cut), the relay keeps a
device nobody holds: listed among the account's devices, sent every message, counted
against the account's device limit. A restore that merely fails withdraws its device
at once; one that dies cannot. So:

1. just before the relay is asked to enroll it, the device's id is written into the
   staging directory (`record`), synced, so that no enrolled device goes unrecorded;
2. a restore that finishes moves the record into the account's directory with the
   rest, renames that into place, then deletes it: a record left in a staging
   directory is always a device no account directory holds;
3. the next restore into the same data directory, clearing the staging directories of
   dead restores, keeps their records as pending withdrawals
   (`data_dir/.withdraw-<device id>.json`, `collect`); once it has the password of an
   account with pending withdrawals (the backup's), it removes those devices with it
   before enrolling its own (`withdraw`): a password (SCRAM) session may remove any
   device of its account. Records of other accounts wait for their own restore.

Removing a device the relay does not know (the process died before the relay enrolled
it) counts as done. Other failures (the relay unreachable) leave the record for the
restore after.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
from typing import Any

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer, threads
from twisted.logger import Logger

from securechat.client.endpoint import RelayEndpoint
from securechat.client.model import KdfCost
from securechat.client.scram_pinning import Floor
from securechat.client.secrets import write_private
from securechat.client.wamp import Password
from securechat.protocol import uris
from securechat.protocol.keys import user_id_for_email

RECORD = "enrolling.json"  # in a staging directory, or in the account directory built there
PENDING = ".withdraw-{device_id}.json"  # in the data directory
log = Logger()


def record(staging: str, email: str, device_id: str) -> None:
    """Before the relay enrolls `device_id` for the restore building `staging`.
    Blocking (a small synced write): it must be on disk before the enroll call."""
    write_private(os.path.join(staging, RECORD), json.dumps(
        {"email": email, "user_id": user_id_for_email(email), "device_id": device_id}).encode())


def move_into_account(staging: str, user_id: str) -> None:
    """The restore is about to rename the account into place: its record goes inside."""
    with contextlib.suppress(FileNotFoundError):
        os.rename(os.path.join(staging, RECORD), os.path.join(staging, user_id, RECORD))


def forget_in_account(account_dir: str) -> None:
    """The account is in place: its device is the account's now, not an orphan."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(account_dir, RECORD))


def forget(staging: str) -> None:
    """The restore withdrew its own device itself."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(staging, RECORD))


def collect(staging: str, data_dir: str) -> None:
    """A staging directory about to be removed (a dead restore's, or a failed one's that
    could not withdraw its device): its record, if any, becomes a pending withdrawal."""
    for path in [os.path.join(staging, RECORD), *glob.glob(os.path.join(staging, "*", RECORD))]:
        try:
            with open(path, "rb") as f:
                entry = json.loads(f.read())
            device_id = str(entry["device_id"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # none, or cut short before the enroll call (never sent)
        if device_id.isalnum():
            write_private(os.path.join(data_dir, PENDING.format(device_id=device_id)),
                          json.dumps(entry).encode())


def pending(data_dir: str, user_id: str) -> list[tuple[str, str]]:
    """(device id, record path) of the withdrawals pending for that account."""
    found = []
    for path in glob.glob(os.path.join(data_dir, PENDING.format(device_id="*"))):
        try:
            with open(path, "rb") as f:
                entry = json.loads(f.read())
        except (OSError, ValueError):
            continue
        if isinstance(entry, dict) and entry.get("user_id") == user_id:
            found.append((str(entry.get("device_id")), path))
    return found


@defer.inlineCallbacks
def withdraw(relay: RelayEndpoint, data_dir: str, email: str, password: str,
             floor: KdfCost) -> Any:
    """Remove from the relay the devices dead restores of this account left; fires with
    the ids removed (or already unknown there). Never fails: what could not be removed
    stays pending."""
    user_id = user_id_for_email(email)
    left = yield threads.deferToThread(pending, data_dir, user_id)
    done = []
    for device_id, path in left:
        credentials = Password(user_id, password, Floor(floor.iterations, floor.memory_kib))
        try:
            yield relay.call_once(credentials, {}, uris.DEVICE_REMOVE, device_id)
        except ApplicationError as e:
            if e.error != uris.ERR_NO_SUCH_DEVICE:
                log.warn("could not withdraw a device a killed restore left ({error}): "
                         "the next restore tries again", error=e.error)
                continue
        except Exception as e:  # unreachable, refused password...: the next one tries
            log.warn("could not withdraw a device a killed restore left ({error}): the "
                     "next restore tries again", error=type(e).__name__)
            continue
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
        done.append(device_id)
    return done
