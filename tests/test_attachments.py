"""A regulator's notice with a PDF attachment: its text is stored, searched and tagged."""

import json

from support.config import write_config
from support.servers import Page


def tiny_pdf(text: str) -> bytes:
    """A one-page PDF with a line of text in a standard font (enough for a text extractor)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = b"%PDF-1.4\n", []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)


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
    import sqlite3
    url, text = sqlite3.connect(tmp_path / "rw.db").execute("SELECT attachment_url, attachment_text FROM articles").fetchone()
    assert url.endswith("/docfile/7.pdf") and "fined 500000 yuan" in text
