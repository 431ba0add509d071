"""The scan stage: classify each clone by its metadata and judge it by its audio.

Owns the verdict rules (`rules`: pure, no I/O) and the TTS probe with the judgement of
its answer (`probe`).

May import: `audit.core`, `audit.api`. Never `archive`, `migrate`, `report` or `pipeline`.
"""
