"""Does the new clone sound like the person? Speech detection, speaker similarity, the verdict.

Owns judging audio as a voice rather than as a signal: `vad` says whether and how long someone
speaks (Silero VAD; noise, hum, tones and music are no speech) with `silero`, the Silero VAD
network in numpy (weights shipped in `weights/`), `speaker` embeds who speaks
(Resemblyzer's GE2E encoder in numpy, weights shipped in `weights/`) and compares two clips by
cosine similarity, `channel` measures what the way to us did to a clip (its level both ways,
its clipping, whether it is narrowband by rate or content), `verdict` turns a similarity into
`match`, `mismatch` or `unchecked` against its band's calibrated thresholds with a reason
(pure), and `check` is the one call a stage makes with two decoded clips or two files' bytes.

May import: audit.core only. Nothing is fetched from the network at run time.
"""
