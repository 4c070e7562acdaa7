"""vio_sbc: the SIP edge of Vio."""

__version__ = "0.1.0"
