"""mintgate's async shell (anyio): runs the pure core's decisions as timers, mints and waiters.

``RefreshingProvider`` keeps one credential fresh inside a trio or asyncio program; a ``Host``
runs many, each a ``Driver``, with one timer task between them; ``Hook`` and
``MintHook`` receive the core's notices and wrap mints; ``ProviderStatistics`` is its snapshot;
``Clock`` holds the wall clock beside the loop's and is the one place that converts between them;
``TokenSource`` is what a consumer of tokens (``BearerAuth``) takes.
"""

from mintgate.shell._clock import Clock as Clock
from mintgate.shell._committed import committed as committed
from mintgate.shell._driver import Driver as Driver
from mintgate.shell._hooks import CredentialInfo as CredentialInfo
from mintgate.shell._hooks import Hook as Hook
from mintgate.shell._hooks import MintHook as MintHook
from mintgate.shell._host import Host as Host
from mintgate.shell._minted import Minted as Minted
from mintgate.shell._minted import MintFunction as MintFunction
from mintgate.shell._provider import RefreshingProvider as RefreshingProvider
from mintgate.shell._telemetry import BreakerState as BreakerState
from mintgate.shell._telemetry import LastError as LastError
from mintgate.shell._telemetry import ProviderStatistics as ProviderStatistics
from mintgate.shell._token_source import TokenSource as TokenSource
