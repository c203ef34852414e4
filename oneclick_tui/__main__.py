"""`python -m oneclick_tui` is the same as `oneclick`."""

from oneclick_tui.cli import main

main()
