"""The corpus of awkward CSV files in ``tests/data/bad/`` (expected outcomes: ``bad/expected.json``).

Small files are committed (``python tests/data/make_corpus.py`` rewrites them from the definitions here);
large ones (> 1 MB) are generated at test time by :func:`write_large` into a temporary folder.
"""

from __future__ import annotations

import gzip
import io
import random
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
BAD_DIR = HERE / "bad"
MIB = 1024 * 1024


def _xlsx() -> bytes:
    buf = io.BytesIO()
    parts = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types/>',
        "xl/workbook.xml": '<?xml version="1.0"?><workbook><sheets/></workbook>',
        "xl/worksheets/sheet1.xml": '<?xml version="1.0"?><worksheet/>',
    }
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in parts.items():  # fixed timestamps: the same bytes on every run
            z.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), text)
    return buf.getvalue()


def _ragged(extra_at: int, fields: int) -> bytes:
    rows = ["id,name,amount"]
    for i in range(1, 21):
        rows.append(
            ",".join([str(i), f"name{i}", str(i * 10)] + ["x"] * (fields - 3))
            if i == extra_at
            else f"{i},name{i},{i * 10}"
        )
    return ("\n".join(rows) + "\n").encode()


def _binary() -> bytes:
    rng = random.Random(7)
    return bytes([0x89]) + b"PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(rng.randrange(256) for _ in range(2000))


def _wide(columns: int, rows: int) -> bytes:
    header = ",".join(f"col_{i}" for i in range(columns))
    body = "\n".join(",".join(str((r * 7 + c) % 97) for c in range(columns)) for r in range(rows))
    return (header + "\n" + body + "\n").encode()


