"""Imports every domain's models so that ``Base.metadata`` knows all tables
(Alembic's autogenerate and the models-vs-migrations test rely on it)."""

from workforce.accounts import models as accounts  # noqa: F401
from workforce.assessments import models as assessments  # noqa: F401
from workforce.billing import models as billing  # noqa: F401
from workforce.integrations import key_models as integrations_keys  # noqa: F401
from workforce.integrations import models as integrations  # noqa: F401
from workforce.notifications import models as notifications  # noqa: F401
from workforce.privacy import models as privacy  # noqa: F401
from workforce.projects import models as projects  # noqa: F401
from workforce.results import aggregates as results_aggregates  # noqa: F401
from workforce.results import models as results  # noqa: F401
from workforce.standing import models as standing  # noqa: F401
from workforce.uploads import models as uploads  # noqa: F401
from workforce.wellbeing import models as wellbeing  # noqa: F401
from workforce.wellbeing import support_models as wellbeing_support  # noqa: F401
