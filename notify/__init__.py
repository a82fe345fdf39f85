"""The third door, beside the dashboard and the command line: what reaches people without
their opening anything — the weekly digest and the alerts, by e-mail and webhook.

It reads metrics through queries/ and writes only its own memory of what was sent
(`digest_log`, `alert_state`) and the audit log through data/.
"""