SMALL: dict[str, Callable[[], bytes]] = {
    "empty.csv": lambda: b"",
    "header_only.csv": lambda: b"id,name,amount\n",
    "one_column.csv": lambda: b"name\nalice\nbob\ncarol\n",
    "one_column_with_commas.csv": lambda: b"full_name\nSmith, John\nDoe, Jane\n",
    "ragged_long_row.csv": lambda: _ragged(17, 5),
    "ragged_short_row.csv": lambda: b"id,name,amount\n1,a,10\n2,b\n3,c,30\n",
    "quoted_fields.csv": lambda: (
        b"id,text,amount\n"
        b'1,"comma, inside",10\n'
        b'2,"a ""quoted"" word",20\n'
        b'3,"line one\nline two\r\nline three",30\n'
        b'4,"",40\n'
    ),
    "unterminated_quote.csv": lambda: b'id,text\n1,ok\n2,"never closed\n3,more\n',
    "bom_utf8.csv": lambda: "\ufeffid,caf\u00e9\n1,cr\u00e8me\n2,br\u00fbl\u00e9e\n".encode("utf-8"),
    "utf16_bom.csv": lambda: "id,city\n1,K\u00f8benhavn\n2,\u6771\u4eac\n".encode("utf-16"),
    "utf16_no_bom.csv": lambda: "id,city\n1,Paris\n2,Z\u00fcrich\n".encode("utf-16-le"),
    "utf32_bom.csv": lambda: "id,city\n1,Paris\n".encode("utf-32"),
    "latin1.csv": lambda: "id,city\n1,S\u00e3o Paulo\n2,M\u00fcnchen\n3,Z\u00fcrich\n".encode("latin-1"),
    "latin1_c1_bytes.csv": lambda: b"id,text\n1,caf\xe9\n2,odd\x81byte\n",
    "bad_utf8_after_bom.csv": lambda: b"\xef\xbb\xbfid,name\n1,\xff\xfe\xfa\n",
    "bad_utf16_after_bom.csv": lambda: b"\xff\xfe" + "id,x\n1,".encode("utf-16-le") + b"\x00\xd8\x41\x00",
    "mixed_line_endings.csv": lambda: b"id,v\r\n1,a\n2,b\r3,c\r\n",
    "crlf_with_lf_inside_quotes.csv": lambda: b'id,note\r\n1,"first\nsecond"\r\n2,plain\r\n',
    "cr_only.csv": lambda: b"id,v\r1,a\r2,b\r",
    "no_trailing_newline.csv": lambda: b"id,v\n1,a\n2,b",
    "blank_lines.csv": lambda: b"id,v\n\n1,a\n\n\n2,b\n\n",
    "only_blank_lines.csv": lambda: b"\n\n\r\n\n",
    "binary_named.csv": _binary,
    "gzip_named.csv": lambda: gzip.compress(b"id,v\n1,a\n2,b\n", mtime=0),
    "xlsx_renamed.csv": _xlsx,
    "xls_ole2_renamed.csv": lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504,
    "pdf_named.csv": lambda: b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
    "control_chars.csv": lambda: bytes(range(1, 9)) * 40 + b"\n",
    "duplicate_and_empty_names.csv": lambda: b"id,name,name,,\n1,a,b,c,d\n2,e,f,g,h\n",
    "sql_names.csv": lambda: b'"""); DROP TABLE x;--",name\n1,a\n2,b\n',
    "html_names.csv": lambda: b'"<script>alert(1)</script>","<b>bold</b>"\n1,<i>x</i>\n',
    "long_column_name.csv": lambda: ("id," + "n" * 10_240 + "\n1,a\n2,b\n").encode("ascii"),
    "formulas.csv": lambda: (
        b'id,link,calc\n1,"=HYPERLINK(""http://example.com/x"",""click"")",=1+1\n2,+cmd|\' /C calc\'!A0,@SUM(A1:A2)\n'
        b"3,-2+3,=A1\n"
    ),
    "semicolon_decimal_comma.csv": lambda: b"name;price;qty\napple;1,50;3\npear;0,99;12\n",
    "tab_delimited.csv": lambda: b"id\tname\tnote\n1\talice\tsays, hi\n2\tbob\tx;y\n",
    "pipe_delimited.csv": lambda: b"id|name\n1|alice\n2|bob\n",
    "no_header_numbers.csv": lambda: b"1,2.5,3\n4,5.5,6\n7,8.5,9\n",
    "stray_quote_in_field.csv": lambda: b'id,screen\n1,5" tv\n2,17" monitor\n',
    "duplicate_rows.csv": lambda: b"id,v\n1,a\n2,b\n1,a\n1,a\n",
    "types.csv": lambda: (
        b"i,f,b,d,dt,s,e\n"
        b"1,1.5,true,2024-01-31,2024-01-31T10:00:00,x,\n"
        b",2.25,False,2023-12-01,2024-02-01 11:30:00,y,\n"
        b"-3,-0.5,TRUE,2024-06-15,2023-01-01T00:00:00,1,\n"
    ),
    "wide_10000_columns.csv": lambda: _wide(10_000, 5),
}


def _fill_to(size: int) -> bytes:
    """A two-column CSV of exactly ``size`` bytes (rows of ~100 bytes, the last one sized to fit)."""
    parts = [b"id,payload\n"]
    total, i = len(parts[0]), 0
    while size - total > 300:
        i += 1
        row = f"{i},".encode() + b"x" * 90 + b"\n"
        parts.append(row)
        total += len(row)
    prefix = f"{i + 1},".encode()
    parts.append(prefix + b"x" * (size - total - len(prefix) - 1) + b"\n")
    return b"".join(parts)


LARGE: dict[str, Callable[[], bytes]] = {
    "single_5mb_line.csv": lambda: b"id,payload\n1," + b"y" * (5 * 1000 * 1000) + b"\n",
    "exactly_10mib.csv": lambda: _fill_to(10 * MIB),
    "10mib_plus_1.csv": lambda: _fill_to(10 * MIB + 1),
}


def write_small(dest: Path = BAD_DIR) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in SMALL.items():
        path = dest / name
        path.write_bytes(make())
        paths.append(path)
    return paths


def write_large(dest: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in LARGE.items():
        path = dest / name
        path.write_bytes(make())
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in write_small(Path(sys.argv[1]) if len(sys.argv) > 1 else BAD_DIR):
        print(p.stat().st_size, p)
