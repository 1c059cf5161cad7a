"""Settings: `param` sections loaded in layers (see `load_settings`)."""

from .loader import Settings, load_settings, user_config_path
from .sections import SECTIONS, SECURITY_RELEVANT
from .trust import UntrustedSettingWarning, trust_list_path

__all__ = [
    "SECTIONS",
    "SECURITY_RELEVANT",
    "Settings",
    "UntrustedSettingWarning",
    "load_settings",
    "trust_list_path",
    "user_config_path",
]
