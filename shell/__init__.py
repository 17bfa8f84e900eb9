r"""mintgate's async shell (anyio): runs the pure core's decisions as timers, mints and waiters.

``RefreshingProvider`` keeps one credential fresh inside a trio or asyncio program; a ``Host``
runs many, each a ``Driver``, with one timer task between them; ``Hook`` and
``MintHook`` receive the core's notices and wrap mints; ``ProviderStatistics`` is its snapshot;
``Clock`` holds the wall clock beside the loop's and is the one place that converts between them;
``TokenSource`` is what a consumer of tokens (``BearerAuth``) takes. At rest: a credential is
a ``CredentialRecord`` (``CredentialId``, ``Scope``, a ``CredentialType`` from a ``Registry``)
in a ``StateStore`` (``MemoryStore`` here; SQLite in ``mintgate.adapters.sqlite``), sealed
through a ``Cipher``, with compare-and-swap and fenced ``Claim``\ s.
"""

from mintgate.shell._clock import Clock as Clock
from mintgate.shell._committed import committed as committed
from mintgate.shell._driver import Driver as Driver
from mintgate.shell._hooks import CredentialInfo as CredentialInfo
from mintgate.shell._hooks import Hook as Hook
from mintgate.shell._hooks import MintHook as MintHook
from mintgate.shell._host import Host as Host
from mintgate.shell._ids import CredentialId as CredentialId
from mintgate.shell._ids import Scope as Scope
from mintgate.shell._memory_store import MemoryStore as MemoryStore
from mintgate.shell._minted import Minted as Minted
from mintgate.shell._minted import MintFunction as MintFunction
from mintgate.shell._provider import RefreshingProvider as RefreshingProvider
from mintgate.shell._records import Cipher as Cipher
from mintgate.shell._records import CredentialRecord as CredentialRecord
from mintgate.shell._records import RecordExists as RecordExists
from mintgate.shell._records import RecordNotFound as RecordNotFound
from mintgate.shell._records import RecordSummary as RecordSummary
from mintgate.shell._records import RecordUnreadable as RecordUnreadable
from mintgate.shell._records import RevisionConflict as RevisionConflict
from mintgate.shell._records import StaleFence as StaleFence
from mintgate.shell._records import StoredToken as StoredToken
from mintgate.shell._records import StoreError as StoreError
from mintgate.shell._records import StoreUnavailable as StoreUnavailable
from mintgate.shell._store import Claim as Claim
from mintgate.shell._store import ClaimHeld as ClaimHeld
from mintgate.shell._store import ClaimTiming as ClaimTiming
from mintgate.shell._store import Page as Page
from mintgate.shell._store import StateStore as StateStore
from mintgate.shell._telemetry import BreakerState as BreakerState
from mintgate.shell._telemetry import LastError as LastError
from mintgate.shell._telemetry import ProviderStatistics as ProviderStatistics
from mintgate.shell._token_source import TokenSource as TokenSource
from mintgate.shell._types import CredentialType as CredentialType
from mintgate.shell._types import MigrationError as MigrationError
from mintgate.shell._types import MigrationReport as MigrationReport
from mintgate.shell._types import Registry as Registry
from mintgate.shell._types import StaticApiKey as StaticApiKey
from mintgate.shell._types import UnknownType as UnknownType
from mintgate.shell._types import check_fields as check_fields
from mintgate.shell._types import migrate_all as migrate_all
