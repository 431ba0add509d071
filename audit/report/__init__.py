"""Reports: turning verdicts into tables (pandas), HTML (Jinja2), CSV and JSON.

`tables` and `html` are pure (data in, `str` out); `files` is the one trivial step
that writes those strings to disk.
"""
