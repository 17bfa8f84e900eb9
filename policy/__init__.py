"""mintgate's pure refresh-policy core: a deterministic state machine with no I/O.

Feed events (``Demand``, ``Tick``, ``MintSucceeded``, ``MintFailed``, ``Invalidate``) into
:func:`step` with a :class:`RefreshConfig` and a :class:`PolicyState`; get back a :class:`Step`
saying what to do. Time and randomness are inputs. The behaviour is the contract in
``docs/policy.md``.
"""

from mintgate.policy._classify import RETRY_AFTER_CAP as RETRY_AFTER_CAP
from mintgate.policy._classify import SCRUB_LIMIT as SCRUB_LIMIT
from mintgate.policy._classify import SCRUB_PREFIX as SCRUB_PREFIX
from mintgate.policy._classify import classify_http as classify_http
from mintgate.policy._classify import parse_retry_after as parse_retry_after
from mintgate.policy._classify import scrub as scrub
from mintgate.policy._config import RefreshConfig as RefreshConfig
from mintgate.policy._decisions import MintReason as MintReason
from mintgate.policy._decisions import MintStart as MintStart
from mintgate.policy._decisions import Notice as Notice
from mintgate.policy._decisions import NoticeKind as NoticeKind
from mintgate.policy._decisions import Reject as Reject
from mintgate.policy._decisions import Reply as Reply
from mintgate.policy._decisions import Serve as Serve
from mintgate.policy._decisions import Step as Step
from mintgate.policy._decisions import Token as Token
from mintgate.policy._decisions import Wait as Wait
from mintgate.policy._errors import CredentialError as CredentialError
from mintgate.policy._errors import ErrorKind as ErrorKind
from mintgate.policy._errors import forced_refresh_wait as forced_refresh_wait
from mintgate.policy._events import Demand as Demand
from mintgate.policy._events import Event as Event
from mintgate.policy._events import Invalidate as Invalidate
from mintgate.policy._events import MintFailed as MintFailed
from mintgate.policy._events import MintSucceeded as MintSucceeded
from mintgate.policy._events import Tick as Tick
from mintgate.policy._machine import backoff_delay as backoff_delay
from mintgate.policy._machine import margins as margins
from mintgate.policy._machine import step as step
from mintgate.policy._state import PolicyState as PolicyState
