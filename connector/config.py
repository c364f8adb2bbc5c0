"""Settings: one TOML file (``upskill.toml``), every value overridable by ``UPSKILL_...``.

Precedence, highest first: environment variables (``UPSKILL_MOODLE__URL``: sections joined
by a double underscore), the configuration file, the embedded defaults. The file is the one
given by ``--config``, else ``UPSKILL_CONFIG``, else ``./upskill.toml`` when it exists; with no
file at all the embedded defaults run the bundled sample organisation against a local Moodle
sandbox.

Secrets are :class:`~pydantic.SecretStr`, given either inline through the environment
(``UPSKILL_MOODLE__TOKEN``) or as a path to a file holding them (``token_file``). They are
never printed: ``repr`` and ``upskill config check`` show ``**********``.

Relative paths are resolved against the folder of the configuration file, or the working
directory when there is none.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from connector.errors import ConfigError
from connector.transport import is_loopback_host, is_plaintext_remote, plaintext_refusal

DEFAULT_CONFIG_NAME = "upskill.toml"
ENV_PREFIX = "UPSKILL_"

_file_values: ContextVar[dict[str, Any] | None] = ContextVar("_file_values", default=None)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def read_secret(inline: SecretStr | None, path: Path | None, what: str) -> str | None:
    """The secret's value, from the inline setting or the file it points to."""
    if inline is not None:
        return inline.get_secret_value()
    if path is None:
        return None
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            f"{what}: cannot read the secret file {path} ({exc.strerror}); "
            "check the path and its permissions"
        ) from exc
    if not value:
        raise ConfigError(f"{what}: the secret file {path} is empty")
    return value


class CsvColumns(Section):
    """Column names of the HR export. Empty means the export has no such column."""

    key: str = "employee_id"
    email: str = "work_email"
    first_name: str = "first_name"
    last_name: str = "last_name"
    department: str = "department"
    title: str = "title"
    manager_key: str = "manager_employee_id"
    status: str = "status"
    groups: str = "groups"
    extra: tuple[str, ...] = ("division", "location", "employment_type", "cost_center")


class CsvStatuses(Section):
    """Which values of the status column mean what (compared case-insensitively)."""

    active: tuple[str, ...] = ("active", "")
    disabled: tuple[str, ...] = ("leave", "disabled", "suspended", "inactive")
    left: tuple[str, ...] = ("terminated", "left", "deprovisioned")


class CsvSource(Section):
    """An HR export as a CSV file."""

    type: Literal["csv"] = "csv"
    path: Path = Path("examples/org.csv")
    groups_path: Path | None = None  # group,parent nesting edges; default: groups.csv beside
    encoding: str = "auto"  # auto: UTF-8 with or without BOM, else cp1252
    delimiter: str = "auto"  # auto: detected among , ; tab |
    group_separator: str = ";"
    columns: CsvColumns = CsvColumns()
    statuses: CsvStatuses = CsvStatuses()

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if value != "auto" and len(value) != 1:
            raise ValueError("must be 'auto' or a single character such as ',' or ';'")
        return value


class LdapAttributes(Section):
    """Attribute names of the LDAP reader. Empty means the flavour's default (see README)."""

    key: str = ""  # ad: objectGUID; openldap: entryUUID
    email: str = "mail"
    first_name: str = "givenName"
    last_name: str = "sn"
    department: str = ""  # ad: department; openldap: departmentNumber
    title: str = "title"
    manager: str = "manager"
    member: str = "member"
    member_of: str = ""  # when set, people's direct groups come from this attribute
    group_name: str = ""  # ad: cn, or description when the cn was cut to 64; openldap: cn
    employee_id: str = ""  # ad: employeeID; openldap: employeeNumber (explain accepts it)
    username: str = ""  # ad: sAMAccountName; openldap: uid (explain accepts it)


class LdapDisabledRule(Section):
    """Which people are disabled or gone. On AD userAccountControl bit 2 always disables."""

    attribute: str = "pwdAccountLockedTime"
    values: tuple[str, ...] = ()  # empty: the attribute being present means disabled
    left_values: tuple[str, ...] = ()  # values of the same attribute that mean "left"


