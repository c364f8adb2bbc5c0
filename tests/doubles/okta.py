"""A double of Okta's Management API, serving exactly the shapes of
shared/reference/directory-apis.md:

* ``Authorization: SSWS {token}`` (when ``ssws``), or ``Bearer {access token}`` it issued, not
  expired, with the scope of the path (okta.users.read, okta.groups.read; else 403
  ``E0000006``); anything else is 401 ``E0000011``;
* ``POST /oauth2/v1/token``: the client-credentials grant of a registered service app
  (:class:`OktaApp`) with ``private_key_jwt``: the client assertion's signature is VERIFIED with
  the app's public key (PyJWT), and its aud (this endpoint), iss = sub = client_id, exp (at most
  an hour ahead) and jti (never twice) checked; refusals are Okta's OAuth errors
  (401 ``invalid_client``, 400 ``invalid_scope``). Tokens live ``OktaApp.token_lifetime``
  seconds, or ``token_max_uses`` calls;
* DPoP (RFC 9449) for an app with ``dpop``: a token request without a ``DPoP`` proof is 400
  ``invalid_dpop_proof``; with ``dpop_nonce`` set, a proof without that nonce is 400
  ``use_dpop_nonce`` with a ``DPoP-Nonce`` header. Proofs are verified with their own JWK (typ
  dpop+jwt, htm, htu, iat within a minute, jti never twice, ``ath`` on API calls); the token is
  bound to the JWK's thumbprint and is only good as ``Authorization: DPoP`` with a proof of the
  same key (``api_dpop_nonce``: the API's own nonce, refused as 401 ``use_dpop_nonce``);
* ``GET /api/v1/users`` (``limit`` default 200, at most 200; no DEPROVISIONED users unless
  ``search=status eq "DEPROVISIONED"``), ``/api/v1/groups`` (``limit`` default and most 10000),
  ``/api/v1/groups/{id}/users`` (``limit`` default and most 1000);
* paging by two ``Link`` headers, ``rel="self"`` and ``rel="next"`` with an opaque ``after``;
* ``X-Rate-Limit-Limit``, ``-Remaining`` and ``-Reset`` (UTC epoch seconds) on every answer;
  :meth:`OktaDouble.throttle` answers 429 ``E0000047`` with a Reset some seconds after ``Date``.
Any other path, parameter or search is an error the test sees.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, quote

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.contract import org
from tests.doubles.base import Call, Reply, StrictDouble, bad

DEPROVISIONED = 'status eq "DEPROVISIONED"'
LIMITS = {"/api/v1/users": (200, 200), "/api/v1/groups": (10000, 10000), "members": (1000, 1000)}
TOKEN_PATH = "/oauth2/v1/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLIENT_ID = "0oa1service2app3okta"
READ_SCOPES = ("okta.users.read", "okta.groups.read")


@dataclass
class OktaApp:
    """An OAuth 2.0 API Services app: client authentication "Public key / Private key"."""

    client_id: str
    public_key: Any  # the registered public key (cryptography)
    key_id: str = ""  # its kid; an assertion naming another kid is refused
    granted: tuple[str, ...] = READ_SCOPES  # Okta API Scopes granted to the app
    token_lifetime: int = 3600
    dpop: bool = False  # "Require Demonstrating Proof of Possession (DPoP) header ..."


@dataclass
class Issued:
    client_id: str
    scopes: frozenset[str]
    expires: float  # epoch seconds
    uses_left: int | None  # None: until it expires
    jkt: str | None = None  # a DPoP-bound token: the thumbprint of its key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638: SHA-256 of the required members, sorted, without spaces."""
    members = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}[jwk["kty"]]
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode()).digest())


