"""The foundation every other package stands on.

Owns the vocabulary (`models`: frozen dataclasses and enums, parsing of the API's loose
JSON), the exception tree and exit codes (`errors`), settings (`config`), the v3.1
language list (`languages`), audio decoding and measurement (`audio`), and the layout of
a run folder with its atomic writes (`runfolder`), the advisory locks (`locks`), and the
marker, sealed with the user's key, that makes a folder one of the tool's own run folders
(`runmarker`).

May import: the standard library and third-party libraries only; nothing else of
`audit`. Every other package may import it.
"""