class LdapSource(Section):
    """Active Directory or OpenLDAP, read with ldap3."""

    type: Literal["ldap"]
    flavour: Literal["openldap", "ad"] = "openldap"
    url: str
    start_tls: bool = False
    ca_file: Path | None = None
    bind_dn: str = ""  # empty: anonymous bind
    password: SecretStr | None = None
    password_file: Path | None = None
    user_base: str
    user_filter: str = ""  # empty: the flavour default (README)
    group_base: str = ""  # empty: user_base
    group_filter: str = ""  # empty: the flavour default (README)
    people_in_group: str = ""  # only the members (through nesting) of the group of this name
    page_size: int = Field(500, ge=1, le=100_000)
    range_size: int | None = Field(None, ge=1)  # ad: ask member values in ranges of this size
    timeout: float = Field(30.0, gt=0)
    attributes: LdapAttributes = LdapAttributes()
    disabled: LdapDisabledRule = LdapDisabledRule()
    allow_plaintext: bool = False  # a bind password over ldap:// without TLS to a remote host

    @field_validator("url")
    @classmethod
    def _ldap_url(cls, value: str) -> str:
        if not value.startswith(("ldap://", "ldaps://")):
            raise ValueError("must start with ldap:// or ldaps://, e.g. ldaps://dc1.example.org")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _consistent(self) -> LdapSource:
        if self.password is not None and self.password_file is not None:
            raise ValueError("set either password (environment) or password_file, not both")
        if self.start_tls and self.url.startswith("ldaps://"):
            raise ValueError("start_tls is for ldap:// URLs; an ldaps:// URL is TLS already")
        has_password = self.password is not None or self.password_file is not None
        if (has_password and not self.start_tls and not self.allow_plaintext
                and is_plaintext_remote(self.url)):
            raise ValueError(plaintext_refusal("directory", self.url, "the bind password"))
        return self


def _https_url(value: str, example: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"must start with https:// (or http:// for a local test), e.g. {example}")
    return value.rstrip("/")


class _WebSource(Section):
    """What every directory read over HTTPS shares."""

    timeout: float = Field(30.0, gt=0)  # seconds per request
    retries: int = Field(4, ge=0, le=10)  # further attempts after a transient fault or a 429
    max_wait: float = Field(120.0, ge=0)  # longest single wait a server may ask for (seconds)
    verify_tls: bool = True
    ca_file: Path | None = None
    allow_plaintext: bool = False  # http:// to a host that is not loopback (never in production)

    @model_validator(mode="after")
    def _no_plaintext(self) -> _WebSource:
        if not self.allow_plaintext:
            for name in ("url", "graph_url", "authority_url"):
                url = getattr(self, name, None)
                if isinstance(url, str) and is_plaintext_remote(url):
                    raise ValueError(f"{name}: " + plaintext_refusal(
                        "directory", url, "the credentials and every person's record"))
        return self


