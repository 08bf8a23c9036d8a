<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1">
<context>
    <name>securechat</name>
    <message>
        <source>SecureChat</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Welcome to SecureChat</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>End-to-end encrypted messages. Your keys never leave your devices.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Create an account</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Sign in on this device</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Back</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Email</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Display name (your contacts see it)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Master password</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Repeat the master password</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The passwords do not match.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Enter a valid email address.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Use at least 10 characters.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Strength: too short</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Strength: weak</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Strength: fair</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Strength: good</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Strength: strong</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Create account</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Sign in</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Working… (deriving keys takes a moment)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Your recovery phrase</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Write these words down and keep them safe. They are your master key; this is the only time they are shown.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>To confirm, type word number {n}:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>That is not word number {n}. Check what you wrote down.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>I have written it down</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Recovery phrase</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The 12 words shown once when you created the account. With your master password they let this device open your account.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>twelve words separated by spaces</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Forgot password?</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Set a new master password</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Your recovery phrase lets you choose a new master password. The old one stops working for signing in; if this account is on this device, it opens with the new one.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>New master password</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Repeat the new password</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Set new password</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Done: your master password is the new one.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Done on the server, but this device's copy of the account could not be re-sealed: remove it here and sign in again.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Check your mail</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>We sent a code to {email}. Enter it here to prove the address is yours. It is valid for 15 minutes.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Code from the mail</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Verify and create account</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Send a new code</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>A new code is on its way.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Enter the code from the mail.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Sending a code to your email…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Unlock SecureChat</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Account</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Unlock</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Add account…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No account on this device yet.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Unlocking…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Closing the account…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>PIN</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Use the master password instead</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Set &amp;PIN…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Remove PIN</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Unlock with a PIN</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>A PIN unlocks this account on this device instead of the master password. Five wrong PINs erase it. It is bound to this computer's system keychain: a copy of this computer's files alone is no help in guessing it.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>A PIN unlocks this account on this device instead of the master password. Five wrong PINs erase it. Without a system keychain, someone who copies this computer's files can guess a PIN offline, and with it read this device's messages (not take over your account): use a long PIN or the master password.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>PIN (6 to 12 digits)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Repeat the PIN</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The PINs do not match.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>PIN set: use it on the lock screen.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>PIN removed: the master password unlocks this account.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Change master pass&amp;word…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Change the master password</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The new password signs you in on new devices and opens this account here. Your other devices keep opening with their own password until you change it there too; your PIN stays as it is.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Current master password</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Master password changed.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Search</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Add a contact by email</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Add</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Friend request sent to {email}.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Friend requests</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>name chosen by them</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This person's key changed since they asked — make sure it's really them.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>You asked {email}; their key changed since — make sure it's really them.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Accept</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Deny</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Choose a conversation</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>typing…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>typing</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>online</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>offline</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Account</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Lock</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Switch account…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Contact &amp;profile</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Find conversation</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Add contact</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Next conversation</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>P&amp;revious conversation</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No messages yet</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No conversations yet.
Add a contact by their email below; once they accept, you can chat.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>You: </source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Connecting…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Syncing…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Online</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Offline</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Offline — retrying in {seconds} s</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cannot connect: {reason}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Retry now</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Message (Enter to send, Shift+Enter for a new line)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Send</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Profile</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Reply</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Replying to: {text}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Copy text</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Delete for me</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Unsend (delete for everyone)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Today</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Yesterday</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>(original message not loaded)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This message was deleted</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>You deleted this message</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>deleted message</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{name}'s security key changed. Verify the new safety number before you continue; messages to them wait until you accept.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Accept new key</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Newest messages</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{name} signed in on a new device</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{name} removed a device</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Signed in on a new device</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Removed a device</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This message is {count} characters long; the limit is {limit}. Your text is kept: shorten it or send it in parts.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{count} / {limit}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Replying to {name}: {text}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>You</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>React</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Remove my reaction</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Edit</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Editing: {text}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>edited</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Earlier versions:
{versions}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Earlier versions…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Unsend this message?</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>It is deleted for everyone in this conversation, on all their devices and yours; both sides see that a message was deleted.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Delete this message for you?</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>It is deleted on this device only; the others keep it.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Open link</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Open this link?</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>It opens in your browser:

