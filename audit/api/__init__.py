"""The Waves API seam: the only package that speaks HTTP.

Owns `client.WavesClient`: typed methods for the endpoints clone-audit uses, the
account's concurrency limit, timeouts, retries, and the translation of transport and
HTTP errors into `audit.core.errors`. The contract it is built to is docs/api-contract.md.

May import: `audit.core`. Imported by: the stages (`scan`, `migrate`) and `pipeline`.
"""
