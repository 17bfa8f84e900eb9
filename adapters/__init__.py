"""mintgate's adapters: the effects (HTTP mints, stores, locks, telemetry) that plug into the shell.

One public module per optional dependency, each importing its extra itself, so importing this
package needs none of them:

- :mod:`mintgate.adapters.oauth2` (extra ``httpx``): the OAuth2 mints, strict token responses,
  ``BearerAuth``.
- :mod:`mintgate.adapters.sqlite` (standard library only): ``SQLiteStore``, records in a file.
- :mod:`mintgate.adapters.crypto` (extra ``crypto``): ``Keyring``, AES-256-GCM encryption at rest
  with key rotation, and ``reencrypt``.
- :mod:`mintgate.adapters.testing` (standard library only): a real loopback token server.
"""
