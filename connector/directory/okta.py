"""Okta's Management API with an API token or an OAuth 2.0 service app (``type = "okta"``).

Wire facts: shared/reference/directory-apis.md. With ``auth = "ssws"`` (the default) the API
token is sent as ``Authorization: SSWS {token}``; a read-only administrator's token suffices.

With ``auth = "oauth"`` the reader is an OAuth 2.0 *API Services* app: the client-credentials
grant at the org authorization server (``{url}/oauth2/v1/token``, the only one that mints
``okta.*`` scopes) with ``private_key_jwt`` client authentication: a JWT signed with the app's
private key (RS256 or ES256; ``kid`` = ``key_id`` when set) with iss = sub = client_id, aud = the
token endpoint, iat, exp five minutes later (Okta allows at most an hour) and a fresh jti. The
answer's token is reused until five minutes before ``expires_in``; a 401 on an API call
fetches a new one once and repeats that request.

DPoP (RFC 9449): new API Services apps have "Require Demonstrating Proof of Possession (DPoP)
header in token requests" set. Okta then answers the token request 400 ``invalid_dpop_proof``;
the reader switches to DPoP: a key of its own (EC P-256, made per process, apart from the app's
key, as Okta asks), a proof JWT per request (``typ`` dpop+jwt, the public JWK in the header;
htm, htu, iat, jti, the server's nonce once it gave one in ``DPoP-Nonce`` after 400
``use_dpop_nonce``, and on API calls ``ath`` = base64url(SHA-256(access token))), and
``Authorization: DPoP {token}``. A refusal it cannot answer names the setting to clear.

A read: ``/api/v1/users`` (everyone but DEPROVISIONED), ``/api/v1/users?search=status eq
"DEPROVISIONED"`` (who left: Okta leaves them out of an unfiltered list), ``/api/v1/groups``, and
per group ``/api/v1/groups/{id}/users``. Paging follows the ``Link: rel="next"`` URL as given
(its ``after`` cursor is opaque, never built). Okta groups do not nest, so
:attr:`Person.groups` is the direct (and only) membership. The key is the Okta user id.
``profile.managerId`` names the manager by Okta id, login, e-mail or employee number.

Rate limits: every answer carries ``X-Rate-Limit-Remaining`` and ``X-Rate-Limit-Reset``; when
none remain the reader waits until the reset, measured against the answer's ``Date`` header; a
429 (``E0000047``) is retried after the same wait by the retry policy.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import jwt
import requests
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from connector.config import OktaSource, Settings, read_secret
from connector.directory.http import (
    Answer,
    HttpRefused,
    JsonClient,
    RetryPolicy,
    Wording,
    whole_read,
)
from connector.directory.paging import NextUrlPaginator
from connector.directory.web_snapshot import RawPerson, SnapshotAssembly, text
from connector.errors import (
    AccessDenied,
    AuthenticationError,
    ConfigError,
    ProtocolError,
    TargetError,
)
from connector.model import Membership, PersonStatus, Snapshot, Unusable
from connector.waits import rate_limit_reset_wait

log = logging.getLogger(__name__)

DEPROVISIONED_SEARCH = 'status eq "DEPROVISIONED"'

STATUS_OF: Mapping[str, PersonStatus] = {
    "ACTIVE": PersonStatus.ACTIVE,
    "PROVISIONED": PersonStatus.ACTIVE,  # activated, password not yet set: employed
    "RECOVERY": PersonStatus.ACTIVE,  # resetting a password
    "PASSWORD_EXPIRED": PersonStatus.ACTIVE,
    "STAGED": PersonStatus.DISABLED,  # created, not yet activated: not started
    "LOCKED_OUT": PersonStatus.DISABLED,
    "SUSPENDED": PersonStatus.DISABLED,
    "DEPROVISIONED": PersonStatus.LEFT,
}
"""Okta user status -> employment status. Any other status is reported and the person set aside
(counted in reports as active, never enrolled)."""


TOKEN_PATH = "/oauth2/v1/token"  # noqa: S105 (a path, not a secret)
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 300  # seconds; Okta refuses an exp more than an hour ahead
TOKEN_MARGIN = 300.0  # seconds before expiry at which a cached access token is renewed
DPOP_ERRORS = frozenset({"invalid_dpop_proof", "use_dpop_nonce"})
DPOP_SETTING = "Require Demonstrating Proof of Possession (DPoP) header in token requests"
KEY_SETTINGS = "directory.private_key / private_key_file"
SCOPE_HELP = ("grant the app the scopes okta.users.read and okta.groups.read (Admin Console > "
              "Applications > the app > Okta API Scopes) and a read-only administrator role")


def okta_error_code(body: Any) -> str:
    return text(body.get("errorCode")) if isinstance(body, dict) else ""


def oauth_error_code(body: Any) -> str:
    """The token endpoint's ``{"error": "invalid_client", "error_description": ...}``."""
    return text(body.get("error")) if isinstance(body, dict) else ""


