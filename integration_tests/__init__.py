"""End-to-end tests: the installed ``source-usage`` command against the API emulator."""
