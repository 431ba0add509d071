"""The foundation every other package stands on.

Owns the vocabulary (`models`: frozen dataclasses and enums; the API's JSON is read into
it by `audit.api.wire`; `choices`: the enums and defaults the argument parser offers, in a
module that imports nothing else, so `--help` loads fast), the exception tree and exit codes (`errors`), settings (`config`:
the dataclasses and their allowed values; `loading`: from the TOML file, the environment
and flags, validated), the API key (`apikey`: read from the environment, sent only over a
safe link) and secrets (`secrets`: the `Secret` type, the registry, scrubbing, the
scrubbing SQLite connection), the v3.1 language list (`languages`), the voice pools
(`pools`: a clone's pool from its `modelIds` and the TTS model it speaks on), audio decoding and
measurement (`audio`), the layout of a run folder with its atomic writes (`runfolder`), the
advisory locks (`locks`), and the marker, sealed with the user's key, that makes a folder
one of the tool's own run folders
(`runmarker`), which calls of the TTS analytics log are the tool's own probes (`owncalls`),
and blocking work awaited off the event loop on one thread of its own (`offloop`).

May import: the standard library and third-party libraries only; nothing else of
`audit`. Every other package may import it.
"""
