// A small Markdown renderer that builds DOM nodes directly (never innerHTML), so user text can
// never become markup: headings, paragraphs, lists, block quotes, fenced code, rules, and inline
// code, bold, italic and http(s)/mailto links. Raw HTML in the source shows as text.

import { h } from "../dom";

const HEADINGS = ["h1", "h2", "h3", "h4", "h5", "h6"] as const;

export function renderMarkdown(src: string): DocumentFragment {
  const frag = document.createDocumentFragment();
  const lines = src.replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i++;
      continue;
    }
    const fence = /^\s*(```|~~~)(.*)$/.exec(line);
    if (fence) {
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i++;
      const code = h("code", {}, body.join("\n"));
      const lang = fence[2].trim();
      if (lang) code.dataset.lang = lang;
      frag.append(h("pre", {}, code));
      continue;
    }
    const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const level = Math.min(heading[1].length, 6);
      frag.append(h(HEADINGS[level - 1], {}, inline(heading[2])));
      i++;
      continue;
    }
    if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      frag.append(h("hr"));
      i++;
      continue;
    }
    if (/^\s*>/.test(line)) {
      const body: string[] = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) body.push(lines[i++].replace(/^\s*>\s?/, ""));
      const q = h("blockquote");
      q.append(renderMarkdown(body.join("\n")));
      frag.append(q);
      continue;
    }
    const bullet = /^\s*([-*+]|\d+[.)])\s+/;
    if (bullet.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const list = h(ordered ? "ol" : "ul");
      while (i < lines.length && bullet.test(lines[i])) {
        let text = lines[i++].replace(bullet, "");
        // continuation lines (indented, not a new item)
        while (i < lines.length && lines[i].trim() && /^\s{2,}/.test(lines[i]) && !bullet.test(lines[i])) text += " " + lines[i++].trim();
        const li = h("li");
        li.append(inline(text));
        list.append(li);
      }
      frag.append(list);
      continue;
    }
    if (/^ {4}|\t/.test(line)) {
      const body: string[] = [];
      while (i < lines.length && (/^ {4}|\t/.test(lines[i]) || !lines[i].trim())) body.push(lines[i++].replace(/^ {4}|\t/, ""));
      while (body.length && !body[body.length - 1].trim()) body.pop();
      frag.append(h("pre", {}, h("code", {}, body.join("\n"))));
      continue;
    }
    const para: string[] = [];
    while (
      i < lines.length &&
      lines[i].trim() &&
      !/^(#{1,6})\s/.test(lines[i]) &&
      !/^\s*(```|~~~)/.test(lines[i]) &&
      !/^\s*>/.test(lines[i]) &&
      !bullet.test(lines[i])
    ) {
      para.push(lines[i++].trim());
    }
    const p = h("p");
    p.append(inline(para.join("\n")));
    frag.append(p);
  }
  return frag;
}

const SAFE_URL = /^(https?:|mailto:|\/|#)/i;

/** Inline spans: `code`, **bold**, *italic* / _italic_, [text](url), hard line breaks. */
export function inline(text: string): DocumentFragment {
  const frag = document.createDocumentFragment();
  const re = /\$\$([^$]+)\$\$|(`+)([\s\S]*?)\2|\*\*([\s\S]+?)\*\*|__([\s\S]+?)__|\*([^*\s][\s\S]*?)\*|\b_([^_\s][\s\S]*?)_\b|\[([^\]]+)\]\(([^)\s]+)\)|\$([^$\n]+)\$/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    if (m.index > last) plain(frag, text.slice(last, m.index));
    if (m[1] !== undefined) frag.append(h("code", { class: "math" }, m[1]));
    else if (m[2] !== undefined) frag.append(h("code", {}, m[3]));
    else if (m[4] !== undefined || m[5] !== undefined) {
      const b = h("strong");
      b.append(inline(m[4] ?? m[5]));
      frag.append(b);
    } else if (m[6] !== undefined || m[7] !== undefined) {
      const e = h("em");
      e.append(inline(m[6] ?? m[7]));
      frag.append(e);
    } else if (m[8] !== undefined) {
      const url = m[9];
      if (SAFE_URL.test(url)) {
        const a = h("a", { href: url, rel: "noopener noreferrer", target: url.startsWith("/") || url.startsWith("#") ? null : "_blank" });
        a.append(inline(m[8]));
        frag.append(a);
      } else {
        plain(frag, m[0]);
      }
    } else if (m[10] !== undefined) {
      frag.append(h("code", { class: "math" }, m[10]));
    }
    last = re.lastIndex;
  }
  if (last < text.length) plain(frag, text.slice(last));
  return frag;
}

function plain(frag: DocumentFragment, text: string): void {
  const parts = text.split(/ {2,}\n|\\\n/);
  parts.forEach((part, idx) => {
    if (idx > 0) frag.append(h("br"));
    frag.append(document.createTextNode(part));
  });
}
