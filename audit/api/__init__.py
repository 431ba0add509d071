"""The Waves API seam: the only package that speaks HTTP or knows the vendor's JSON.

Owns, one concern a module:
- `client.WavesClient`: the typed methods for the endpoints clone-audit uses, and their paths;
- `transport`: sending a call (attempts, the deadline, the body's cap, the key in one header);
- `limiter`: the account's concurrency limit, found while working;
- `body`: decoding an answer's body (gzip, deflate) within a byte cap, and the `Answer`;
- `failures`: answers → `audit.core.errors` exceptions, and the retry rule (`Backoff`);
- `analytics`: the TTS analytics log's paging protocol, a pure pager fed page JSON;
- `atoms`: the Atoms (voice agents) endpoints, `atomswire`: their JSON read into typed values;
- `wire`: the vendor's field names, parsed into and written from `audit.core` types.
The contract it is built to is docs/api-contract.md.

May import: `audit.core`. Imported by: the stages (`scan`, `migrate`) and `pipeline`.
"""
