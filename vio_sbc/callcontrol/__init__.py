"""Call control: the pure decisions of the softswitch, free of pjsua2 and sockets.

`dialog` holds the in-dialog trust table (who may act inside a call, what a REFER or
an INVITE with Replaces gets); `limits` the message limits and their answers. The
SIP adapter (`vio_sbc/sip/`) feeds them plain facts and acts on their verdicts.
"""
