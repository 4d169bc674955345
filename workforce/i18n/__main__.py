"""``python -m workforce.i18n update``: ``make i18n`` (``catalogs.update``)."""

import sys

from workforce.i18n.catalogs import main

sys.exit(main(sys.argv))