def _oauth_error(detail: str | None) -> tuple[str, str]:
    """(error, error_description) of a token endpoint's error body, when it is one."""
    try:
        body = json.loads(detail or "")
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    return text(body.get("error")), text(body.get("error_description"))


# -- the service app's key ----------------------------------------------------------------------


@dataclass(frozen=True)
class SigningKey:
    """The app's private key, ready to sign client assertions. Its repr names no key."""

    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = field(repr=False)
    algorithm: str  # RS256 | ES256
    key_id: str = ""


def _bad_key(why: str) -> ConfigError:
    return ConfigError(
        f"directory.private_key: {why}; give the private key of the Okta service app as an "
        "unencrypted PEM (-----BEGIN PRIVATE KEY-----) or as the JSON (JWK) Okta generated, "
        "in UPSKILL_DIRECTORY__PRIVATE_KEY or directory.private_key_file"
    )


def load_signing_key(material: str, key_id: str = "") -> SigningKey:
    """The private key of a PEM or JWK text; RSA (2048 bits or more) or EC P-256.

    Errors name the setting, never the key (nor the parser's words about it)."""
    material = material.strip()
    if "\\n" in material and "\n" not in material:  # a PEM squeezed onto one line
        material = material.replace("\\n", "\n")
    key: Any
    if material.startswith("{"):
        try:
            data = json.loads(material)
            if isinstance(data, dict) and isinstance(data.get("keys"), list):
                keys = data["keys"]
                if len(keys) != 1:
                    raise _bad_key(f"a key set of {len(keys)} keys (give one)")
                data = keys[0]
            jwk = jwt.PyJWK(data)
        except ConfigError:
            raise
        except (ValueError, TypeError, KeyError, jwt.PyJWTError):
            raise _bad_key("not a usable JSON Web Key") from None
        key = jwk.key
        if not key_id and isinstance(data, dict):
            key_id = text(data.get("kid"))
    else:
        if "PUBLIC KEY" in material or "CERTIFICATE" in material:
            raise _bad_key("this is a public key or certificate (Okta keeps that one)")
        try:
            key = serialization.load_pem_private_key(material.encode(), password=None)
        except TypeError:
            raise _bad_key("the key is encrypted with a passphrase") from None
        except (ValueError, UnsupportedAlgorithm):
            raise _bad_key("not a PEM private key") from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise _bad_key(f"an RSA key of {key.key_size} bits (Okta needs 2048 or more)")
        return SigningKey(key, "RS256", key_id)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise _bad_key(f"an EC key on {key.curve.name} (this reader signs ES256: P-256)")
        return SigningKey(key, "ES256", key_id)
    raise _bad_key("neither an RSA nor an EC private key")