class GraphSource(_WebSource):
    """Microsoft Entra ID through Microsoft Graph (application permissions User.Read.All and
    GroupMember.Read.All, client-credentials grant)."""

    type: Literal["graph"]
    tenant_id: str = Field(min_length=1)
    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = None
    client_secret_file: Path | None = None
    authority_url: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    page_size: int = Field(999, ge=1, le=999)
    delta: bool = True  # nightly syncs read only what changed (delta queries)
    full_read_days: float = Field(7.0, gt=0)  # and read everything again this often

    @field_validator("authority_url", "graph_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _https_url(value, "https://graph.microsoft.com/v1.0")

    @model_validator(mode="after")
    def _one_secret(self) -> GraphSource:
        if self.client_secret is not None and self.client_secret_file is not None:
            raise ValueError("set either client_secret (environment) or client_secret_file")
        return self


class OktaSource(_WebSource):
    """Okta's Management API with an API token (SSWS) of a read-only administrator, or
    (``auth = "oauth"``) an OAuth 2.0 service app: client credentials with ``private_key_jwt``."""

    type: Literal["okta"]
    url: str  # the org URL, e.g. https://acme.okta.com
    token: SecretStr | None = None
    token_file: Path | None = None
    page_size: int = Field(200, ge=1, le=200)  # /api/v1/users
    member_page_size: int = Field(1000, ge=1, le=1000)  # /api/v1/groups/{id}/users
    client_id: str = ""  # auth = "oauth": the Client ID of the API Services app
    private_key: SecretStr | None = None  # PEM (or JWK JSON); from UPSKILL_DIRECTORY__PRIVATE_KEY
    private_key_file: Path | None = None
    key_id: str = ""  # the kid of the public key registered with the app (empty: none sent)
    scopes: tuple[str, ...] = ("okta.users.read", "okta.groups.read")
    # Last, and validated even when left out: its validator sees every other field.
    auth: Literal["ssws", "oauth"] = Field("ssws", validate_default=True)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _https_url(value, "https://acme.okta.com")

    @field_validator("scopes", mode="before")
    @classmethod
    def _scope_list(cls, value: Any) -> Any:
        return value.split() if isinstance(value, str) else value  # "a b" or ["a", "b"]

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("must name the scopes to ask for, e.g. "
                             '["okta.users.read", "okta.groups.read"]')
        return value

    @field_validator("auth")
    @classmethod
    def _auth(cls, value: str, info: ValidationInfo) -> str:
        # Checked here, not in a model validator: a model validator's error shows the whole
        # section, private key included; this one shows only the value of ``auth``.
        given = info.data
        oauth_only = [n for n in ("client_id", "private_key", "private_key_file", "key_id")
                      if given.get(n)]
        if value == "ssws" and oauth_only:
            raise ValueError(
                f"{', '.join(oauth_only)}: settings of OAuth; set auth = \"oauth\" to use the "
                "service app, or remove them to keep the API token (SSWS)")
        if value == "oauth":
            if not given.get("client_id"):
                raise ValueError(
                    'auth = "oauth" needs client_id: the Client ID of the Okta API Services '
                    "app (Admin Console > Applications > the app > General)")
            if given.get("token") is not None or given.get("token_file") is not None:
                raise ValueError(
                    'token / token_file are the API token of auth = "ssws"; remove them '
                    "(and UPSKILL_DIRECTORY__TOKEN) to use the OAuth service app")
            if given.get("private_key") is not None and given.get("private_key_file"):
                raise ValueError("set either private_key (environment "
                                 "UPSKILL_DIRECTORY__PRIVATE_KEY) or private_key_file, not both")
        return value

    @model_validator(mode="after")
    def _one_token(self) -> OktaSource:
        if self.token is not None and self.token_file is not None:
            raise ValueError("set either token (environment) or token_file, not both")
        return self


class ScimSource(_WebSource):
    """A SCIM 2.0 service provider (RFC 7644) read with a bearer token."""

    type: Literal["scim"]
    url: str  # the SCIM base URL, e.g. https://idp.example.org/scim/v2
    token: SecretStr | None = None
    token_file: Path | None = None
    page_size: int = Field(100, ge=1, le=10_000)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _https_url(value, "https://idp.example.org/scim/v2")

    @model_validator(mode="after")
    def _one_token(self) -> ScimSource:
        if self.token is not None and self.token_file is not None:
            raise ValueError("set either token (environment) or token_file, not both")
        return self


class DirectoryGuardSettings(Section):
    """The outage guard: a read smaller than the last good one by more than ``max_shrink``
    (a share, 0.10 = 10 %) stops the run before planning; ``--accept-shrink`` confirms it."""

    max_shrink: float = Field(0.10, ge=0, le=1)


class StateSettings(Section):
    """The state database: SQLite by default, PostgreSQL through a URL."""

    url: SecretStr | None = None  # may hold a password: treated as a secret
    url_file: Path | None = None

    @model_validator(mode="after")
    def _one_url_source(self) -> StateSettings:
        if self.url is not None and self.url_file is not None:
            raise ValueError("set either url (environment) or url_file, not both")
        return self


class MappingsSettings(Section):
    path: Path = Path("mappings")


MoodleAuth = Literal["manual", "oauth2", "saml2", "ldap", "shibboleth", "cas", "nologin"]


class MoodleSettings(Section):
    """A Moodle site reached through its REST web services."""

    enabled: bool = True
    url: str = "http://127.0.0.1:8765"
    token: SecretStr | None = None
    token_file: Path | None = None
    timeout: float = Field(30.0, gt=0)
    verify_tls: bool = True
    ca_file: Path | None = None
    retries: int = Field(3, ge=0, le=10)
    max_input_vars: int = Field(4000, ge=100)  # form pairs per request, under PHP's limit
    student_role_id: int = Field(5, ge=1)
    auth: MoodleAuth = "manual"
    username_from: Literal["email", "key"] = "email"
    removal: Literal["suspend", "unenroll"] = "suspend"  # unenrol deletes grades on Moodle
    # -- production depth (issue 5); each option is described in the README --------------
    match_by: tuple[Literal["idnumber", "email", "username"], ...] = (
        "idnumber",
        "email",
        "username",
    )
    update_profiles: bool = True  # update changed names and e-mails of matched accounts
    suspend_leavers: bool = False  # suspend the Moodle account of a person who left
    verify_writes: bool = True  # read enrolments back after writing them
    page_size: int = Field(1000, ge=1, le=100_000)  # core_enrol_get_enrolled_users page
    due_dates_to_timeend: bool = False  # a course's due_days become the enrolment's timeend
    cohort_courses: tuple[str, ...] = ()  # courses enrolled through cohort sync
    cohort_prefix: str = "upskill-"  # cohort idnumber = prefix + course short name
    completion_concurrency: int = Field(4, ge=1, le=32)
    completion_budget: int = Field(0, ge=0)  # requests per run for completion; 0 = no limit
    completion_per_user: bool = True  # core_enrol_get_users_courses per learner (progress)
    full_check_days: int = Field(7, ge=0)  # also re-read completed enrollments every N days
    requests_per_second: float = Field(0.0, ge=0)  # 0 = no limit
    pause_between_batches: float = Field(0.0, ge=0, le=60)  # seconds after each write batch
    allow_plaintext: bool = False  # http:// to a host that is not loopback (never in production)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://, e.g. https://moodle.example.org")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_token_source(self) -> MoodleSettings:
        if self.token is not None and self.token_file is not None:
            raise ValueError("set either token (environment) or token_file, not both")
        if not self.allow_plaintext and is_plaintext_remote(self.url):
            raise ValueError("url: " + plaintext_refusal(
                "targets.moodle", self.url, "the web service token and every person's record"))
        return self


class SkillBuilderUpload(Section):
    """The upload files the Skill Builder console takes (``[targets.skillbuilder.upload]``):
    column names in their order, the due-date format (strftime) and the word for each kind of
    catalogue item. The defaults are documented in the README; match them to the console's
    current templates."""

    learner_columns: tuple[str, ...] = ("Email", "First name", "Last name")
    learner_fields: tuple[Literal["email", "first_name", "last_name", "department", "title"],
                          ...] = ("email", "first_name", "last_name")
    assignment_columns: tuple[str, ...] = ("Email", "Item ID", "Item type", "Due date")
    assignment_fields: tuple[Literal["email", "item", "kind", "due_date", "title"], ...] = (
        "email", "item", "kind", "due_date",
    )
    date_format: str = "%Y-%m-%d"
    course_word: str = "Course"
    learning_plan_word: str = "Learning plan"

    @model_validator(mode="after")
    def _paired(self) -> SkillBuilderUpload:
        for names, fields, what in (
            (self.learner_columns, self.learner_fields, "learner"),
            (self.assignment_columns, self.assignment_fields, "assignment"),
        ):
            if len(names) != len(fields):
                raise ValueError(
                    f"{what}_columns names {len(names)} column(s) and {what}_fields "
                    f"{len(fields)}: give one field for each column, in the same order"
                )
            if "email" not in fields:
                raise ValueError(f"{what}_fields must include email (learners are e-mails)")
        if "item" not in self.assignment_fields:
            raise ValueError("assignment_fields must include item")
        return self


class SkillBuilderReportFormat(Section):
    """The progress report the console exports (``[targets.skillbuilder.report]``): the
    column of each field (compared without regard to case and surrounding spaces), the words
    of each status, and the date formats tried in order."""

    email_column: str = "Email"
    item_column: str = "Item ID"
    status_column: str = "Status"
    percent_column: str = "Progress (%)"  # empty: the report has no such column
    completed_column: str = "Completion date"  # empty: the report has no such column
    title_column: str = "Item name"  # only to name the item in messages; may be absent
    not_started: tuple[str, ...] = ("not started", "assigned", "registered", "enrolled")
    in_progress: tuple[str, ...] = ("in progress", "started", "in-progress")
    completed: tuple[str, ...] = ("completed", "complete", "passed", "finished")
    date_formats: tuple[str, ...] = (
        "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S", "%Y/%m/%d", "%m/%d/%Y", "%m/%d/%Y %H:%M", "%d %b %Y", "%b %d, %Y",
    )


class SkillBuilderSettings(Section):
    """AWS Skill Builder through files (no enrollment API): upload batches written to
    ``outbox`` (and copied to ``drop_dir`` for an existing upload job), progress reports read
    from ``inbox`` by every sync or imported with ``upskill skillbuilder import``."""

    enabled: bool = False
    outbox: Path = Path("var/skillbuilder/outbox")
    drop_dir: Path | None = None
    inbox: Path = Path("var/skillbuilder/inbox")
    stuck_after_days: int = Field(7, ge=0)  # a request unconfirmed this long is stuck
    upload: SkillBuilderUpload = SkillBuilderUpload()
    report: SkillBuilderReportFormat = SkillBuilderReportFormat()


class TargetsSettings(Section):
    moodle: MoodleSettings = MoodleSettings()
    skillbuilder: SkillBuilderSettings = SkillBuilderSettings()


class SmtpSettings(Section):
    """The SMTP server that sends the reports (``[report.smtp]``)."""

    host: str
    port: int | None = Field(None, ge=1, le=65535)  # default: 587 starttls, 465 tls, 25 none
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None  # UPSKILL_REPORT__SMTP__PASSWORD, or password_file
    password_file: Path | None = None
    verify_tls: bool = True  # never switch off in production; use ca_file for a private CA
    ca_file: Path | None = None
    timeout: float = Field(30.0, gt=0)
    retries: int = Field(3, ge=0, le=10)  # per message, transient faults only
    local_hostname: str | None = None  # the EHLO name; default: this host's name
    allow_plaintext: bool = False  # security = "none" to a host that is not loopback

    @model_validator(mode="after")
    def _one_password_source(self) -> SmtpSettings:
        if self.password is not None and self.password_file is not None:
            raise ValueError("set either password (environment) or password_file, not both")
        if (self.password is not None or self.password_file is not None) and not self.username:
            raise ValueError("a password needs a username")
        if (self.security == "none" and not self.allow_plaintext
                and not is_loopback_host(self.host)):
            raise ValueError(
                f'security = "none": {self.host} is not this machine, and SMTP without TLS '
                "would carry the login and every report readable on the network; use "
                '"starttls" or "tls", or set report.smtp.allow_plaintext = true to accept that '
                "(every run then warns)")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or {"starttls": 587, "tls": 465, "none": 25}[self.security]


XAPI_COMPLETION_VERBS = (
    "http://adlnet.gov/expapi/verbs/completed",
    "http://adlnet.gov/expapi/verbs/passed",
    "http://adlnet.gov/expapi/verbs/mastered",
    "https://w3id.org/xapi/adl/verbs/satisfied",
)
XAPI_PROGRESS_VERBS = (
    "http://adlnet.gov/expapi/verbs/progressed",
    "http://adlnet.gov/expapi/verbs/attempted",
    "http://adlnet.gov/expapi/verbs/experienced",
    "http://adlnet.gov/expapi/verbs/launched",
    "http://adlnet.gov/expapi/verbs/initialized",
)
"""Verbs that say a learner began a course (cmi5's ``launched``/``initialized``, SCORM-style
``attempted``, ``experienced``) or moved on in it (``progressed``, with cmi5's progress
extension where present): the course is in progress until a completion verb completes it."""


class XapiSettings(Section):
    """A Learning Record Store to read completion statements from (``[progress.xapi]``).
    A statement with one of ``verbs`` on an activity that a course of the bundles lists under
    ``activities`` completes that course for the person its actor names (by ``mbox``,
    ``mbox_sha1sum`` or ``account.name``: a person key or an e-mail). A statement with one of
    ``progress_verbs`` (or a completion verb whose result says not complete) puts the course in
    progress for the person until it is completed."""

    endpoint: str  # the xAPI base URL, e.g. https://lrs.example.org/data/xAPI/
    username: str | None = None  # the Basic authentication key
    password: SecretStr | None = None  # UPSKILL_PROGRESS__XAPI__PASSWORD, or password_file
    password_file: Path | None = None
    verbs: list[str] = list(XAPI_COMPLETION_VERBS)
    progress_verbs: list[str] = list(XAPI_PROGRESS_VERBS)  # [] reads completions only
    overlap_minutes: int = Field(10, ge=0, le=1440)  # each read re-reads this much, by stored
    read_from: datetime | None = None  # the first read starts here (default: all the LRS holds)
    # an actor given as an account (homePage, name) names a person only when its homePage is
    # one of these (an LMS's user ids mean nothing elsewhere); the name is a person key or an
    # e-mail
    account_homepages: list[str] = []
    page_size: int = Field(500, ge=1, le=10000)
    timeout: float = Field(30.0, gt=0)
    retries: int = Field(3, ge=0, le=10)
    max_wait: float = Field(60.0, gt=0)  # the longest Retry-After honoured
    verify_tls: bool = True
    ca_file: Path | None = None
    allow_plaintext: bool = False  # http:// to a host that is not loopback (never in production)

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("give the LRS's xAPI base URL, e.g. https://lrs.example.org/xAPI/")
        return value if value.endswith("/") else value + "/"

    @model_validator(mode="after")
    def _one_password_source(self) -> XapiSettings:
        if self.password is not None and self.password_file is not None:
            raise ValueError("set either password (environment) or password_file, not both")
        if not self.allow_plaintext and is_plaintext_remote(self.endpoint):
            raise ValueError("endpoint: " + plaintext_refusal(
                "progress.xapi", self.endpoint, "the LRS credentials"))
        return self


class ProgressSettings(Section):
    """Completion sources beside the targets themselves."""

    xapi: XapiSettings | None = None


class ReportSettings(Section):
    out_dir: Path = Path("var/reports")
    title: str = "Generative AI upskilling progress"
    templates_dir: Path | None = None  # report.html.j2 / report.txt.j2 here win over the shipped
    period: Literal["week", "month"] = "week"  # the default --period: current ISO week or month
    sender: str = "Upskill reports <upskill@localhost.localdomain>"
    reply_to: str | None = None
    subject: str = "{title}: {period}, {scope}"  # fields: title, period, leader, scope
    admins: tuple[str, ...] = ()  # e-mail addresses of the admin summary after each sync
    admin_dir: Path = Path("var/reports/admin")  # the summary as a file without smtp or admins
    empty_scope: Literal["send", "skip"] = "send"  # a leader with nobody in scope
    # a leader's or department's report: the organisation's completion rate, overdue share
    # and weekly trend beside its own ("organisation"), or only its own ("none")
    compare_with: Literal["organisation", "none"] = "organisation"
    smtp: SmtpSettings | None = None

    @field_validator("subject")
    @classmethod
    def _subject_fields(cls, value: str) -> str:
        import string

        try:
            names = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
        except ValueError as exc:
            raise ValueError(f"not a valid template ({exc}); use {{title}}, {{period}}") from exc
        unknown = names - {"title", "period", "leader", "scope"}
        if unknown:
            raise ValueError(
                f"unknown field(s) {', '.join(sorted(unknown))}: use title, period, leader, scope"
            )
        return value


class ScheduleSettings(Section):
    """When ``upskill worker`` runs the nightly sync, and when it e-mails the leaders the
    report of the last complete period (five cron fields each, in ``timezone``;
    ``report_cron = ""`` turns the reports off; they need ``[report.smtp]``)."""

    cron: str = "0 2 * * *"
    report_cron: str = "0 7 * * 1"  # Monday 07:00: last week's report
    timezone: str = "UTC"


class MonitoringSettings(Section):
    """What monitoring reads (README "Operating it"): the worker serves ``/metrics`` and
    ``/healthz`` on ``listen`` (``""``: not at all); one-shot commands write the same metrics
    to ``textfile`` for node_exporter (``""``: none); ``upskill status`` exits 1 when the last
    real sync failed or finished more than ``max_sync_age_hours`` ago."""

    listen: str = "127.0.0.1:9464"
    textfile: Path | None = None
    max_sync_age_hours: float = Field(26.0, gt=0)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if value and (not sep or not host or not port.isdigit() or int(port) > 65535):
            raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:9464 (0.0.0.0:9464 in a pod)")
        return value


class LoggingSettings(Section):
    """Log lines on standard error: ``text`` (timestamp, level, run id, logger, message) or
    ``json`` (one object a line); ``level`` is the connector's, libraries stay at WARNING."""

    format: Literal["text", "json"] = "text"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    libraries: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"


class GuardSettings(Section):
    """Safety guards checked before every apply (connector/sync/guards.py): the run stops
    with nothing written when a plan removes enrollments from more than ``max_removals``
    people or ``max_removal_share`` percent of the population, or moves a tier's headcount
    share more than ``max_tier_shift`` points against the last applied run. The share guards
    ignore changes of ``min_people`` people or fewer (one leaver of a ten-person team is not
    an accident). ``upskill sync --approve-plan FILE`` applies a reviewed plan past them."""

    max_removals: int = Field(50, ge=0)
    max_removal_share: float = Field(5.0, ge=0, le=100)
    max_tier_shift: float = Field(10.0, ge=0, le=100)
    min_people: int = Field(5, ge=0)


class RemovalSettings(Section):
    """The grace period before an unwanted enrollment is suspended or unenrolled (the mode is
    per target: targets.<name>.removal), and what becomes of an enrollment an administrator
    suspended by hand on the target (found by ``sync --reconcile``): ``keep`` it suspended
    until ``upskill sync --restore PERSON`` (like a removal by hand), or ``revive`` it."""

    grace_days: int = Field(14, ge=0, le=3650)
    hand_suspensions: Literal["keep", "revive"] = "keep"
    # reconcile stops rather than record more than this share (percent) of a course's
    # enrollments as removed by hand, unless --accept-hand-removals; courses losing
    # max_hand_removal_min people or fewer are never stopped
    max_hand_removal_share: float = Field(50.0, ge=0, le=100)
    max_hand_removal_min: int = Field(5, ge=0)


class SyncSettings(Section):
    """A change the target refuses the same way (same error code, same directory record) in
    ``quarantine_after`` runs in a row is quarantined: not sent again until the person's
    record changes or ``upskill sync --retry-quarantined``; 0 never quarantines."""

    quarantine_after: int = Field(3, ge=0, le=1000)
    # the longest a sync may write: past it, the run stops between two batches, recorded as
    # stopped with what it applied; the next run goes on from there (0: no limit)
    max_minutes: float = Field(360.0, ge=0)
    # people on leave (the directory's disabled statuses): "enroll" gives them their bundle
    # like everyone (their courses wait for them; never overdue in a report), "hold" keeps
    # what they have and sends nothing new; nothing of theirs is removed either way
    on_leave: Literal["enroll", "hold"] = "enroll"


class Settings(BaseSettings):
    """The whole configuration."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    base_dir: Path = Path(".")
    directory: Annotated[
        CsvSource | LdapSource | GraphSource | OktaSource | ScimSource,
        Field(discriminator="type"),
    ] = CsvSource()
    directory_guard: DirectoryGuardSettings = DirectoryGuardSettings()
    state: StateSettings = StateSettings()
    mappings: MappingsSettings = MappingsSettings()
    targets: TargetsSettings = TargetsSettings()
    report: ReportSettings = ReportSettings()
    progress: ProgressSettings = ProgressSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    guards: GuardSettings = GuardSettings()
    removal: RemovalSettings = RemovalSettings()
    sync: SyncSettings = SyncSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    logging: LoggingSettings = LoggingSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _FileSource(settings_cls))

    @field_validator("directory", mode="before")
    @classmethod
    def _csv_by_default(cls, value: Any) -> Any:
        """A ``[directory]`` section without ``type`` is the HR export (``type = "csv"``)."""
        if isinstance(value, dict) and "type" not in value:
            return {**value, "type": "csv"}
        return value

    def path(self, value: Path) -> Path:
        """A configured path, resolved against the configuration's folder."""
        return value if value.is_absolute() else (self.base_dir / value)

    def state_url(self) -> str:
        url = read_secret(self.state.url, self.path_or_none(self.state.url_file), "state.url")
        if url:
            return url
        return f"sqlite:///{self.path(Path('var/upskill.db'))}"

    def moodle_token(self) -> str | None:
        moodle = self.targets.moodle
        return read_secret(moodle.token, self.path_or_none(moodle.token_file), "targets.moodle")

    def xapi_password(self) -> str | None:
        xapi = self.progress.xapi
        if xapi is None:
            return None
        return read_secret(
            xapi.password, self.path_or_none(xapi.password_file), "progress.xapi"
        )

    def smtp_password(self) -> str | None:
        smtp = self.report.smtp
        if smtp is None:
            return None
        return read_secret(smtp.password, self.path_or_none(smtp.password_file), "report.smtp")

    def path_or_none(self, value: Path | None) -> Path | None:
        return None if value is None else self.path(value)


class _FileSource(PydanticBaseSettingsSource):
    """Values read from the configuration file (already parsed by :func:`load_settings`)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return (_file_values.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_file_values.get() or {})


def config_path(explicit: str | Path | None) -> Path | None:
    """The configuration file to read, or None to run on the embedded defaults."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get("UPSKILL_CONFIG")
    if from_env:
        return Path(from_env)
    default = Path(DEFAULT_CONFIG_NAME)
    return default if default.exists() else None


def load_settings(explicit: str | Path | None = None) -> Settings:
    """Read and validate the configuration; raise :class:`ConfigError` listing every problem."""
    path = config_path(explicit)
    values: dict[str, Any] = {}
    where = "embedded defaults"
    if path is not None:
        where = str(path)
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(
                f"{path}: configuration file not found; pass --config or set UPSKILL_CONFIG"
            ) from exc
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the configuration ({exc.strerror})") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
        values.setdefault("base_dir", str(path.resolve().parent))
    token = _file_values.set(values)
    try:
        settings = Settings()
    except ValidationError as exc:
        raise ConfigError(
            f"{where}: the configuration has {exc.error_count()} problem(s)",
            [_describe(err) for err in exc.errors()],
        ) from None
    finally:
        _file_values.reset(token)
    return settings


# Settings an earlier version read, and what took their place: the message says where to move
# the value rather than calling a key the README once documented unknown.
MOVED = {
    "report.stuck_after_days": (
        "moved: stuck is now about Skill Builder requests a report has not confirmed; set "
        "[targets.skillbuilder] stuck_after_days (default 7) and delete this key"
    ),
}

DIRECTORY_TYPES = frozenset({"csv", "ldap", "graph", "okta", "scim"})


def _describe(err: Any) -> str:
    parts = [str(p) for p in err["loc"]]
    if len(parts) > 1 and parts[0] == "directory" and parts[1] in DIRECTORY_TYPES:
        del parts[1]  # the union's tag: the user wrote directory.x, not directory.csv.x
    loc = ".".join(parts)
    env = ENV_PREFIX + "__".join(p.upper() for p in parts)
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = MOVED.get(loc, "unknown setting; check its spelling against the README")
    quiet = ("extra_forbidden", "missing", "union_tag_invalid", "union_tag_not_found")
    value = None if err["type"] in quiet else _safe(err)  # a tag error shows the section
    shown = "" if value is None else f" (got {value})"
    return f"{loc}: {msg}{shown} [file key {loc} or variable {env}]"


SECRET_WORDS = ("token", "password", "secret", "key", "url", "endpoint", "credential")


def _safe(err: Any) -> str | None:
    """The input of a validation error as the message may quote it: a single plain value of a
    field that cannot hold a secret; a secret field's value is masked, and a whole section (a
    model validator's input holds every field, secrets included) is not shown at all."""
    value = err.get("input")
    if isinstance(value, dict | list | tuple):
        return None
    if not isinstance(value, str | int | float | bool) or any(
        any(word in str(p).lower() for word in SECRET_WORDS) for p in err["loc"]
    ):
        return "**********"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
