"""A regulator's notice with a PDF attachment: its text is stored, searched and tagged."""

import json
import sqlite3
import zlib

from support.config import write_config
from support.servers import Page


def tiny_pdf(text: str) -> bytes:
    """A one-page PDF with a line of text in a standard font (enough for a text extractor)."""
    return pages_pdf([text])


def pdf(objs: list[bytes]) -> bytes:
    """A PDF of these objects (1 0 R its catalog), with its cross-reference table."""
    out, offsets = b"%PDF-1.4\n", []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)


def pages_pdf(texts: list[str], pad: int = 0) -> bytes:
    """A PDF of a page per text; with `pad`, each page's content stream Flate-compressed and that many spaces longer
    (a bomb: 80 MB inflates from 80 KB)."""
    kids = b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(len(texts)))
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(texts)),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for i, text in enumerate(texts):
        stream, flate = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode() + b" " * pad, b""
        if pad:
            stream, flate = zlib.compress(stream, 9), b" /Filter /FlateDecode"
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                    b"/Resources << /Font << /F1 3 0 R >> >> >>" % (5 + 2 * i))
        objs.append(b"<< /Length %d%s >>\nstream\n" % (len(stream), flate) + stream + b"\nendstream")
    return pdf(objs)


def test_pdf_attachment_text_is_stored_searched_and_tagged(tmp_path, site, rw):
    listing = {"data": {"rows": [{"docId": 7, "docTitle": "行政处罚信息公开表", "publishDate": "2025-12-22 15:41:00",
                                  "pdfFileUrl": "/docfile/7.pdf"}]}}
    site.pages["/list.json"] = Page(json.dumps(listing, ensure_ascii=False).encode(), ctype="application/json")
    detail = {"data": {"docClob": "<div><p>见附件。</p></div>"}}
    site.pages["/detail/7.json"] = Page(json.dumps(detail, ensure_ascii=False).encode(), ctype="application/json")
    site.pages["/docfile/7.pdf"] = Page(tiny_pdf("Administrative penalty: the bank was fined 500000 yuan by the regulator."),
                                        ctype="application/pdf")
    cfg = write_config(tmp_path, name="c.toml", sources=[{
        "name": "nfra-like", "kind": "json", "url": f"{site.url}/list.json", "items": "data.rows",
        "link": f"{site.url}/view?docId={{docId}}", "title": "docTitle", "date": "publishDate",
        "detail": f"{site.url}/detail/{{docId}}.json", "body": "data.docClob", "attachment": "pdfFileUrl"}])
    assert rw("run", "--once", "-c", cfg).returncode == 0
    row = json.loads(rw("export", "--format", "jsonl", "-c", cfg).stdout.splitlines()[0])
    assert row["topics"] == ["enforcement"]
    r = rw("search", "fined", "--json", "-c", cfg)
    assert "view?docId=7" in r.stdout
    url, text = sqlite3.connect(tmp_path / "rw.db").execute("SELECT attachment_url, attachment_text FROM articles").fetchone()
    assert url.endswith("/docfile/7.pdf") and "fined 500000 yuan" in text


def notices(tmp_path, site, attachments: dict[str, Page], crawl: dict | str = ""):
    """A json source of one notice per attachment (its `att` the attachment's path), each served with its page."""
    rows = [{"id": f"n{i}", "title": f"行政处罚信息公开表{i}", "att": path} for i, path in enumerate(attachments)]
    site.pages["/list.json"] = Page(json.dumps({"rows": rows}, ensure_ascii=False).encode(), ctype="application/json")
    for i, (path, page) in enumerate(attachments.items()):
        site.pages[f"/a/n{i}.html"] = Page(f"<html><body><h1>行政处罚信息公开表{i}</h1><p>见附件。</p></body></html>".encode())
        site.pages[path.split("#")[0]] = page
    return write_config(tmp_path, name="c.toml", crawl=crawl, sources=[{
        "name": "notices", "kind": "json", "url": f"{site.url}/list.json", "items": "rows",
        "link": f"{site.url}/a/{{id}}.html", "title": "title", "attachment": "att"}])


def attachments(tmp_path) -> dict[str, str | None]:
    rows = sqlite3.connect(tmp_path / "rw.db").execute("SELECT attachment_url, attachment_text FROM articles")
    return {url.split("/", 3)[3]: text for url, text in rows}


