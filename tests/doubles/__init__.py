"""HTTP doubles of services with no local server (Microsoft Graph, Okta), strict and faithful
to shared/reference/directory-apis.md."""
