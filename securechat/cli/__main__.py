"""`python -m securechat.cli`: the same as the securechat-cli command."""

from securechat.cli import main

main()
