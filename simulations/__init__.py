"""mintgate's simulations: a fleet of instances over one token endpoint, without an event loop.

:func:`simulate` runs one policy (mintgate's core or a model of another library, see
:data:`BASELINES`) over a :class:`Scenario` and returns its :class:`Metrics`; the ``mintgate``
command line (``mintgate simulate``) compares several and draws them. ``docs/simulations.md``
says what each baseline models and shows the default comparison.
"""

from mintgate.simulations._fleet import simulate as simulate
from mintgate.simulations._metrics import Metrics as Metrics
from mintgate.simulations._policies import BASELINES as BASELINES
from mintgate.simulations._policies import POLICY_NAMES as POLICY_NAMES
from mintgate.simulations._policies import Baseline as Baseline
from mintgate.simulations._scenario import PRESETS as PRESETS
from mintgate.simulations._scenario import Outage as Outage
from mintgate.simulations._scenario import OutageKind as OutageKind
from mintgate.simulations._scenario import Preset as Preset
from mintgate.simulations._scenario import Scenario as Scenario
from mintgate.simulations._scenario import format_duration as format_duration
from mintgate.simulations._scenario import parse_duration as parse_duration
from mintgate.simulations._scenario import parse_outage as parse_outage
