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
        <source>Your name (shown to contacts)</source>
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
</context>
</TS>
