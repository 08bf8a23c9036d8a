"""Voice and video calls: WebRTC (aiortc) with media only through TURN, signaling
end-to-end encrypted inside Olm frames.

    model    states, outcomes, events and errors (what the UI, CLI and bots see)
    turn     TURN credentials from the relay, and the relay-only RTCConfiguration
    media    one RTCPeerConnection: tracks, offer/answer, relay checks (asyncio)
    call     one call's lifecycle: an Automat state machine
    service  `Calls` (`client.calls`): the frames in and out, the call log

aiortc runs on asyncio: calls need Twisted's asyncio reactor (the desktop app's qasync
loop, the CLI's call commands, the call tests).
"""
