"""End to end with the real build (livret.building.pipeline + WeasyPrint): the mail command builds
what the list needs, then sends it to a real SMTP server."""

import hashlib
import json

from conftest import seed_build_cache
from conftest_mail import CONTENT


def test_real_build_dry_run_then_send(tmp_path, monkeypatch, smtp_server, built):
    from livret.mail.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LIVRET_SMTP_PASSWORD", raising=False)
    import yaml

    theme = yaml.safe_load((CONTENT / "edition.yaml").read_text("utf-8"))["themes"][-1]
    output = tmp_path / "output"
    seed_build_cache(output, built[0])  # the excerpt is what is mailed, not how it is laid out
    csv = tmp_path / "list.csv"
    csv.write_text(
        f"email;name;organisation;send\nana@example.org;Anaïs;Mairie;{theme}\n"
        f"bob@example.org;Bob;;{theme}\n",
        encoding="utf-8",
    )
    common = [
        "--content",
        str(CONTENT),
        "--output",
        str(output),
        "--recipients",
        str(csv),
        "--journal",
        str(tmp_path / "journal.sqlite"),
    ]

    assert main(common) == 0  # dry run, real build (default build function)
    manifest = json.loads((output / "manifest.json").read_text("utf-8"))
    (entry,) = [e for e in manifest["outputs"] if e["theme"] == theme and e["kind"] == "theme"]
    assert not any(e["kind"] == "booklet" for e in manifest["outputs"])  # only what is needed
    pdf = (output / entry["path"]).read_bytes()
    assert hashlib.sha256(pdf).hexdigest() == entry["sha256"]
    assert len(list((output / "mail").glob("*.eml"))) == 2
    built_at = (output / entry["path"]).stat().st_mtime_ns

    server = smtp_server()
    code = main(
        [
            *common,
            "--send",
            "--yes",
            "--host",
            server.host,
            "--port",
            str(server.port),
            "--security",
            "none",
        ]
    )
    assert code == 0
    assert (output / entry["path"]).stat().st_mtime_ns == built_at  # up to date: not rebuilt
    assert [r.rcpt_tos for r in server.handler.received] == [
        ["ana@example.org"],
        ["bob@example.org"],
    ]
    for received in server.handler.received:
        (attachment,) = received.message.iter_attachments()
        assert attachment.get_content() == pdf
        assert attachment.get_filename() == f"{entry['title']}.pdf"