def source(rw, cfg) -> dict:
    return {r["source"]: r for r in map(json.loads, rw("sources", "--json", "-c", cfg).stdout.splitlines())}["notices"]


def test_an_attachment_is_fetched_whatever_its_path_and_read_when_it_is_a_pdf(tmp_path, site, rw):
    cfg = notices(tmp_path, site, {
        "/pdf/get?file=js": Page(tiny_pdf("fined by its type"), ctype="application/pdf"),
        "/pdf/JS.PDF#page=1": Page(tiny_pdf("fined by its name"), ctype="application/pdf"),
        "/download?id=3": Page(tiny_pdf("fined by its bytes"), ctype="application/octet-stream"),
        "/files/notice.doc": Page(b"<html><body>login first</body></html>")})
    assert rw("run", "--once", "-c", cfg).returncode == 0
    assert {p: (t or "").strip() for p, t in attachments(tmp_path).items()} == {
        "pdf/get?file=js": "fined by its type", "pdf/JS.PDF": "fined by its name",
        "download?id=3": "fined by its bytes", "files/notice.doc": ""}
    assert len(site.requests("/files/notice.doc")) == 1
    row = source(rw, cfg)
    assert row["errors"] == 0 and (f"its attachment {site.url}/files/notice.doc is not a PDF (Content-Type: "
                                   "text/html; charset=utf-8): not read") in row["last_message"], row


def test_pdf_text_left_out_is_said_a_long_pdf_in_a_note_an_unreadable_one_as_an_error(tmp_path, site, rw):
    cfg = notices(tmp_path, site, {
        "/long.pdf": Page(pages_pdf([f"page {i} fined" for i in range(1, 61)]), ctype="application/pdf")})
    rw("run", "--once", "-c", cfg)
    text = attachments(tmp_path)["long.pdf"]
    assert "page 50 fined" in text and "page 51" not in text
    row = source(rw, cfg)
    assert row["errors"] == 0 and "long.pdf: the text of its first 50 pages of 60 read" in row["last_message"], row

    (tmp_path / "next").mkdir()
    loop = pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"])
    cfg = notices(tmp_path / "next", site, {"/bomb.pdf": Page(pages_pdf(["x"], pad=80_000_000), ctype="application/pdf"),
                                            "/loop.pdf": Page(loop, ctype="application/pdf")})
    rw("run", "--once", "-c", cfg)
    assert attachments(tmp_path / "next") == {"bomb.pdf": None, "loop.pdf": None}     # the notices stored all the same
    row = source(rw, cfg)
    assert row["errors"] == 2, row
    assert f"its attachment {site.url}/bomb.pdf: the PDF cannot be read (LimitReachedError" in row["last_error"]
    assert f"its attachment {site.url}/loop.pdf: the PDF cannot be read (PdfReadError: Detected cyclic" in row["last_error"]


def slow_pdf(ops: int, pages: int) -> bytes:
    """A small PDF slow to read: one Flate stream of `ops` empty text operations, the content of each of its pages."""
    stream = zlib.compress(b"BT /F1 1 Tf 1 0 Td ET\n" * ops, 9)
    kids = b" ".join(b"%d 0 R" % (4 + i) for i in range(pages))
    return pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
                b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream"]
               + [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R /Resources << /Font << "
                  b"/F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>"] * pages)


def slow_notices(tmp_path, site, rw):
    """After a baseline of one notice (so that the next is a new one, to alert), a notice whose attachment is slow to
    read (~15 s of pypdf here for 30 KB), cut off at 3 s (the page's own extraction, under the same limit, is quick)."""
    old = {"/old.pdf": Page(tiny_pdf("an older notice"), ctype="application/pdf")}
    assert rw("run", "--once", "-c", notices(tmp_path, site, old, crawl={"extract_timeout": "3s"})).returncode == 0
    return notices(tmp_path, site, {**old, "/slow.pdf": Page(slow_pdf(300_000, 20), ctype="application/pdf")},
                   crawl={"extract_timeout": "3s"})


