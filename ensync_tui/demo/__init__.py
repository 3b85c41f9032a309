"""Demo mode (``ensync-tui --demo``): a local engine and simulated services.

``local`` runs the engine and the producers; ``flows`` plans their messages. The
explorer gets a ``Demo`` from the command line and never imports this package.
"""

from ensync_tui.demo.local import SAMPLE_EPOCH, Demo, demo_identity

__all__ = ["SAMPLE_EPOCH", "Demo", "demo_identity"]
