"""OAuth2 over httpx (extra ``httpx``): the token-endpoint mints, strict token responses, and
``BearerAuth`` for httpx clients.

- :class:`ClientCredentials`: how to ask a token endpoint (client secret, private-key JWT, or a
  public client), checked at construction.
- :class:`ClientCredentialsMint` (RFC 6749 section 4.4) and :class:`RefreshTokenMint` (section 6,
  rotation persisted before the access token is used): mints for ``RefreshingProvider``.
- :class:`ClientCredentialsType` (``oauth2_client_credentials``) and :class:`RefreshTokenType`
  (``oauth2_refresh_token``): the credential types of stored records, for a ``Registry``.
- :func:`parse_token_response`: a token endpoint's answer, validated into a ``Result``.
- :class:`BearerAuth`: an ``httpx.Auth`` that authorises requests from a provider.

This module imports httpx; ``import mintgate.adapters`` does not.
"""

from mintgate.adapters._bearer import BearerAuth
from mintgate.adapters._oauth2 import ClientCredentials, ClientCredentialsMint, RefreshTokenMint
from mintgate.adapters._oauth2_types import ClientCredentialsType, RefreshTokenType
from mintgate.adapters._token_response import (
    DEFAULT_LIFETIME,
    MAX_BODY_BYTES,
    MAX_LIFETIME,
    TokenResponse,
    parse_token_response,
)

__all__ = [
    "DEFAULT_LIFETIME",
    "MAX_BODY_BYTES",
    "MAX_LIFETIME",
    "BearerAuth",
    "ClientCredentials",
    "ClientCredentialsMint",
    "ClientCredentialsType",
    "RefreshTokenMint",
    "RefreshTokenType",
    "TokenResponse",
    "parse_token_response",
]
