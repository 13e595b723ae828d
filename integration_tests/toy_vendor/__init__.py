"""A minimal fourth vendor that lives in the test suite, never in the wheel: the proof that a
vendor is one connector module and one emulator module, plugged in without a shared edit.

- :mod:`.connector`: ``Toy``, a ``source_usage`` vendor with one incremental stream, for
  ``SourceUsage(vendors=[*all_vendors(), Toy()])``;
- :mod:`.emulator`: ``ToyEmulator``, its API, for ``Emulator(extra_vendors=[ToyEmulator])``.

The API: ``GET /toy/v1/usage?day=YYYY-MM-DD`` (a finished UTC day) with a Bearer token answers
``{"items": [{"team": ..., "count": ...}, ...]}``, one item per team, in one page.
"""
