"""The API key: read from the environment only, and sent only where it cannot be overheard.

`api_key_from_env` reads `SMALLEST_API_KEY` (never a config file, never a flag) into a
`Secret`, refusing an empty key or one with characters no key has; `check_key_transport`
refuses to send it in clear text (plain http://) to a host off this machine unless
`[api] allow_insecure_http` says so.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from audit.core.config import ApiSettings
from audit.core.errors import ConfigError
from audit.core.secrets import Secret

ENV_API_KEY = "SMALLEST_API_KEY"


def api_key_from_env(env: Mapping[str, str] | None = None) -> Secret:
    env = os.environ if env is None else env
    value = env.get(ENV_API_KEY, "").strip()
    if not value:
        raise ConfigError(
            f"{ENV_API_KEY} is not set.",
            hint=f"export {ENV_API_KEY}=sk_… (the organisation's API key), "
            "or run `clone-audit demo` to try the tool on the built-in emulator.",
        )
    if not all("!" <= ch <= "~" for ch in value):
        raise ConfigError(
            f"{ENV_API_KEY} holds characters no key has (a space, a line break or non-ASCII).",
            hint="Copy the key again from the dashboard; it looks like sk_ followed by letters and digits.",
        )
    return Secret(value)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: traffic that never leaves the machine."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_key_transport(api: ApiSettings) -> None:
    """Refuse to send the key in clear text (plain http://) to a host off this machine."""
    parts = urlsplit(api.base_url)
    if parts.scheme != "http" or api.allow_insecure_http or is_loopback(parts.hostname or ""):
        return
    raise ConfigError(
        f"[api] base_url = {api.base_url!r} is plain http:// to a host that is not this machine: "
        "the API key would cross the network unencrypted.",
        hint="Use https://. If the link is protected some other way (a VPN, a tunnel), pass "
        "--allow-insecure-http or set [api] allow_insecure_http = true.",
    )
