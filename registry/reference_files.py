"""Reading reference data files: `# key: value` comment lines, then a CSV table (or XLSX)."""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from registry.errors import BadRequest

MAX_ROWS = 100_000


@dataclass
class Table:
    meta: dict[str, str]
    header: list[str]
    rows: list[tuple[int, dict[str, str]]]  # (line number in the file, values by column)
    checksum: str
    errors: list[dict[str, object]] = field(default_factory=list)

    def meta_date(self, key: str) -> date | None:
        value = self.meta.get(key)
        if not value:
            return None
        try:
            return date.fromisoformat(value[:10])
        except ValueError as exc:
            raise BadRequest(f"文件头 {key} 不是有效日期:{value}", code="invalid_file") from exc


def read_table(data: bytes, filename: str, aliases: dict[str, str]) -> Table:
    """Parse CSV (UTF-8, with or without BOM; GB18030 accepted) or XLSX into normalized rows.

    `aliases` maps accepted header names (e.g. Chinese ones) to canonical column names.
    """
    checksum = hashlib.sha256(data).hexdigest()
    suffix = Path(filename).suffix.lower()
    if suffix == ".xlsx":
        lines = _xlsx_lines(data)
    elif suffix in (".csv", ".txt", ""):
        lines = _csv_lines(data)
    else:
        raise BadRequest("只支持 CSV 或 XLSX 文件", code="unsupported_file_type")
    meta: dict[str, str] = {}
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    for line_no, cells in lines:
        first = cells[0].strip() if cells else ""
        if header is None:
            if not any(c.strip() for c in cells):
                continue
            if first.startswith("#"):
                key, sep, value = ",".join(cells).lstrip("#").partition(":")
                if sep:
                    meta.setdefault(key.strip().lower(), value.strip())
                continue
            header = [aliases.get(c.strip().lower(), c.strip().lower()) for c in cells]
            continue
        if not any(c.strip() for c in cells) or first.startswith("#"):
            continue
        values = {
            name: (cells[i].strip() if i < len(cells) else "")
            for i, name in enumerate(header)
            if name
        }
        rows.append((line_no, values))
        if len(rows) > MAX_ROWS:
            raise BadRequest(f"文件行数超过上限 {MAX_ROWS}", code="file_too_large")
    if header is None:
        raise BadRequest("文件没有表头行", code="invalid_file")
    return Table(meta=meta, header=header, rows=rows, checksum=checksum)


def _csv_lines(data: bytes) -> list[tuple[int, list[str]]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise BadRequest("文件编码无法识别,请使用 UTF-8", code="invalid_encoding")
    reader = csv.reader(io.StringIO(text, newline=""))
    return [(reader.line_num, row) for row in reader]


def _xlsx_lines(data: bytes) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a corrupt file
        raise BadRequest("无法读取 XLSX 文件,文件可能已损坏", code="invalid_file") from exc
    sheet = workbook.worksheets[0]
    lines = []
    for index, row in enumerate(sheet.iter_rows(values_only=True), start=1):
        lines.append((index, ["" if v is None else str(v) for v in row]))
    workbook.close()
    return lines