def test_an_attachment_slower_than_the_time_limit_is_tried_again_next_run_then_stored_without(tmp_path, site, rw):
    cfg = slow_notices(tmp_path, site, rw)
    assert rw("run", "--once", "-c", cfg).returncode == 0
    row = source(rw, cfg)
    assert "slow.pdf" not in attachments(tmp_path), (row["last_error"], row["last_message"])   # not stored: fetched again
    assert row["errors"] == 0 and row["state"] == "ok", row
    assert (f"{site.url}/a/n1.html: its attachment took longer than 3 s (the limit: extract_timeout); "
            "tried again next run") in row["last_message"], row
    why = rw("why", f"{site.url}/a/n1.html", "-c", cfg).stderr
    assert "its attachment took longer than 3 s (the limit: extract_timeout) once" in why, why

    assert rw("run", "--once", "-c", cfg).returncode == 0       # slow again: stored without it
    row = source(rw, cfg)
    assert attachments(tmp_path)["slow.pdf"] is None, (row["last_error"], row["last_message"])
    assert row["errors"] == 0 and row["state"] == "ok", row
    assert (f"its attachment {site.url}/slow.pdf: reading it took longer than 3 s (the limit: extract_timeout); "
            "stored without it") in row["last_message"], row
    assert sqlite3.connect(tmp_path / "rw.db").execute("SELECT state FROM source_urls").fetchall() == []


def test_an_attachment_too_slow_once_is_read_when_quick_on_the_next_run(tmp_path, site, rw):
    cfg = slow_notices(tmp_path, site, rw)
    assert rw("run", "--once", "-c", cfg).returncode == 0
    assert "slow.pdf" not in attachments(tmp_path)
    site.pages["/slow.pdf"] = Page(tiny_pdf("Administrative penalty: the bank was fined 500000 yuan by the regulator."),
                                   ctype="application/pdf")
    assert rw("run", "--once", "-c", cfg).returncode == 0
    row = source(rw, cfg)
    assert "fined 500000 yuan" in (attachments(tmp_path)["slow.pdf"] or ""), (row["last_error"], row["last_message"])
    assert row["errors"] == 0 and row["state"] == "ok", row
    exported = map(json.loads, rw("export", "--format", "jsonl", "-c", cfg).stdout.splitlines())
    topics = {x["url"]: x["topics"] for x in exported}
    assert topics[f"{site.url}/a/n1.html"] == ["enforcement"], topics
    assert sqlite3.connect(tmp_path / "rw.db").execute("SELECT state FROM source_urls").fetchall() == []


def test_a_page_served_as_a_pdf_that_is_not_one_is_a_note(tmp_path, site, rw):
    cfg = notices(tmp_path, site, {"/get?file=9": Page(b"<html><body>please log in</body></html>",
                                                       ctype="application/pdf")})
    assert rw("run", "--once", "-c", cfg).returncode == 0
    assert attachments(tmp_path) == {"get?file=9": None}
    row = source(rw, cfg)
    assert row["errors"] == 0 and row["state"] == "ok", row
    assert (f"its attachment {site.url}/get?file=9 is not a PDF (Content-Type: application/pdf, but no %PDF- "
            "header): not read") in row["last_message"], row


def test_a_first_attachment_timeout_is_no_error_of_another_source_sharing_the_fetch(tmp_path, site, rw):
    """Two sources name the same notices; the one that fetches the notice leaves it for next run (its attachment's
    first timeout): the other, which rode on that fetch, gets the same note, not "failed (fetched once in this crawl,
    for …)" as an error of its run."""
    def both(files):
        one = notices(tmp_path, site, files, crawl={"extract_timeout": "3s"})
        text = one.read_text(encoding="utf-8")
        mirror = text[text.index("[[sources]]"):].replace('name = "notices"', 'name = "mirror"')
        one.write_text(text + "\n" + mirror, encoding="utf-8")
        return one
    old = {"/old.pdf": Page(tiny_pdf("an older notice"), ctype="application/pdf")}
    assert rw("run", "--once", "-c", both(old)).returncode == 0
    cfg = both({**old, "/slow.pdf": Page(slow_pdf(300_000, 20), ctype="application/pdf")})
    r = rw("run", "--once", "-c", cfg)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    rows = {x["source"]: x for x in map(json.loads, rw("sources", "--json", "-c", cfg).stdout.splitlines())}
    assert "slow.pdf" not in attachments(tmp_path)
    for name in ("notices", "mirror"):
        assert rows[name]["errors"] == 0 and rows[name]["state"] == "ok", rows
        assert "tried again next run" in rows[name]["last_message"], rows


