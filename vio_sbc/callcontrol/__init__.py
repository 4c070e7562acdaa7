"""Call control: the pure decisions of the softswitch, free of pjsua2 and sockets.

`inbound` decides an INVITE (`decide_inbound` -> Accept | Refuse), `outbound` admits an
outbound call (`plan_outbound`) and holds its request/result contract, `outcome` says
how a call ended, `capacity` whether any call may start; `dialog` holds the in-dialog
trust table (who may act inside a call, what a REFER or an INVITE with Replaces gets);
`routing`, `callstate`, `admission` and `transfer` are the rules they use. The SIP
adapter (`vio_sbc/sip/`) feeds them plain facts and acts on their verdicts.
"""
