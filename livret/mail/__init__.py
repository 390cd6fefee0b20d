"""`livret mail`: send the booklet and the theme excerpts to a list of people.

Stages, one module each, in the order a run goes through them:

- `recipients` — read and check the CSV list (every problem at once, nothing sent if any);
- `settings`   — SMTP settings from `mail.yaml`, each overridable by a flag of the same name;
- `attachments`— which PDFs a recipient gets, from `output/manifest.json`, and the campaign id;
- `compose`    — one `EmailMessage` per recipient from the templates in `layouts/mail/`;
- `journal`    — the SQLite send journal that makes a re-run resume instead of resending;
- `send`       — one SMTP connection, retries with backoff, rate limit, outcome of each message;
- `cli`        — the `mail` subcommand that ties them together (dry run unless `--send`).

The user guide is docs/mail.md.
"""
