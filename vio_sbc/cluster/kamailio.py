"""The Kamailio front's configuration, generated from the vio-sbc YAML. Pure.

`kamailio_files(cfg, where)` returns the files `vio-sbc cluster kamailio-cfg` writes:
`kamailio.cfg` (the routing script) and `dispatcher.list` (the workers). The trunks,
their ACLs (the `twilio` preset included) and the limits come from the same `Config`
the workers run, so there is one source of truth. What the script does, in order
(docs/cluster.md explains each block):

1. `SOURCE`: a request from a worker's address is the cluster's own (outbound); from
   a trunk's address (`inbound.allow`, its outbound host and registrar as IP literals)
   it is that trunk's; anyone else is a stranger and gets what a worker would answer
   (`sip.stranger_response`: 403 to everything but ACK, or nothing at all).
2. In-dialog requests follow their Record-Route (`loose_route`).
3. Inbound INVITE: cluster-wide `sip.max_cps` (pipelimit) and `sip.max_calls`
   (a dialog profile) → 503 + Retry-After; the source headers are replaced by the
   front's own (`X-Vio-Source`: the INVITE's source address, `X-Vio-Trunk`: its
   trunk), which a worker believes only from the front's address; a worker is chosen by
   the dispatcher (round robin over the workers answering OPTIONS); a worker answering
   503 or nothing within `FR_TIMER_MS` is skipped and the INVITE sent to the next.
4. Outbound (from a worker): only to a trunk's outbound host, within the trunk's
   `outbound.max_calls` (dialog profile) and `outbound.cps` (pipelimit), record-routed
   so the carrier sees the front's address for the whole dialog.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from vio_sbc.callcontrol.dialog import trunk_networks
from vio_sbc.config.model import ClusterSettings, Config, IPNetwork, TrunkConfig

SOURCE_HEADER = "X-Vio-Source"
TRUNK_HEADER = "X-Vio-Trunk"
FR_TIMER_MS = 2000  # no provisional answer from a worker within this: try the next
FR_INV_TIMER_MS = 120000
MODULES = ("tm", "sl", "rr", "pv", "maxfwd", "textops", "siputils", "xlog", "sanity",
           "dispatcher", "dialog", "pipelimit", "ctl", "kex", "corex")
DEFAULT_MPATH = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"


@dataclass(frozen=True, slots=True)
class Where:
    """Paths the script names (the directory the files are written to)."""

    dir: str
    mpath: str = DEFAULT_MPATH


def cluster_of(cfg: Config) -> ClusterSettings:
    return cfg.cluster if cfg.cluster is not None else ClusterSettings()


def worker_addresses(cfg: Config) -> list[str]:
    cl = cluster_of(cfg)
    return [cl.worker_address(i) for i in range(1, cl.workers + 1)]


def _ip_test(nets: Iterable[IPNetwork]) -> str:
    """A Kamailio condition: the source is in one of `nets` (core src_ip matching)."""
    parts = []
    for net in nets:
        if net.version == 6:
            parts.append(f"src_ip==[{net.network_address}]/{net.prefixlen}")
        elif net.prefixlen == 32:
            parts.append(f"src_ip=={net.network_address}")
        else:
            parts.append(f"src_ip=={net.network_address}/{net.prefixlen}")
    return " || ".join(parts) if parts else "0"


def _pl_name(trunk: str) -> str:
    return "out_" + "".join(c if c.isalnum() else "_" for c in trunk)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def trunk_route(trunks: Iterable[TrunkConfig]) -> list[str]:
    """route[TRUNK_OF_SOURCE]: the source's trunk into $var(trunk) (first match wins, in
    config order, as the workers' routing does)."""
    out = ["route[TRUNK_OF_SOURCE] {", '    $var(trunk) = "";']
    for t in trunks:
        nets = trunk_networks(t)
        if not nets:
            continue
        preset = f"  # {t.name}: inbound.allow incl. the {t.inbound.allow_preset} preset" \
            if t.inbound.allow_preset else f"  # {t.name}"
        out += [f"    if ({_ip_test(nets)}) {{{preset}",
                f"        $var(trunk) = {_quote(t.name)};", "        return;", "    }"]
    out.append("}")
    return out


