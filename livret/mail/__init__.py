"""`livret mail`: send the booklet and the theme excerpts to a list of people.

Stages, one module each, in the order a run goes through them:

- `recipients` — read and check the CSV list (every problem at once, nothing sent if any);
- `settings`   — SMTP settings from `mail.yaml`, each overridable by a flag of the same name;
- `attachments`— which PDFs a recipient gets (of the edition being mailed), from
                `output/manifest.json`, and the campaign id;
- `suppress`   — who must not be mailed: unsubscribe tokens and headers, delivery reports
                (RFC 3464) and unsubscribe mails read from a maildir or an mbox;
- `compose`    — one `EmailMessage` per recipient from the templates in `layouts/mail/`;
- `journal`    — the SQLite send journal that makes a re-run resume instead of resending;
- `send`       — one SMTP connection, retries with backoff, rate limit, outcome of each message;
- `cli`        — the `mail` subcommand that ties them together (dry run unless `--send`);
- `lists`      — `mail suppress|unsubscribe|bounces|unsubscribes|forget|purge`: the list kept
                clean and the journal within the RGPD.

The user guide is docs/mail.md.
"""