class OktaDirectory:
    """A :class:`~connector.directory.DirectorySource` over Okta."""

    name = "okta"

    def __init__(
        self,
        settings: OktaSource,
        token: str | None = None,
        *,
        private_key: str | None = None,
        session: requests.Session | None = None,
        verify: bool | str = True,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.oauth = settings.auth == "oauth"
        if not self.oauth and not token:
            raise ConfigError(
                "directory: no Okta API token; set UPSKILL_DIRECTORY__TOKEN or "
                "directory.token_file"
            )
        if self.oauth and not private_key:
            raise ConfigError(
                'directory: auth = "oauth" and no private key of the service app; set '
                "UPSKILL_DIRECTORY__PRIVATE_KEY or directory.private_key_file"
            )
        self.settings = settings
        self.base = settings.url
        self.token_url = f"{self.base}{TOKEN_PATH}"
        self._token = token or ""
        self._key = load_signing_key(private_key or "", settings.key_id) if self.oauth else None
        self._access: tuple[str, float] | None = None  # (token, renew at, by clock)
        self.tokens_fetched = 0
        self.dpop = False  # set when Okta asks for DPoP-bound tokens
        self._dpop_key: ec.EllipticCurvePrivateKey | None = None
        self._nonces: dict[str, str] = {}  # "token" | "api" -> the last DPoP-Nonce
        self._nonce_tried = ""  # the token endpoint's nonce last asked again with
        self._current = ""  # the URL of the API request being sent (for its DPoP proof)
        self._clock = clock
        self._sleep = sleep
        self.policy = RetryPolicy("Okta", retries=settings.retries, max_wait=settings.max_wait,
                                  sleep=sleep)
        self.pauses: list[float] = []  # waits taken because no requests remained
        session = session or requests.Session()
        if self.oauth:
            session.hooks["response"].append(self._keep_nonce)
            credentials = (f"directory.client_id ({settings.client_id}) and {KEY_SETTINGS}, "
                           "and that the key's public half is registered with the app")
            wording = Wording(f"Okta at {self.base}", credentials, SCOPE_HELP, "directory.url")
        else:
            wording = Wording(
                f"Okta at {self.base}", "directory.token / token_file",
                "use a read-only administrator's token (okta.users.read, okta.groups.read)",
                "directory.url")
        # masked in every message: the API token, and each access token once fetched
        self._secrets: list[str] = [self._token]
        self.api = JsonClient(
            wording, session=session, timeout=settings.timeout, verify=verify,
            policy=self.policy, headers=self._headers, secrets=self._secrets,
            wait_hint=rate_limit_reset_wait, error_code=okta_error_code,
            on_answer=self._respect_limits,
        )
        self.login = JsonClient(
            Wording(f"the Okta token endpoint {self.token_url}", wording.secret, SCOPE_HELP,
                    "directory.url"),
            session=session, timeout=settings.timeout, verify=verify, policy=self.policy,
            headers=self._token_headers, secrets=self._secrets, wait_hint=rate_limit_reset_wait,
            error_code=oauth_error_code,
        )

    @classmethod
    def from_settings(cls, source: OktaSource, settings: Settings) -> OktaDirectory:
        verify: bool | str = source.verify_tls
        if source.verify_tls and source.ca_file is not None:
            verify = str(settings.path(source.ca_file))
        if source.auth == "oauth":
            key = read_secret(source.private_key, settings.path_or_none(source.private_key_file),
                              "directory.private_key")
            return cls(source, private_key=key or "", verify=verify)
        token = read_secret(source.token, settings.path_or_none(source.token_file),
                            "directory.token")
        return cls(source, token or "", verify=verify)

    @property
    def requests_made(self) -> int:
        return self.api.requests + self.login.requests

    def _headers(self) -> dict[str, str]:
        if not self.oauth:
            return {"Authorization": f"SSWS {self._token}", "Accept": "application/json"}
        token = self._access[0] if self._access is not None else ""
        if not self.dpop:
            return {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        return {"Authorization": f"DPoP {token}", "Accept": "application/json",
                "DPoP": self._proof("GET", self._current, token)}

    def _token_headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.dpop:
            headers["DPoP"] = self._proof("POST", self.token_url)
        return headers

    # -- DPoP -----------------------------------------------------------------------------

    def _proof(self, method: str, url: str, token: str | None = None) -> str:
        """A DPoP proof for one request (sent once: every attempt gets its own jti)."""
        if self._dpop_key is None:
            self._dpop_key = ec.generate_private_key(ec.SECP256R1())
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(self._dpop_key.public_key(), as_dict=True)
        parts = urlsplit(url)
        claims: dict[str, Any] = {
            "htm": method, "htu": urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")),
            "iat": int(time.time()), "jti": secrets.token_urlsafe(24)}
        nonce = self._nonces.get("api" if token is not None else "token")
        if nonce:
            claims["nonce"] = nonce
        if token is not None:
            digest = hashlib.sha256(token.encode("ascii")).digest()
            claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        return jwt.encode(claims, self._dpop_key, algorithm="ES256",
                          headers={"typ": "dpop+jwt", "jwk": jwk})

    def _keep_nonce(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        nonce = response.headers.get("DPoP-Nonce")
        if nonce:
            where = "token" if urlsplit(response.url).path.endswith(TOKEN_PATH) else "api"
            self._nonces[where] = nonce.strip()

    # -- the access token (auth = "oauth") ------------------------------------------------

    def access_token(self) -> str:
        """The cached access token, or a new one when there is none or it is about to expire."""
        now = self._clock()
        if self._access is not None and now < self._access[1]:
            return self._access[0]
        answer = self._token_request()
        body = answer.body if isinstance(answer.body, dict) else {}
        token, kind, expires = body.get("access_token"), body.get("token_type"), body.get(
            "expires_in")
        if not isinstance(token, str) or not token:
            raise ProtocolError(f"the token answer of {self.token_url} has no access_token")
        if text(kind).lower() != ("dpop" if self.dpop else "bearer"):
            raise ProtocolError(f"{self.token_url} answered a token of type {kind!r}, not "
                                + ("DPoP" if self.dpop else "Bearer"))
        lifetime = float(expires) if isinstance(expires, int | float) else 3600.0
        self._secrets.append(token)
        self._access = (token, now + max(lifetime - TOKEN_MARGIN, lifetime / 2))
        self.tokens_fetched += 1
        log.info("okta: access token for the service app %s (expires in %.0f s)",
                 self.settings.client_id, lifetime)
        return token

    def _assertion(self) -> str:
        assert self._key is not None
        now = int(time.time())
        claims = {"iss": self.settings.client_id, "sub": self.settings.client_id,
                  "aud": self.token_url, "iat": now, "exp": now + ASSERTION_LIFETIME,
                  "jti": secrets.token_urlsafe(24)}
        headers = {"kid": self._key.key_id} if self._key.key_id else None
        return jwt.encode(claims, self._key.key, algorithm=self._key.algorithm, headers=headers)

    def _token_request(self) -> Answer:
        """The token request; Okta's demands for DPoP and for a DPoP nonce are met by asking
        again (at most twice, each time with a new assertion and proof)."""
        for _ in range(3):
            try:
                return self._one_token_request()
            except HttpRefused as exc:
                error = exc.errorcode or _oauth_error(exc.detail)[0]
                nonce = self._nonces.get("token")
                if error == "invalid_dpop_proof" and not self.dpop:
                    log.info("okta: the service app %s requires DPoP; binding its tokens to a "
                             "DPoP key", self.settings.client_id)
                    self.dpop = True
                elif (error == "use_dpop_nonce" and self.dpop and nonce
                      and nonce != self._nonce_tried):
                    self._nonce_tried = nonce
                else:
                    raise self._token_refusal(exc) from exc
        raise self._dpop_refusal("Okta kept asking for a DPoP proof")

    def _one_token_request(self) -> Answer:
        form = {"grant_type": "client_credentials", "scope": " ".join(self.settings.scopes),
                "client_assertion_type": ASSERTION_TYPE, "client_assertion": self._assertion()}
        try:
            return self.login.post_form(self.token_url, "the token request", form)
        except AuthenticationError as exc:  # 401: invalid_client
            error, why = _oauth_error(exc.detail)
            if error in DPOP_ERRORS:
                raise self._dpop_refusal(why) from exc
            raise self._client_refusal(error or "HTTP 401", why, exc.detail) from exc

    def _token_refusal(self, exc: HttpRefused) -> TargetError:
        """The error a refused token request (other than 401) becomes."""
        client_id = self.settings.client_id
        error, why = _oauth_error(exc.detail)
        error = exc.errorcode or error
        if error in DPOP_ERRORS:
            return self._dpop_refusal(why)
        if error == "invalid_scope":
            return AccessDenied(
                f"Okta refused the scopes {' '.join(self.settings.scopes)} to the service "
                f"app {client_id}" + (f" ({why})" if why else "") + f": {SCOPE_HELP}, "
                "or ask for fewer with directory.scopes",
                detail=exc.detail,
            )
        if error == "unauthorized_client":
            return AuthenticationError(
                f"Okta does not let the app {client_id} use the client-credentials grant: "
                "directory.client_id must be an API Services app (Admin Console > "
                "Applications > Create App Integration > API Services)",
                detail=exc.detail,
            )
        return self._client_refusal(error or f"HTTP {exc.status}", why, exc.detail)

    def _client_refusal(self, error: str, why: str, detail: str | None) -> AuthenticationError:
        kid = f" under the key id {self._key.key_id}" if self._key and self._key.key_id else ""
        return AuthenticationError(
            f"Okta refused the service app's credentials ({error}"
            + (f": {why}" if why else "") + f"): check directory.client_id "
            f"({self.settings.client_id}) and {KEY_SETTINGS}, that the app's client "
            f'authentication is "Public key / Private key" and that the public half of this '
            f"key is registered with the app{kid}",
            detail=detail,
        )

    def _dpop_refusal(self, why: str = "") -> AuthenticationError:
        return AuthenticationError(
            f"Okta refused the DPoP proof of the service app {self.settings.client_id}"
            + (f" ({why})" if why else "") + ": check that this host's clock is right; or, "
            "in the Admin Console, Applications > the app > General Settings, clear "
            f'"{DPOP_SETTING}"'
        )

    def _get(self, url: str, what: str, params: Mapping[str, str] | None = None) -> Answer:
        """A GET; with OAuth a 401 (the token expired or was revoked) fetches a new token once
        and repeats the request."""
        if not self.oauth:
            return self.api.get(url, what, params)
        self._current = url
        self.access_token()
        nonce = self._nonces.get("api")
        try:
            return self.api.get(url, what, params)
        except AuthenticationError:
            if self.dpop and self._nonces.get("api") != nonce:  # the API gave a (new) nonce
                try:
                    return self.api.get(url, what, params)
                except AuthenticationError:
                    pass
            log.info("okta: the access token was refused; fetching a new one")
            self._access = None
            self.access_token()
            return self.api.get(url, what, params)

    def _respect_limits(self, answer: Answer) -> None:
        if (answer.headers.get("X-Rate-Limit-Remaining") or "").strip() != "0":
            return
        wait = rate_limit_reset_wait(answer.headers)
        if wait:
            wait = min(wait, self.settings.max_wait)
            log.info("okta: no requests left in this rate-limit window; waiting %.0f s", wait)
            self.pauses.append(wait)
            self._sleep(wait)

    def check(self) -> str:
        self._get(f"{self.base}/api/v1/users", "the users (okta.users.read)", {"limit": "1"})
        self._get(f"{self.base}/api/v1/groups", "the groups (okta.groups.read)", {"limit": "1"})
        if self.oauth:
            bound = " (DPoP-bound)" if self.dpop else ""
            return (f"Okta at {self.base}, service app {self.settings.client_id}: token{bound}, "
                    "users and groups readable")
        return f"Okta at {self.base}: users and groups readable"

    def read(self) -> Snapshot:
        with whole_read(f"Okta at {self.base}"):
            return self._read()

    def _read(self) -> Snapshot:
        assembly = SnapshotAssembly(f"okta:{self.base}", Membership.FLATTENED)
        limit = str(self.settings.page_size)
        for page in self._pages(f"{self.base}/api/v1/users", "the users", {"limit": limit}):
            for user in page:
                self._add_user(assembly, user)
        deprovisioned = {"search": DEPROVISIONED_SEARCH, "limit": limit}
        for page in self._pages(f"{self.base}/api/v1/users", "the deprovisioned users",
                                deprovisioned):
            for user in page:
                self._add_user(assembly, user)
        members = {"limit": str(self.settings.member_page_size)}
        for page in self._pages(f"{self.base}/api/v1/groups", "the groups", None):
            for group in page:
                gid = text(group.get("id"))
                profile = group.get("profile")
                name = text(profile.get("name")) if isinstance(profile, dict) else ""
                if not assembly.add_group(name, f"Okta group {gid}"):
                    continue
                url = f"{self.base}/api/v1/groups/{quote(gid)}/users"
                for member_page in self._pages(url, f"the members of group {name!r}", members):
                    for user in member_page:
                        assembly.add_member(text(user.get("id")), name)
        return assembly.build(datetime.now(UTC))

    def _pages(self, url: str, what: str,
               params: Mapping[str, str] | None) -> Iterator[list[dict[str, Any]]]:
        pager = NextUrlPaginator(url, what)
        page = 0
        while pager.current is not None:
            page += 1
            answer = self._get(pager.current, f"{what} (page {page})",
                               params if page == 1 else None)
            if not isinstance(answer.body, list):
                raise ProtocolError(f"Okta answered {what} without a list")
            yield [item for item in answer.body if isinstance(item, dict)]
            pager.advance(answer.links.get("next", {}).get("url"))

    @staticmethod
    def _add_user(assembly: SnapshotAssembly, user: Mapping[str, Any]) -> None:
        uid = text(user.get("id"))
        raw_profile = user.get("profile")
        profile: Mapping[str, Any] = raw_profile if isinstance(raw_profile, dict) else {}
        login = text(profile.get("login"))
        where = f"Okta user {uid}" + (f" ({login})" if login else "")
        okta_status = text(user.get("status"))
        status = STATUS_OF.get(okta_status)
        email = text(profile.get("email"))
        raw = RawPerson(
            key=uid, where=where, email=email or None,
            first_name=text(profile.get("firstName")), last_name=text(profile.get("lastName")),
            department=text(profile.get("department")), title=text(profile.get("title")),
            manager_ref=text(profile.get("managerId")) or None,
            status=status or PersonStatus.ACTIVE,
            aliases=(login, email, text(profile.get("employeeNumber"))),
            identifiers=(("object id", uid), ("employee id", text(profile.get("employeeNumber"))),
                         ("username", login)),
        )
        if status is None:
            assembly.problem(where, f"has the unknown status {okta_status!r}; record skipped "
                             "(counted in reports, never enrolled)", uid or None, "status",
                             ids=tuple(v for v in (uid, login, email,
                                                   text(profile.get("employeeNumber"))) if v))
            assembly.set_aside(raw, Unusable.UNKNOWN_STATUS)
            return
        assembly.add_person(raw)