def outbound_route(trunks: Iterable[TrunkConfig]) -> list[str]:
    """route[TRUNK_OF_RURI]: a worker's INVITE goes to a trunk's outbound host, or nowhere;
    that trunk's max_calls and cps hold for the cluster."""
    out = ["route[TRUNK_OF_RURI] {", '    $var(trunk) = "";']
    for t in trunks:
        ob = t.outbound
        if ob is None:
            continue
        host = ob.host.strip("[]")
        out += [f"    if ($rd == {_quote(host)}) {{",
                f"        $var(trunk) = {_quote(t.name)};",
                f"        $var(pipe) = {_quote(_pl_name(t.name))};",
                f"        $var(max_calls) = {ob.max_calls};",
                f"        $var(cps) = {_pl_cps(ob.cps)};", "        return;", "    }"]
    out.append("}")
    return out


def _pl_cps(cps: float) -> int:
    """pipelimit counts whole requests per timer interval (1 s); a pipe is made by its
    first pl_check(name, algorithm, limit)."""
    return max(1, int(cps))


def dispatcher_list(cfg: Config) -> str:
    port = cfg.sip.listen.port
    rows = [f"1 sip:{ip}:{port} 0 0 name=w{i}"
            for i, ip in enumerate(worker_addresses(cfg), start=1)]
    return "# set uri flags priority attrs (generated by vio-sbc cluster kamailio-cfg)\n" + \
        "\n".join(rows) + "\n"


def _listen(cfg: Config) -> list[str]:
    front = cluster_of(cfg).front
    host = f"[{front.host}]" if ":" in front.host else front.host
    return [f"listen={proto}:{host}:{front.port}" for proto in ("udp", "tcp")
            if proto in cfg.sip.transports]


def _stranger(cfg: Config) -> list[str]:
    if cfg.sip.stranger_response == "drop":
        return ["route[STRANGER] {", "    drop;", "}"]
    return ["route[STRANGER] {", '    if (is_method("ACK")) { exit; }',
            '    sl_send_reply("403", "Forbidden");', "    exit;", "}"]


