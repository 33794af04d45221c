"""One module per screen; `base.py` what they share, `dialogs.py` the modal questions."""
