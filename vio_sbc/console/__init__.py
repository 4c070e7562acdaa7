"""The web console of `vio-sbc run` (docs/console.md): Numbers, Call logs, Live.

auth.py (the token: bearer or cookie), yamledit.py (a number edited where it is
defined, comments kept), pages.py and layout.py (server-rendered HTML), media.py
(the recording with HTTP Range), app.py (routes, over a narrow `ConsoleHost`).
Served by the operator HTTP endpoint (vio_sbc/ops/http.py) when `http.console` is set.
"""
