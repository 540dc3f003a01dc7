"""Sample upload files shared by the document tests and the web tests: a news page, hand-written PDFs."""
from __future__ import annotations

import io

NEWS_HTML = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>云岭县茶产业发展迅速 - 某某新闻网</title>
<script>var tracker = "do not keep me";</script><style>body { color: red }</style></head>
<body><nav><a href="/">首页</a> | <a href="/news">新闻</a> | <a href="/about">关于我们</a></nav>
<article><h1>云岭县茶产业发展迅速</h1>
<p>今年以来，云岭县新建茶园3.2万亩，全县茶园总面积达到15万亩，带动2万余户农户增收。</p>
<p>县农业局局长李四介绍，全县共建成标准化茶叶加工厂45家，年产干茶1.8万吨，产值突破20亿元。</p>
<h2>龙头企业带动</h2>
<p>该县引进龙头企业12家，采取“公司+合作社+农户”模式，让农户分享产业链增值收益。</p>
</article>
<footer>版权所有 某某新闻网 | 京ICP备12345678号 | 联系我们</footer></body></html>"""


def pdf_with_text(lines: list[str], title: str = "") -> bytes:
    """A one-page PDF with a real text layer (Helvetica, ASCII), written by hand."""
    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    ops = "BT /F1 11 Tf 14 TL 72 720 Td " + " ".join(f"({esc(ln)}) Tj T*" for ln in lines) + " ET"
    stream = ops.encode("latin-1")
    info = f"<< /Title ({esc(title)}) >>" if title else "<< >>"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        None,  # the content stream
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        info,
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        if body is None:
            out.write(f"{i} 0 obj\n<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream\nendobj\n")
        else:
            out.write(f"{i} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def blank_pdf(password: str = "") -> bytes:
    """A PDF whose page has no text at all (what a scan without OCR looks like to a reader)."""
    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(612, 792)
    if password:
        w.encrypt(password, algorithm="RC4-128")
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()