def test_an_attachment_whose_worker_dies_twice_is_a_note_the_article_is_stored_without_it():
    """The OOM killer takes the extraction worker reading an attachment, and the new one it is tried again on: the
    attachment costs only its text (a note), as one too slow a second time does, not the whole article."""
    import asyncio
    import os
    import signal

    from regwatch.crawler.run import Extractor

    async def main():
        ex = Extractor(workers=1, timeout=120)
        try:
            job = asyncio.ensure_future(ex.read_attachment(slow_pdf(300_000, 20)))
            for _ in range(2):            # killed mid-read, then again on the worker it is tried again on
                for _ in range(200):
                    await asyncio.sleep(0.05)
                    if ex._pool is not None and ex._pool._processes and ex._in_flight:
                        break
                await asyncio.sleep(0.5)
                (worker,) = ex._pool._processes.values()
                os.kill(worker.pid, signal.SIGKILL)
                while not job.done() and ex._pool is not None and worker.pid in ex._pool._processes:
                    await asyncio.sleep(0.05)
            got = await job
            later = await ex.read_attachment(tiny_pdf("fined 500000 yuan"))     # the next attachment still read
            return got, later
        finally:
            ex.close()

    got, later = asyncio.run(main())
    assert not got.get("lost") and not got.get("error") and got["text"] == "", got
    assert got["note"] == ("its worker died reading it, twice (out of memory? the limit: extract_memory); "
                           "stored without it"), got
    assert "fined 500000 yuan" in later["text"], later


def test_a_first_attachment_timeout_is_forgotten_when_another_source_stores_the_article(tmp_path, site, rw):
    """The source whose fetch of a notice timed out on its attachment keeps a `slow` row; on the next run another
    source naming the same notice fetches it quickly and stores it (this source rides on that fetch, or does not
    run): the row goes with the article's storing, not left for good (`regwatch why` said "took longer … once")."""
    cfg = slow_notices(tmp_path, site, rw)
    assert rw("run", "--once", "-c", cfg).returncode == 0
    db = tmp_path / "rw.db"
    assert sqlite3.connect(db).execute("SELECT source, state FROM source_urls").fetchall() == [("notices", "slow")]
    site.pages["/slow.pdf"] = Page(tiny_pdf("Administrative penalty: fined 500000 yuan."), ctype="application/pdf")
    text = cfg.read_text(encoding="utf-8")
    mirror = tmp_path / "mirror.toml"        # the other source's run fetches it first (the notices source rides)
    mirror.write_text(text.replace('name = "notices"', 'name = "mirror"'), encoding="utf-8")
    assert rw("run", "--once", "-c", mirror).returncode == 0
    assert "fined 500000 yuan" in (attachments(tmp_path)["slow.pdf"] or "")
    assert sqlite3.connect(db).execute("SELECT source, state FROM source_urls").fetchall() == []
    why = rw("why", f"{site.url}/a/n1.html", "-c", cfg).stderr
    assert "once" not in why, why


def test_a_first_attachment_timeout_is_forgotten_when_a_source_without_attachments_stores_the_article(tmp_path, site,
                                                                                                       rw):
    """The other source naming the notice reads no attachment (no `attachment` setting): its storing of the article
    forgets the first source's `slow` row all the same (it stayed, and `regwatch why` said "took longer … once")."""
    cfg = slow_notices(tmp_path, site, rw)
    assert rw("run", "--once", "-c", cfg).returncode == 0
    db = tmp_path / "rw.db"
    assert sqlite3.connect(db).execute("SELECT source, state FROM source_urls").fetchall() == [("notices", "slow")]
    text = cfg.read_text(encoding="utf-8")
    assert 'attachment = "att"\n' in text
    mirror = tmp_path / "mirror.toml"
    mirror.write_text(text.replace('name = "notices"', 'name = "mirror"').replace('attachment = "att"\n', ""),
                      encoding="utf-8")
    assert rw("run", "--once", "-c", mirror).returncode == 0
    stored = sqlite3.connect(db).execute("SELECT source, attachment_url FROM articles WHERE url LIKE '%/a/n1.html'")
    assert stored.fetchall() == [("mirror", None)]
    assert sqlite3.connect(db).execute("SELECT source, state FROM source_urls").fetchall() == []
    why = rw("why", f"{site.url}/a/n1.html", "-c", cfg).stderr
    assert "once" not in why, why
