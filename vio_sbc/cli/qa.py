"""QA subcommands of `vio-sbc`: make-pcap (WAV -> RTP pcap for SIPp) and qa (run the
SIPp suite against a server). Registered in cli.py by `register(sub)`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_FAIL = 1
EXIT_USAGE = 2


def cmd_make_pcap(args: argparse.Namespace) -> int:
    from vio_sbc.rtp.packet import PacketError
    from vio_sbc.rtp.pcap import load_wav, write_rtp_pcap

    try:
        pcm, rate = load_wav(args.input)
    except OSError as exc:
        print(f"{args.input}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except PacketError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    n = write_rtp_pcap(pcm, rate, args.codec, args.output, payload_type=args.payload_type)
    print(f"{args.output}: {n} RTP packets, {n * 20 / 1000:.2f} s of {args.codec.upper()} "
          f"(from {rate} Hz, {len(pcm)} samples)")
    return 0


def cmd_qa(args: argparse.Namespace) -> int:
    from vio_sbc.qa.runner import main as qa_main

    return qa_main(args)


def register(sub: Any) -> None:
    m = sub.add_parser("make-pcap", help="turn a WAV into an RTP pcap for SIPp's play_pcap_audio",
                       description="Read a PCM WAV (8/16-bit, mono or stereo, any rate), "
                       "resample to 8 kHz, encode G.711 and write 20 ms RTP packets as a pcap "
                       "(Ethernet/IPv4/UDP) that SIPp's play_pcap_audio replays.")
    m.add_argument("input", metavar="IN.wav")
    m.add_argument("output", metavar="OUT.pcap")
    m.add_argument("--codec", choices=["pcmu", "pcma"], default="pcmu",
                   help="G.711 law (payload type 0 or 8)")
    m.add_argument("--payload-type", type=int, default=None,
                   help="RTP payload type to write instead of the codec's static one")
    m.set_defaults(func=cmd_make_pcap)

    q = sub.add_parser("qa", help="run the SIPp scenario suite against a server",
                       description="Run SIPp scenarios from sipp_scenarios/ against the server "
                       "at the config's SIP address (started from the config for the run when "
                       "nothing answers OPTIONS there). Prints a pass/fail table with SIPp's "
                       "statistics; exit 1 if any scenario fails.")
    q.add_argument("-c", "--config", default="config/vio.yaml", help="config file")
    q.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                   help="scenario names (default: the whole inbound suite); --list shows them")
    q.add_argument("--list", action="store_true", help="list the scenarios and exit")
    q.add_argument("--scenario-dir", default=None, help="folder of scenario XML files")
    q.add_argument("-j", "--jobs", type=int, default=4,
                   help="scenarios run at the same time (default 4)")
    q.add_argument("--keep", default=None, metavar="DIR",
                   help="keep SIPp's logs and statistics under DIR")
    q.set_defaults(func=cmd_qa)
