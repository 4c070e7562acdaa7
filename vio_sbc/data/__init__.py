"""Data files shipped with vio_sbc (Twilio's signalling ranges), read with
`importlib.resources`; a package so setuptools installs it as one."""
