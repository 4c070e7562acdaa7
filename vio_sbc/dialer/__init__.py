"""The outbound dialer: a persistent SQLite job queue for campaigns and scheduled
callbacks, pure scheduling rules, and the Dialer the softswitch main loop ticks."""