def kamailio_cfg(cfg: Config, where: Where, source: str = "") -> str:
    cl = cluster_of(cfg)
    workers = worker_addresses(cfg)
    front = cl.front
    worker_test = _ip_test(ipaddress.ip_network(w) for w in workers)
    lines = [
        "#!KAMAILIO",
        f"# generated by `vio-sbc cluster kamailio-cfg` from {source or 'the config'}:",
        "# do not edit, regenerate (docs/cluster.md)",
        "",
        "debug=1", "log_stderror=yes", "fork=yes", f"children={cl.children}",
        "tcp_children=2", "auto_aliases=no", "server_signature=no", "sip_warning=0",
        'server_header="Server: vio-sbc"', 'user_agent_header="User-Agent: vio-sbc"',
        *_listen(cfg),
        f'alias="{front.host}:{front.port}"',
        "",
        f'mpath="{where.mpath}"',
        *(f'loadmodule "{m}.so"' for m in MODULES),
        "",
        f'modparam("ctl", "binrpc", "unix:{where.dir}/kamailio_ctl")',
        'modparam("tm", "failure_reply_mode", 3)',
        f'modparam("tm", "fr_timer", {FR_TIMER_MS})',
        f'modparam("tm", "fr_inv_timer", {FR_INV_TIMER_MS})',
        'modparam("rr", "enable_full_lr", 1)',
        'modparam("rr", "append_fromtag", 1)',
        f'modparam("dispatcher", "list_file", "{where.dir}/dispatcher.list")',
        'modparam("dispatcher", "flags", 2)',
        'modparam("dispatcher", "xavp_dst", "_dsdst_")',
        f'modparam("dispatcher", "ds_ping_interval", {cl.probe_interval_s})',
        'modparam("dispatcher", "ds_probing_mode", 1)',
        'modparam("dispatcher", "ds_probing_threshold", 1)',
        'modparam("dispatcher", "ds_inactive_threshold", 1)',
        'modparam("dispatcher", "ds_ping_reply_codes", "class=2")',
        f'modparam("dispatcher", "ds_ping_from", "sip:front@{front.host}:{front.port}")',
        'modparam("dialog", "profiles_no_value", "inbound")',
        'modparam("dialog", "profiles_with_value", "outbound")',
        'modparam("pipelimit", "timer_interval", 1)',
        "",
        "request_route {",
        '    if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); '
        "exit; }",
        '    if (!sanity_check("17895", "7")) { exit; }',
        "    route(SOURCE);",
        '    if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }',
        "    if (has_totag()) { route(WITHINDLG); exit; }",
        "    t_check_trans();",
        "    remove_hf(\"Route\");  # a worker's preloaded route to us",
        "    if ($var(from_worker) == 1) { route(OUTBOUND); exit; }",
        '    if (is_method("OPTIONS") && uri == myself) { sl_send_reply("200", "OK"); exit; }',
        '    if (!is_method("INVITE")) { sl_send_reply("405", "Method Not Allowed"); exit; }',
        "    route(INBOUND);",
        "}",
        "",
        "route[SOURCE] {",
        "    $var(from_worker) = 0;",
        f"    if ({worker_test}) {{ $var(from_worker) = 1; return; }}",
        "    route(TRUNK_OF_SOURCE);",
        '    if ($var(trunk) == "") { route(STRANGER); }',
        "}",
        "",
        *trunk_route(cfg.trunks.values()),
        "",
        *outbound_route(cfg.trunks.values()),
        "",
        *_stranger(cfg),
        "",
        "route[WITHINDLG] {",
        "    if (loose_route()) {",
        '        if (is_method("ACK") && !t_check_trans()) { forward(); exit; }',
        "        t_relay();",
        "        exit;",
        "    }",
        '    if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }',
        '    sl_send_reply("404", "Not Here");',
        "    exit;",
        "}",
        "",
        "route[INBOUND] {",
        *_inbound_limits(cfg),
        '    dlg_manage();',
        '    set_dlg_profile("inbound");',
        f'    remove_hf("{SOURCE_HEADER}");',
        f'    remove_hf("{TRUNK_HEADER}");',
        f'    append_hf("{SOURCE_HEADER}: $si\\r\\n");',
        f'    append_hf("{TRUNK_HEADER}: $var(trunk)\\r\\n");',
        "    record_route();",
        '    if (!ds_select_dst("1", "4")) {',
        '        append_to_reply("Retry-After: 5\\r\\n");',
        '        sl_send_reply("503", "Service Unavailable");',
        "        exit;",
        "    }",
        '    t_on_failure("WORKER_FAILED");',
        "    t_relay();",
        "    exit;",
        "}",
        "",
        "failure_route[WORKER_FAILED] {",
        "    if (t_is_canceled()) { exit; }",
        '    if (t_check_status("503") || (t_branch_timeout() && !t_branch_replied())) {',
        '        if (t_branch_timeout()) { ds_mark_dst("ip"); }',
        "        if (ds_next_dst()) {",
        '            t_on_failure("WORKER_FAILED");',
        "            t_relay();",
        "            exit;",
        "        }",
        "    }",
        "}",
        "",
        "route[OUTBOUND] {",
        '    if (is_method("OPTIONS") && uri == myself) { sl_send_reply("200", "OK"); exit; }',
        "    route(TRUNK_OF_RURI);",
        '    if ($var(trunk) == "") { sl_send_reply("403", "Not A Trunk"); exit; }',
        '    if (is_method("INVITE")) {',
        '        if (!pl_check("$var(pipe)", "TAILDROP", "$var(cps)")) {',
        '            append_to_reply("Retry-After: 1\\r\\n");',
        '            sl_send_reply("503", "Trunk Over CPS");',
        "            exit;",
        "        }",
        '        get_profile_size("outbound", "$var(trunk)", "$var(live)");',
        "        if ($var(live) >= $var(max_calls)) {",
        '            append_to_reply("Retry-After: 5\\r\\n");',
        '            sl_send_reply("503", "Trunk At Max Calls");',
        "            exit;",
        "        }",
        "        dlg_manage();",
        '        set_dlg_profile("outbound", "$var(trunk)");',
        "        record_route();",
        "    }",
        "    t_relay();",
        "    exit;",
        "}",
        "",
    ]
    return "\n".join(lines)


def _inbound_limits(cfg: Config) -> list[str]:
    out = []
    if cfg.sip.max_cps > 0:
        out += [f'    if (!pl_check("inbound", "TAILDROP", "{_pl_cps(cfg.sip.max_cps)}")) {{',
                '        append_to_reply("Retry-After: 1\\r\\n");',
                '        sl_send_reply("503", "Service Unavailable");', "        exit;", "    }"]
    out += ['    get_profile_size("inbound", "$var(live)");',
            f"    if ($var(live) >= {cfg.sip.max_calls}) {{",
            '        append_to_reply("Retry-After: 5\\r\\n");',
            '        sl_send_reply("503", "Service Unavailable");', "        exit;", "    }"]
    return out


def kamailio_files(cfg: Config, where: Where, source: str = "") -> dict[str, str]:
    """File name -> text, for `where.dir`."""
    return {"kamailio.cfg": kamailio_cfg(cfg, where, source),
            "dispatcher.list": dispatcher_list(cfg)}