{url}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Copy link</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Insert an emoji</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Waiting for them to accept.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Block</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Unblock</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Mute notifications</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Unmute notifications</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Deny, and drop anything they send from now on (a new request too).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Deny this friend request?</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{email} is told that you denied the request.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Block this person?</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{email}'s request is denied, and nothing they send reaches you from now on, new requests included.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Messages</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No results</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Settings…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;About SecureChat</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Settings</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Appearance</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Theme</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Follow the system</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Light</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Dark</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Language</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The system's language</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>A new language applies the next time SecureChat starts.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Notifications</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Notifications show</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Closing the window keeps SecureChat running in the tray</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This desktop has no system tray: closing the window quits SecureChat.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Security</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>About</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>SecureChat {version}
End-to-end encrypted messages (Olm, as in Matrix). Your keys never leave your devices; the relay sees only ciphertext.
Help: docs/protocol.md and README.md in the source.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Linked &amp;devices…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Linked devices</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Every device that can read your messages. Remove any you do not recognise: it is signed out and gets nothing more.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{name} (this device)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>added {when}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>last seen {when}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>not connected yet</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>unknown</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Remove</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Remove it</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>It was me</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>A new device was added to your account: {name}, {when}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Remove a device</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Remove {name} from your account? Enter your master password to confirm.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Device {name} was removed from your account.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Loading…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Contact profile</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Safety number</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Compare these numbers with {name} in person, or scan the code. If they match, your conversation is end-to-end encrypted with the right person.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Close</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Nickname (only you see it)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Save</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>I compared the safety numbers: mark as verified</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{state} · ✓ verified</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{name}'s devices changed since you verified — compare safety numbers again.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Notes (private: only your own devices see them)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Save notes</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Shared media</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Pictures and files you exchange with {name} will be listed here once file sharing is available.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;My profile…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>My profile</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Choose picture…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Remove picture</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Pictures (*.png *.jpg *.jpeg *.gif *.bmp *.webp)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This file is not a picture that can be read.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Saved. Your contacts see it when they are next online.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>New message from {name}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Friend request</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{email} wants to chat with you.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>New message</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>You have something new</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Notifications show</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Name and message</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Name only</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No name or message</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Show SecureChat</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>SecureChat: {count} unread</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Error</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Something went wrong; details are in the log.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The relay's certificate is not trusted. Start SecureChat with --ca-file PATH (the relay's certificate or the CA that signed it).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Approve from another device</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Approve this device from another one</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Your other device must approve this one: nobody who only knows your password can add a device to your account.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Ask my other device</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Open SecureChat on your other device: it asks you to approve this one. Keep this screen open.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Check that your other device shows exactly this code:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>They match</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Waiting for your other device…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>A new device wants to join your account</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Device {device} signed in with your password and asks for your account key. If this is not you, your password is known to someone else: refuse it and change your password.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Compare codes</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>It's not me</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Confirm</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>It doesn't match</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Approved: the new device is signed in to your account.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Vault…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Vault</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Your passwords, notes and files, encrypted on this device. It locks itself after a few idle minutes and whenever SecureChat locks.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Code from your authenticator app (or a recovery code)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This account was opened with its PIN: the vault also needs the master password.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Enter the master password.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Enter the 6-digit code from your authenticator app.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Unlock the vault</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Unlock (wait {seconds} s)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Too many wrong codes: the vault takes the next one when the button comes back.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Unlocking the vault… (deriving the key takes a moment)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Lock the vault</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Reset the vault…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Delete every item in the vault and start an empty one? This cannot be undone.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The vault was reset: it is empty now.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Search by title</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The vault is empty: add a password, a note or a file.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>New password</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>New note</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Import file…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Delete</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Delete “{title}” from the vault?</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Copy password</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Export file…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Password copied: the clipboard is cleared in {seconds} s.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The clipboard was cleared.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Exported to {path}.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Imported {name}.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Saved.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Deleted.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Choose a file to keep in the vault</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Export the file to</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>password</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>note</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>file</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{title}  ·  {kind}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This item has no password to copy.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Password</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Note</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>File</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Title</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Username</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Website</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Notes</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Text</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Show</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Generate</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Length</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Symbols</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Give the item a title.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Saving…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Vault &amp;two-factor code…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Two-factor code for the vault</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Ask for a code from an authenticator app (6 digits, new every 30 s) before the vault opens. The code is checked on this device only.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The vault asks for a code from your authenticator app. Turning this off takes a code.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Set up</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Scan this QR code with your authenticator app, or type the key below into it. Then enter the code it shows.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Key</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Code</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Turn on</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Your recovery codes</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Each of these codes opens the vault once instead of a code, if you lose your authenticator. They are shown only now: write them down and keep them safe.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>I wrote them down</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Turn off</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The vault no longer asks for a code.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Enter the code your authenticator app shows.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Create &amp;backup…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Create an encrypted backup</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Everything of this account — messages, contacts, keys, the vault and its files — in one file encrypted with a passphrase. Without the passphrase nobody can read it, not even you: keep it somewhere safe.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Backup passphrase</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Repeat the passphrase</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The passphrases do not match.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Save to</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Choose…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Choose where to save the backup.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>A backup holds your recovery phrase: it takes your master password, and your vault code when the vault has one.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Create backup</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Backup saved to {path}.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Save the backup as</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>SecureChat backups (*.scbackup);;All files (*)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Checking the backup…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Signing in…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Messages and contacts…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Files…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Encrypting…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Finishing…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Restore from a backup</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Restore an account from its backup</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Choose the backup file and enter its passphrase, then the account's master password: this device becomes one of the account's devices, with everything the backup holds.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Backup file</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Choose the backup file</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Choose the backup file.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The account's master password</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Restore</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Some shared files were damaged</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The account is restored, but the backup's copy of these shared files was damaged, so they were left out:
{files}
They show with a Download button and download again while the relay keeps them.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Getting your history from your other device: {received} of {total}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Call</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Video</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Voice call</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Video call</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Incoming call</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{name} is calling you</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{name} is video calling you</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Decline</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Hang up</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Mute</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Camera</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Calling…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Ringing…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Connected</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Reconnecting…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Call ended</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Call cancelled</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No answer</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Call declined</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{name} is on another call</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Call failed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{name} is not reachable right now</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Call ended: the connection was lost</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Answered on another device</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Declined on another device</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{error} Calls are off until the device is available.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No video</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Calls</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Microphone</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Looking for devices…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Default microphone</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Default camera</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No microphone found</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No camera found</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{name} (not connected)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Outgoing voice call</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Outgoing video call</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Incoming voice call</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Incoming video call</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Missed call ({kind})</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{kind}: declined</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{kind}: {name} was busy</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{kind}: cancelled</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{kind}: {name} was not reachable</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{kind}: failed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{kind}: connection lost</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Polish</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Let the assistant on this device polish your draft (nothing is sent)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Suggest replies</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Summarize</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Summarize unread</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Stop</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Use</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Discard</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The assistant is writing…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Waiting for the assistant…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Stopped.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Put this reply in the message box (it is not sent until you send it)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Assistant settings…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Assistant</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Assistant (on this device)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The assistant runs a language model on this computer: your messages never leave it. Download the model once, or choose a .gguf file.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Model file</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No model yet</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Choose a .gguf file…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>GGUF models (*.gguf);;All files (*)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Download from</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Download</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel download</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Retry download</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>CPU threads</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>All cores</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Ready (loads when used)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Loading the model…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Loaded</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Writing…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Device unsupported</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Downloaded and verified.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>SHA-256 checksum</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>64 hex digits, as published with the model</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No SHA-256 checksum: the downloaded file cannot be checked, and a tampered or wrong file would be used as it is. Enter the checksum published with the model, or click again to download it unverified.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Download unverified</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Downloaded, NOT verified (no SHA-256 checksum).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>📎</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Send a file (or drop one here, or paste it)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Choose a file to send</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Send file</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{name} ({size})</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Save…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Save the file as</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Canceled</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Failed: {reason}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Saved to {path}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>pasted image.png</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>📎 {name} ({size})</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Keep receiving while locked (notifications show the name only)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>When this is on, locking hides your chats but keeps this account open and connected: messages still arrive, and notifications show only who wrote and how many are unread, never the text. The price: while locked, the account's keys (the key of its message database among them) stay in this computer's memory, so someone who can read this computer's memory, or who steals it while it runs, could reach your messages. When it is off, locking closes the account and takes its keys out of memory, and nothing arrives until you unlock.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>SecureChat is locked</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{email} is still receiving. Enter your PIN (if you set one) or the master password to unlock.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{count} unread</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>PIN or master password</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Close the account (stop receiving)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{count} unread (SecureChat is locked)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Show the password</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Hide the password</source>
        <translation type="unfinished"></translation>
    </message>
</context>
</TS>
