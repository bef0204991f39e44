"""The report as markdown and HTML: text, tables (also written as CSV) and figures, in the order added."""
import csv
import html
import os
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


class Report:
    SPLIT_COLUMNS = 8  # a wider table is shown as several, each repeating the first column

    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.parts = []  # ("md", text) | ("figure", path, caption)
        os.makedirs(os.path.join(out_dir, "figures"), exist_ok=True)
        os.makedirs(os.path.join(out_dir, "tables"), exist_ok=True)

    def add(self, markdown):
        self.parts.append(("md", markdown))

    def placeholder(self):
        """A place to fill later (the verdicts, known only once every section has computed)."""
        self.parts.append(("md", ""))
        return len(self.parts) - 1

    def fill(self, index, markdown):
        self.parts[index] = ("md", markdown)

    def table(self, name, header, rows, link=True, inline=True):
        """Writes tables/<name>.csv; shows the table too unless `inline` is false (long detail tables)."""
        with open(os.path.join(self.out_dir, "tables", f"{name}.csv"), "w", newline="") as handle:
            csv.writer(handle).writerows([header] + rows)
        if not inline:
            self.add(f"(The {len(rows)} rows: `tables/{name}.csv`.)\n")
            return
        width = self.SPLIT_COLUMNS
        for start in range(1, max(len(header), 2), width):
            columns = [0] + list(range(start, min(start + width, len(header))))
            lines = ["| " + " | ".join(header[c] for c in columns) + " |", "|" + "---|" * len(columns)]
            lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows]
            self.add("\n".join(lines) + "\n")
        if link:
            self.add(f"(As CSV: `tables/{name}.csv`.)\n")

    def figure(self, figure, name, caption, dpi=110):
        path = os.path.join("figures", f"{name}.png")
        figure.savefig(os.path.join(self.out_dir, path), dpi=dpi, bbox_inches="tight")
        plt.close(figure)
        self.parts.append(("figure", path, caption))

    def write(self):
        markdown, body = [], []
        for part in self.parts:
            if part[0] == "md":
                markdown.append(part[1])
                body.append(markdown_to_html(part[1]))
            else:
                markdown.append(f"![{part[2]}]({part[1]})\n")
                body.append(f'<figure><img src="{part[1]}" alt="{html.escape(part[2])}">'
                            f"<figcaption>{html.escape(part[2])}</figcaption></figure>")
        with open(os.path.join(self.out_dir, "report.md"), "w") as handle:
            handle.write("\n".join(markdown))
        style = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;line-height:1.45}"
                 ".wide{overflow-x:auto;max-width:100%}"
                 "table{border-collapse:collapse;margin:1em 0;font-size:90%}"
                 "td,th{border:1px solid #bbb;padding:3px 8px;text-align:right;white-space:nowrap}"
                 "td.long{white-space:normal;text-align:left;min-width:30em}"
                 "td:first-child,th:first-child{text-align:left;position:sticky;left:0;background:#fff}"
                 ".verdicts{background:#f4f7fb;border:1px solid #c8d4e6;padding:0.5em 1.2em}"
                 "img{max-width:100%;height:auto}figcaption{color:#555}")
        with open(os.path.join(self.out_dir, "report.html"), "w") as handle:
            handle.write(f"<!doctype html><html><head><meta charset='utf-8'><title>robustscope report</title>"
                         f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def markdown_to_html(markdown):
    """The small subset report.md uses: headings, tables, bullet lists, paragraphs, `code`, **bold**; a
    "<!-- verdicts -->" first line boxes the part."""
    def inline(line):
        line = html.escape(line)
        line = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", line)
        return re.sub(r"`(.+?)`", r"<code>\1</code>", line)

    def cell(text):
        return f"<td class='long'>{inline(text)}</td>" if len(text) > 60 else f"<td>{inline(text)}</td>"
    boxed = markdown.startswith("<!-- verdicts -->")
    if boxed:
        markdown = markdown[len("<!-- verdicts -->"):]
    out, lines, i = [], markdown.strip("\n").split("\n"), 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{inline(line[level:].strip())}</h{level}>")
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                if not re.match(r"^\|(-+\|)+$", lines[i]):
                    rows.append([c.strip() for c in lines[i].strip("|").split("|")])
                i += 1
            i -= 1
            out.append("<div class='wide'><table><tr>" + "".join(f"<th>{inline(c)}</th>" for c in rows[0]) +
                       "</tr>" + "".join("<tr>" + "".join(cell(c) for c in row) + "</tr>" for row in rows[1:]) +
                       "</table></div>")
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{inline(lines[i][2:])}</li>")
                i += 1
            i -= 1
            out.append("<ul>" + "".join(items) + "</ul>")
        elif line.strip():
            out.append(f"<p>{inline(line)}</p>")
        i += 1
    text = "\n".join(out)
    return f"<div class='verdicts'>{text}</div>" if boxed else text
