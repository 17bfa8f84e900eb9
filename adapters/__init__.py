"""mintgate's adapters: the effects (HTTP mints, stores, locks, telemetry) that plug into the shell.

So far: strict parsing of OAuth2 token responses (``parse_token_response``) and the
client-credentials and refresh-token mints over httpx (``ClientCredentials``,
``ClientCredentialsMint``, ``RefreshTokenMint``; client secret, private-key JWT or none), and
``BearerAuth`` for httpx clients.
"""

from mintgate.adapters._bearer import BearerAuth as BearerAuth
from mintgate.adapters._oauth2 import ClientCredentials as ClientCredentials
from mintgate.adapters._oauth2 import ClientCredentialsMint as ClientCredentialsMint
from mintgate.adapters._oauth2 import RefreshTokenMint as RefreshTokenMint
from mintgate.adapters._token_response import DEFAULT_LIFETIME as DEFAULT_LIFETIME
from mintgate.adapters._token_response import MAX_BODY_BYTES as MAX_BODY_BYTES
from mintgate.adapters._token_response import MAX_LIFETIME as MAX_LIFETIME
from mintgate.adapters._token_response import TokenResponse as TokenResponse
from mintgate.adapters._token_response import parse_token_response as parse_token_response