def rsa_key(bits: int = 2048) -> tuple[str, Any]:
    """(the private key as PKCS#8 PEM, the public key) of a new RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return _pem(key), key.public_key()


def ec_key() -> tuple[str, Any]:
    """(the private key as PKCS#8 PEM, the public key) of a new EC P-256 key."""
    key = ec.generate_private_key(ec.SECP256R1())
    return _pem(key), key.public_key()


def _pem(key: Any) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def okta_id(prefix: str, seed: str) -> str:
    return prefix + uuid.uuid5(uuid.NAMESPACE_URL, seed).hex[:17]


@dataclass
class OktaUser:
    id: str
    status: str
    profile: dict[str, Any]

    def shaped(self, base: str) -> dict[str, Any]:
        stamp = "2025-06-30T08:00:00.000Z"
        return {
            "id": self.id, "status": self.status, "created": stamp, "activated": stamp,
            "statusChanged": stamp, "lastLogin": None, "lastUpdated": stamp,
            "passwordChanged": stamp, "type": {"id": "oty1default"},
            "profile": dict(self.profile),
            "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
            "_links": {"self": {"href": f"{base}/api/v1/users/{self.id}"}},
        }


@dataclass
class OktaGroup:
    id: str
    name: str
    members: list[str] = field(default_factory=list)

    def shaped(self, base: str) -> dict[str, Any]:
        stamp = "2025-06-30T08:00:00.000Z"
        return {
            "id": self.id, "created": stamp, "lastUpdated": stamp,
            "lastMembershipUpdated": stamp, "objectClass": ["okta:user_group"],
            "type": "OKTA_GROUP", "profile": {"name": self.name, "description": None},
            "_links": {"users": {"href": f"{base}/api/v1/groups/{self.id}/users"}},
        }


class OktaDouble(StrictDouble):
    def __init__(self, *, token: str = "00okta-api-token",  # noqa: S107
                 rate_limit: int = 100_000, ssws: bool = True) -> None:
        super().__init__()
        self.token = token
        self.ssws = ssws  # accept the API token; False: OAuth only
        self.apps: dict[str, OktaApp] = {}
        self.issued: dict[str, Issued] = {}
        self.token_max_uses: int | None = None  # a new token works for this many API calls
        self.refused: list[str] = []  # the token endpoint's refusals, "error: description"
        self.dpop_nonce: str | None = None  # the token endpoint's DPoP nonce, when it wants one
        self.api_dpop_nonce: str | None = None  # the API's
        self._jtis: set[str] = set()
        self._dpop_jtis: set[str] = set()
        self.rate_limit = rate_limit
        self.remaining = rate_limit
        self.window_reset = int(time.time()) + 60
        self.users: dict[str, OktaUser] = {}
        self.groups: dict[str, OktaGroup] = {}
        self.loop_after: dict[str, int] = {}  # path prefix -> page after which next repeats
        self._cursors: dict[str, tuple[str, dict[str, str], int]] = {}
        self._last_next: dict[str, str] = {}
        self._items: dict[str, tuple[list[dict[str, Any]], int]] = {}

    def error_body(self, status: int, message: str) -> Any:
        codes = {429: ("E0000047", "API call exceeded rate limit due to too many requests."),
                 401: ("E0000011", "Invalid token provided"),
                 403: ("E0000006", "You do not have permission to perform the requested action"),
                 404: ("E0000007", "Not found: Resource not found"),
                 500: ("E0000009", "Internal Server Error")}
        code, summary = codes.get(status, ("E0000001", message))
        return {"errorCode": code, "errorSummary": summary, "errorLink": code,
                "errorId": "oae" + secrets.token_hex(8), "errorCauses": []}

    def common_headers(self) -> dict[str, str]:
        return {"X-Rate-Limit-Limit": str(self.rate_limit),
                "X-Rate-Limit-Remaining": str(max(self.remaining, 0)),
                "X-Rate-Limit-Reset": str(self.window_reset)}

    def throttle(self, prefix: str, *, after: int = 0, times: int = 1, reset_in: int = 7) -> None:
        """Answer 429 E0000047 with a Reset ``reset_in`` seconds after the answer's Date."""
        def headers() -> dict[str, str]:
            now = time.time()
            return {"Date": formatdate(now, usegmt=True), "X-Rate-Limit-Remaining": "0",
                    "X-Rate-Limit-Reset": str(int(now) + reset_in)}
        self.fail(prefix, after=after, status=429, times=times, headers=headers)

    # -- the directory ------------------------------------------------------------------

    def add_user(self, user: OktaUser) -> str:
        with self._lock:
            self.users[user.id] = user
        return user.id

    def add_group(self, name: str) -> str:
        with self._lock:
            gid = okta_id("00g", name)
            self.groups[gid] = OktaGroup(gid, name)
        return gid

    # -- serving ------------------------------------------------------------------------

    def register_app(self, app: OktaApp) -> OktaApp:
        with self._lock:
            self.apps[app.client_id] = app
        return app

    def expire_tokens(self) -> None:
        """Every access token issued so far expires now."""
        with self._lock:
            for issued in self.issued.values():
                issued.expires = 0.0

    def answer(self, call: Call, body: bytes) -> Reply:
        if call.path == TOKEN_PATH:
            if call.method != "POST":
                raise bad("the token endpoint takes POST")
            return self._token(call, body)
        if call.method != "GET" or not call.path.startswith("/api/v1/"):
            raise bad("unknown path")
        refused = self._authorise(call)
        if refused is not None:
            return refused
        if call.headers.get("accept") != "application/json":
            raise bad("Accept: application/json is required")
        self.remaining -= 1
        params = dict(call.params)
        if "after" in params:
            return self._next(call.path, params)
        parts = call.path.split("/")
        if call.path == "/api/v1/users":
            allowed = {"limit", "search"}
            if set(params) - allowed:
                raise bad(f"unknown parameters {sorted(set(params) - allowed)}")
            search = params.get("search")
            if search not in (None, DEPROVISIONED):
                raise bad(f"search {search!r} is not served by this double")
            users = [u for u in self.users.values()
                     if (u.status == "DEPROVISIONED") == (search is not None)]
            items = [u.shaped(self.url) for u in users]
            return self._page(call.path, params, items, 0, self._limit(LIMITS[call.path], params))
        if call.path == "/api/v1/groups":
            if set(params) - {"limit"}:
                raise bad(f"unknown parameters {sorted(set(params) - {'limit'})}")
            items = [g.shaped(self.url) for g in self.groups.values()]
            return self._page(call.path, params, items, 0, self._limit(LIMITS[call.path], params))
        if len(parts) == 6 and parts[3] == "groups" and parts[5] == "users":
            if set(params) - {"limit"}:
                raise bad(f"unknown parameters {sorted(set(params) - {'limit'})}")
            group = self.groups.get(parts[4])
            if group is None:
                return Reply(404, self.error_body(404, ""))
            items = [self.users[m].shaped(self.url) for m in group.members
                     if self.users[m].status != "DEPROVISIONED"]
            return self._page(call.path, params, items, 0, self._limit(LIMITS["members"], params))
        raise bad("unknown path")

    # -- authorisation ------------------------------------------------------------------

    def _authorise(self, call: Call) -> Reply | None:
        auth = call.headers.get("authorization", "")
        if auth.startswith("SSWS "):
            ok = self.ssws and auth == f"SSWS {self.token}"
            return None if ok else Reply(401, self.error_body(401, ""))
        scheme, _, token = auth.partition(" ")
        if scheme not in ("Bearer", "DPoP"):
            return Reply(401, self.error_body(401, ""))
        issued = self.issued.get(token)
        if issued is not None and (issued.jkt is not None) != (scheme == "DPoP"):
            issued = None  # a DPoP-bound token as Bearer, or a Bearer token as DPoP
        if issued is not None and issued.jkt is not None:
            jkt, why = self._dpop_proof(call, "GET", self.url + call.path, token,
                                        self.api_dpop_nonce)
            if jkt is None or jkt != issued.jkt:
                error = "use_dpop_nonce" if why == "nonce" else "invalid_dpop_proof"
                headers = {"WWW-Authenticate": f'DPoP error="{error}", '
                                               f'error_description="{why or "wrong key"}"'}
                if self.api_dpop_nonce:
                    headers["DPoP-Nonce"] = self.api_dpop_nonce
                return Reply(401, self.error_body(401, ""), headers)
        if issued is None or issued.expires <= time.time() or issued.uses_left == 0:
            return Reply(401, self.error_body(401, ""), {
                "WWW-Authenticate": 'Bearer authorization_uri="http://okta", '
                                    'error="invalid_token", error_description="The token '
                                    'is not valid as it was expired or revoked."'})
        needed = "okta.users.read" if call.path.startswith("/api/v1/users") else \
            "okta.groups.read"
        if needed not in issued.scopes:
            return Reply(403, self.error_body(403, ""), {
                "WWW-Authenticate": 'Bearer error="insufficient_scope", error_description='
                                    '"The access token provided does not contain the '
                                    f'required scopes.", resource="{call.path}"'})
        if issued.uses_left is not None:
            issued.uses_left -= 1
        return None

    def _oauth_refusal(self, status: int, error: str, description: str,
                       headers: dict[str, str] | None = None) -> Reply:
        self.refused.append(f"{error}: {description}")
        return Reply(status, {"error": error, "error_description": description}, headers or {})

    def _dpop_proof(self, call: Call, method: str, url: str, token: str | None,
                    nonce: str | None) -> tuple[str | None, str]:
        """(the thumbprint of the proof's key, "") or (None, why it is refused; "nonce")."""
        proof = call.headers.get("dpop")
        if not proof:
            return None, "The DPoP proof JWT header is missing."
        try:
            header = jwt.get_unverified_header(proof)
            alg, jwk = header.get("alg"), header.get("jwk")
            if header.get("typ") != "dpop+jwt" or alg not in ("ES256", "RS256"):
                return None, "The DPoP proof JWT has a wrong typ or alg."
            if not isinstance(jwk, dict) or "d" in jwk:
                return None, "The DPoP proof JWT header must carry a public JWK."
            claims = jwt.decode(proof, jwt.PyJWK(jwk, alg).key, algorithms=[alg],
                                options={"require": ["htm", "htu", "iat", "jti"]})
        except jwt.PyJWTError as exc:
            return None, f"The DPoP proof JWT is invalid: {exc}"
        if claims["htm"] != method or claims["htu"] != url:
            return None, "The DPoP proof htm or htu does not match the request."
        if abs(float(claims["iat"]) - time.time()) > 60:
            return None, "The DPoP proof iat is too far from now."
        if claims["jti"] in self._dpop_jtis:
            return None, "The DPoP proof jti has already been used."
        ath = None if token is None else _b64(hashlib.sha256(token.encode()).digest())
        if ath is not None and claims.get("ath") != ath:
            return None, "The DPoP proof ath does not match the access token."
        if nonce is not None and claims.get("nonce") != nonce:
            return None, "nonce"
        self._dpop_jtis.add(claims["jti"])
        return jwk_thumbprint(jwk), ""

    def _token(self, call: Call, body: bytes) -> Reply:
        kind = call.headers.get("content-type", "").split(";")[0].strip()
        if kind != "application/x-www-form-urlencoded":
            raise bad(f"the token request must be a form, not {kind!r}")
        if call.params:
            raise bad("the token request takes its fields in the body, not the URL")
        raw = parse_qs(body.decode(), keep_blank_values=True)
        if any(len(v) > 1 for v in raw.values()):
            raise bad("a repeated form field")
        form = {k: v[0] for k, v in raw.items()}
        known = {"grant_type", "scope", "client_assertion_type", "client_assertion", "client_id"}
        if set(form) - known:
            raise bad(f"unknown form fields {sorted(set(form) - known)}")
        if "client_secret" in form or "authorization" in call.headers:
            raise bad("a service app authenticates with its client assertion only")
        if form.get("grant_type") != "client_credentials":
            return self._oauth_refusal(400, "unsupported_grant_type",
                                       "The authorization grant type is not supported.")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return self._oauth_refusal(401, "invalid_client",
                                       "client_assertion_type is missing or invalid.")
        assertion = form.get("client_assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return self._oauth_refusal(401, "invalid_client",
                                       "The client_assertion is not a valid JWT.")
        app = self.apps.get(str(unverified.get("iss")))
        if app is None:
            return self._oauth_refusal(401, "invalid_client", "The client is not known.")
        jkt: str | None = None
        if app.dpop:
            jkt, why = self._dpop_proof(call, "POST", self.url + TOKEN_PATH, None,
                                        self.dpop_nonce)
            if why == "nonce":
                return self._oauth_refusal(400, "use_dpop_nonce", "Authorization server "
                                           "requires nonce in DPoP proof.",
                                           {"DPoP-Nonce": self.dpop_nonce or ""})
            if jkt is None:
                return self._oauth_refusal(400, "invalid_dpop_proof", why)
        elif "dpop" in call.headers:
            raise bad("a DPoP proof for an app that does not require DPoP")
        alg = header.get("alg")
        if alg not in ("RS256", "ES256"):
            return self._oauth_refusal(401, "invalid_client", f"alg {alg!r} is not supported.")
        if app.key_id and header.get("kid") not in (None, app.key_id):
            return self._oauth_refusal(401, "invalid_client",
                                       "The client_assertion kid is not a key of the client.")
        try:
            claims = jwt.decode(
                assertion, app.public_key, algorithms=[alg], audience=self.url + TOKEN_PATH,
                issuer=app.client_id, options={"require": ["iss", "sub", "aud", "exp", "jti"]})
        except jwt.InvalidSignatureError:
            return self._oauth_refusal(401, "invalid_client",
                                       "The client_assertion signature is invalid.")
        except jwt.InvalidAudienceError:
            return self._oauth_refusal(401, "invalid_client",
                                       "The audience claim for client_assertion must be the "
                                       "endpoint invoked for the request.")
        except jwt.ExpiredSignatureError:
            return self._oauth_refusal(401, "invalid_client",
                                       "The client_assertion token is expired.")
        except jwt.PyJWTError as exc:
            return self._oauth_refusal(401, "invalid_client", f"The client_assertion: {exc}")
        if claims.get("sub") != app.client_id or form.get("client_id", app.client_id) != \
                app.client_id:
            return self._oauth_refusal(401, "invalid_client",
                                       "sub (and client_id) must be the client's id.")
        if float(claims["exp"]) > time.time() + 3600 + 5:
            return self._oauth_refusal(401, "invalid_client",
                                       "The client_assertion token has an expiration too far "
                                       "into the future.")
        if claims["jti"] in self._jtis:
            return self._oauth_refusal(401, "invalid_client",
                                       "The client_assertion token has already been used.")
        self._jtis.add(claims["jti"])
        scopes = form.get("scope", "").split()
        if not scopes:
            return self._oauth_refusal(400, "invalid_scope", "'scope' must be provided.")
        missing = [sc for sc in scopes if sc not in app.granted]
        if missing:
            return self._oauth_refusal(400, "invalid_scope",
                                       "The following scopes are not allowed for the client: "
                                       + " ".join(missing))
        token = secrets.token_urlsafe(32)
        self.issued[token] = Issued(app.client_id, frozenset(scopes),
                                    time.time() + app.token_lifetime, self.token_max_uses, jkt)
        return Reply(200, {"token_type": "DPoP" if jkt else "Bearer",
                           "expires_in": app.token_lifetime,
                           "access_token": token, "scope": " ".join(scopes)},
                     {"Cache-Control": "no-store", "Pragma": "no-cache"})

    @staticmethod
    def _limit(limits: tuple[int, int], params: dict[str, str]) -> int:
        default, most = limits
        value = params.get("limit", str(default))
        if not value.isdigit() or int(value) < 1:
            raise bad(f"limit {value!r}")
        return min(int(value), most)

    def _link(self, path: str, params: dict[str, str]) -> str:
        query = "&".join(f"{k}={quote(v)}" for k, v in params.items())
        return f"{self.url}{path}" + (f"?{query}" if query else "")

    def _page(self, path: str, params: dict[str, str], items: list[dict[str, Any]],
              offset: int, size: int) -> Reply:
        links = [f'<{self._link(path, params)}>; rel="self"']
        if offset + size < len(items):
            cursor = secrets.token_urlsafe(12)
            self._cursors[cursor] = (path, params, offset + size)
            self._items[cursor] = (items, size)
            link = self._link(path, {**params, "after": cursor})
            loop = self.loop_after.get(path)
            if loop is not None and offset // size + 1 >= loop and path in self._last_next:
                link = self._last_next[path]
            self._last_next[path] = link
            links.append(f'<{link}>; rel="next"')
        return Reply(200, items[offset:offset + size], {"Link": links})

    def _next(self, path: str, params: dict[str, str]) -> Reply:
        cursor = params.pop("after")
        state = self._cursors.get(cursor)
        if state is None or state[0] != path or state[1] != params:
            raise bad("an unknown or edited after cursor (it is opaque: follow rel=next)")
        items, size = self._items[cursor]
        return self._page(path, params, items, state[2], size)



# -- the shared organisation ---------------------------------------------------------------------

STATUS = {org.PersonStatus.ACTIVE: "ACTIVE", org.PersonStatus.DISABLED: "SUSPENDED",
          org.PersonStatus.LEFT: "DEPROVISIONED"}


def load_org(double: OktaDouble) -> dict[str, str]:
    """Load tests/contract/org.py, LEFT people as DEPROVISIONED; Okta groups do not nest, so
    people are members of every group they are in through nesting. Managers are named by
    employee number in ``profile.managerId``, as HR-driven Okta profiles do."""
    key_of: dict[str, str] = {}
    for p in org.people():
        uid = okta_id("00u", p.key)
        key_of[p.key] = uid
        double.add_user(OktaUser(uid, STATUS[p.status], {
            "firstName": p.first_name, "lastName": p.last_name, "login": p.login,
            "email": p.email, "employeeNumber": p.key, "department": p.department,
            "title": p.title, "managerId": p.manager, "mobilePhone": None, "secondEmail": None,
        }))
    gids = {g.name: double.add_group(g.name) for g in org.GROUPS}
    for p in org.people():
        for name in sorted(org.effective_groups(p)):
            double.groups[gids[name]].members.append(key_of[p.key])
    return key_of


def okta_reader(double: OktaDouble, *, page_size: int = 200, member_page_size: int = 1000,
                retries: int = 4, sleep: Any = None, private_key: str | None = None,
                clock: Any = None, **settings: Any) -> Any:
    """An OktaDirectory pointed at the double; ``sleep`` records waits instead of sleeping.
    With ``private_key``, the reader is the service app (``auth = "oauth"``, client_id
    :data:`CLIENT_ID` unless given)."""
    from connector.config import OktaSource
    from connector.directory.okta import OktaDirectory

    if private_key is not None:
        settings = {"auth": "oauth", "client_id": CLIENT_ID, **settings}
    source = OktaSource(type="okta", url=double.url, page_size=page_size,
                        member_page_size=member_page_size, retries=retries, **settings)
    extra: dict[str, Any] = {} if clock is None else {"clock": clock}
    return OktaDirectory(source, None if private_key is not None else double.token,
                         private_key=private_key,
                         sleep=sleep if sleep is not None else (lambda _s: None), **extra)


def register_app(double: OktaDouble, *, key: tuple[str, Any] | None = None,
                 **app: Any) -> str:
    """Register the service app :data:`CLIENT_ID` with a new RSA key (or ``key``); the
    private key's PEM."""
    pem, public = key if key is not None else rsa_key()
    double.register_app(OktaApp(app.pop("client_id", CLIENT_ID), public, **app))
    return pem


@pytest.fixture
def okta_double() -> Iterator[OktaDouble]:
    double = OktaDouble().start()
    try:
        yield double
    finally:
        double.stop()
    assert double.unexpected == [], "requests the real Okta would refuse"
