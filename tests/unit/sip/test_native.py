"""vio_sbc.sip.native: ctypes access to symbols of the loaded pjsua2 extension."""

import ctypes

from vio_sbc.sip import native


def test_reaches_a_real_global_of_the_loaded_extension() -> None:
    # pjsua's own state struct is a global of the library: proof that lookups
    # go to the extension `import pjsua2` loaded, not to some other library.
    assert native.symbol("pjsua_var", ctypes.c_int) is not None
    assert native.symbol("pjsua_create") is not None
    assert native.library_path().endswith(".so")


def test_absent_symbol_is_none() -> None:
    assert native.symbol("vio_no_such_switch", ctypes.c_int) is None
    assert native.symbol("vio_no_such_function") is None
