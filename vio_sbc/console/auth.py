"""Who may use the console: whoever shows the operator's token (pure).

The token (`http.console.token`, a secret: `${ENV}` or a 0600 file) is sent as
`Authorization: Bearer TOKEN` (scripts, curl) or, after the login page, as a cookie.
The cookie holds an HMAC of the token, not the token; it is HttpOnly and
SameSite=Strict (a page of another site cannot make the browser send it, so a form
posted from elsewhere carries no credentials). Every comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie

COOKIE = "vio_console"


class Auth:
    def __init__(self, token: str) -> None:
        self._token = token.encode()
        self._cookie = hmac.new(self._token, b"vio-console-cookie", hashlib.sha256).hexdigest()

    def token_ok(self, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self._token)

    def allowed(self, headers: Mapping[str, str]) -> bool:
        """A bearer token or the login cookie in the request's headers."""
        bearer = headers.get("Authorization", "")
        if bearer.startswith("Bearer ") and self.token_ok(bearer[7:].strip()):
            return True
        try:
            jar = SimpleCookie(headers.get("Cookie", ""))
        except CookieError:
            return False
        morsel = jar.get(COOKIE)
        return morsel is not None and hmac.compare_digest(morsel.value, self._cookie)

    def set_cookie(self, secure: bool = False) -> str:
        """The Set-Cookie header value after a good login."""
        flags = "; Secure" if secure else ""
        return f"{COOKIE}={self._cookie}; Path=/; HttpOnly; SameSite=Strict{flags}"

    @staticmethod
    def clear_cookie() -> str:
        return f"{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
