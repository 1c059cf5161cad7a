"""Settings: `param` sections loaded in layers (see `load_settings`)."""

from .loader import Settings, load_settings, user_config_path
from .sections import SECTIONS

__all__ = ["SECTIONS", "Settings", "load_settings", "user_config_path"]
